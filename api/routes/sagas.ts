/**
 * Sagas: GET /v1/sagas (configured ones, no commands shown) and POST /v1/sagas/:name/runs, which
 * runs one as `mend/saga/<name>/<requestId>` (trigger `api`, requested by the token's name); the
 * same request id never runs it twice (409 naming the run).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { SagaListSchema, SagaNameParamsSchema, StartedSagaSchema, StartSagaBodySchema } from '../../core/api';
import type { Saga } from '../../core/schemas';
import { errorResponses, HttpError } from '../errors';
import { principalOf, requireScope, takeStarts } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

/** Components a saga's steps act on. */
function sagaComponents(saga: Saga): string[] {
  const named = saga.steps.flatMap((s) => [s.action, s.compensate]).flatMap((a) => (a?.type === 'component' ? [a.component] : []));
  return [...new Set(named)];
}

function hasCommands(saga: Saga): boolean {
  return saga.steps.some((s) => s.action.type === 'command' || s.compensate?.type === 'command');
}

export const sagaRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config, startLimiter } = deps;

  app.get(
    '/sagas',
    {
      config: { auth: 'viewer' },
      schema: { tags: ['sagas'], summary: 'list the configured sagas', security, response: { 200: SagaListSchema, ...errorResponses(401, 403) } },
    },
    async () => ({
      sagas: config.sagas.map((saga) => ({
        name: saga.name,
        description: saga.description,
        components: sagaComponents(saga),
        steps: saga.steps.map((s) => ({
          name: s.name,
          action: s.action.type,
          component: s.action.type === 'component' ? s.action.component : undefined,
          op: s.action.type === 'component' ? s.action.op : undefined,
          compensated: s.compensate !== undefined,
        })),
      })),
    }),
  );

  app.post(
    '/sagas/:name/runs',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['sagas'],
        summary: 'run a configured saga',
        description: 'A token scoped to components may run a saga only when every step acts on those components (no command steps).',
        security,
        params: SagaNameParamsSchema,
        body: StartSagaBodySchema,
        response: { 202: StartedSagaSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const saga = config.sagas.find((s) => s.name === request.params.name);
      if (!saga) throw new HttpError(404, `unknown saga ${request.params.name} (known: ${config.sagas.map((s) => s.name).join(', ') || 'none'})`);
      if (principal.components) {
        if (hasCommands(saga)) throw new HttpError(403, `${principal.name} is scoped to components; saga ${saga.name} runs commands`);
        requireScope(principal, sagaComponents(saga));
      }
      await takeStarts(startLimiter, request);
      const body = request.body;
      const requestId = body.requestId ?? randomUUID();
      const run = await mend.startSaga({
        saga,
        allComponents: config.components,
        requestId,
        trigger: 'api',
        requestedBy: principal.name,
        reason: body.reason,
        dryRun: body.dryRun,
      });
      deps.metrics.runStarted('saga', 'api');
      request.log.info({ workflowId: run.workflowId, by: principal.name }, 'saga started');
      return reply.code(202).send({ ...run, requestId });
    },
  );
};
