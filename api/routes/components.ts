/** GET /v1/components and /v1/components/:id: the configured components and their latest recovery. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RunNotFoundError } from '../../client';
import { describeSummary } from '../../client/runs';
import { ComponentDetailSchema, ComponentIdParamsSchema, ComponentListSchema } from '../../core/api';
import { recoveryWorkflowId } from '../../core/constants';
import { errorResponses } from '../errors';
import { componentsById, componentView } from './common';
import type { V1Options } from './index';

export const componentRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  app.get(
    '/components',
    {
      config: { auth: 'viewer' },
      schema: { tags: ['components'], summary: 'list the configured components', security: [{ bearer: [] }], response: { 200: ComponentListSchema, ...errorResponses(401, 403) } },
    },
    async () => ({ components: deps.config.components.map(componentView) }),
  );

  app.get(
    '/components/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['components'],
        summary: 'a component and its latest recovery run',
        security: [{ bearer: [] }],
        params: ComponentIdParamsSchema,
        response: { 200: ComponentDetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const [component] = componentsById(deps.config, [request.params.id]);
      const recovery = await describeSummary(deps.mend, recoveryWorkflowId(component!.id)).catch((err: unknown) => {
        if (err instanceof RunNotFoundError) return null;
        throw err;
      });
      return {
        ...componentView(component!),
        recovery: recovery && { workflowId: recovery.workflowId, runId: recovery.runId, status: recovery.status, startTime: recovery.startTime, closeTime: recovery.closeTime, phase: recovery.phase, outcome: recovery.outcome, url: recovery.url },
      };
    },
  );
};
