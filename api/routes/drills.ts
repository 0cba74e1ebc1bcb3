/**
 * Drills: POST /v1/drills/:name/runs starts a configured drill now (`mend/drill/<name>/<run>`,
 * requested by the token's name), GET /v1/drills/:name/runs/:run reads its status and result.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { describeDrillRun, startDrill } from '../../client/drills';
import { DrillParamsSchema, DrillRunParamsSchema, DrillRunSchema, NoBodySchema, StartedDrillSchema } from '../../core/api';
import { selectDrill } from '../../core/config';
import { drillScheduleId } from '../../core/constants';
import { ValidationError } from '../../core/errors';
import type { Config, Drill } from '../../core/schemas';
import { errorResponses, HttpError } from '../errors';
import { principalOf, requireScope, takeStarts } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

/** A configured drill by name; 404 in the words `mend drill` uses straight to Temporal. Only names from the config reach Temporal. */
function drillOf(config: Config, name: string): Drill {
  try {
    return selectDrill(config, name);
  } catch (err) {
    if (err instanceof ValidationError) throw new HttpError(404, err.message);
    throw err;
  }
}

export const drillRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config, startLimiter } = deps;

  app.post(
    '/drills/:name/runs',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['drills'],
        summary: "run a configured drill now: break its component on purpose and time mend's recovery of it",
        description: 'A token scoped to components may run a drill of those components only, and none whose fault is a command.',
        security,
        params: DrillParamsSchema,
        body: NoBodySchema,
        response: { 202: StartedDrillSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const drill = drillOf(config, request.params.name);
      if (principal.components) {
        if (typeof drill.fault !== 'string') throw new HttpError(403, `${principal.name} is scoped to components; drill ${drill.name} runs a command`);
        requireScope(principal, [drill.component]);
      }
      await takeStarts(startLimiter, request);
      const run = await startDrill(mend, config, drill, principal.name);
      request.log.info({ workflowId: run.workflowId, by: principal.name }, 'drill started');
      return reply.code(202).send({ ...run, run: run.workflowId.slice(drillScheduleId(drill.name).length + 1) });
    },
  );

  app.get(
    '/drills/:name/runs/:run',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['drills'],
        summary: 'a drill run: its status and, once it has completed, its result (outcome, time to recovery)',
        security,
        params: DrillRunParamsSchema,
        response: { 200: DrillRunSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => describeDrillRun(mend, `${drillScheduleId(drillOf(config, request.params.name).name)}/${request.params.run}`),
  );
};
