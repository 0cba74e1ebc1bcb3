/**
 * GET /v1/components and /v1/components/:id (the configured components, their supervisor and latest
 * recovery), POST /v1/components/:id/check (probe one now, on a worker), POST /v1/components/:id/breaker/reset
 * (close its supervisor's breaker by hand, saying why).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RunNotFoundError } from '../../client';
import { checkComponent } from '../../client/checks';
import { describeSummary } from '../../client/runs';
import { resetBreaker, supervisorState, supervisorView } from '../../client/supervisors';
import {
  BreakerResetBodySchema,
  BreakerResetResultSchema,
  CheckResultSchema,
  ComponentDetailSchema,
  ComponentIdParamsSchema,
  ComponentListSchema,
  componentView,
  NoBodySchema,
} from '../../core/api';
import { recoveryWorkflowId } from '../../core/constants';
import { errorResponses } from '../errors';
import { componentsById, principalOf, requireScope } from './common';
import type { V1Options } from './index';

export const componentRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  app.get(
    '/components',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['components'],
        summary: 'list the configured components',
        security: [{ bearer: [] }],
        response: { 200: ComponentListSchema, ...errorResponses(401, 403) },
      },
    },
    async () => ({ components: deps.config.components.map(componentView) }),
  );

  app.get(
    '/components/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['components'],
        summary: 'a component, its supervisor (health, failures, breaker, current recovery, statistics) and its latest recovery run',
        security: [{ bearer: [] }],
        params: ComponentIdParamsSchema,
        response: { 200: ComponentDetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const [component] = componentsById(deps.config, [request.params.id]);
      // Both calls end before the answer (allSettled): a failure of one leaves no call of the request running behind it.
      const [recovery, supervisor] = settled(
        await Promise.allSettled([
          describeSummary(deps.mend, recoveryWorkflowId(component!.id)).catch((err: unknown) => {
            if (err instanceof RunNotFoundError) return null;
            throw err;
          }),
          supervisorState(deps.mend, component!.id),
        ]),
      );
      return {
        ...componentView(component!),
        supervisor: supervisor ? supervisorView(supervisor) : null,
        recovery: recovery && {
          workflowId: recovery.workflowId,
          runId: recovery.runId,
          status: recovery.status,
          startTime: recovery.startTime,
          closeTime: recovery.closeTime,
          phase: recovery.phase,
          outcome: recovery.outcome,
          url: recovery.url,
        },
      };
    },
  );

  app.post(
    '/components/:id/check',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['components'],
        summary: "check a component now: one probe on a worker; its supervisor gets the result (a failure is confirmed and recovered as a sweep's would be)",
        security: [{ bearer: [] }],
        params: ComponentIdParamsSchema,
        body: NoBodySchema,
        response: { 200: CheckResultSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const [component] = componentsById(deps.config, [request.params.id]);
      // A failed check can start a recovery through the supervisor: the token's scope applies.
      requireScope(principal, [component!.id]);
      return checkComponent(deps.mend, component!, { trigger: 'api', requestedBy: principal.name });
    },
  );

  app.post(
    '/components/:id/breaker/reset',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['components'],
        summary:
          "close a component's circuit breaker by hand, saying why: its supervisor records who and why, starts its backoffs over and checks the component at once (a failure is then recovered)",
        security: [{ bearer: [] }],
        params: ComponentIdParamsSchema,
        body: BreakerResetBodySchema,
        response: { 200: BreakerResetResultSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const [component] = componentsById(deps.config, [request.params.id]);
      // A closed breaker lets the supervisor restart the component: the token's scope applies.
      requireScope(principal, [component!.id]);
      const result = await resetBreaker(deps.mend, component!.id, { by: principal.name, reason: request.body.reason });
      request.log.info({ by: principal.name, component: component!.id, from: result.previous }, 'breaker reset');
      return result;
    },
  );
};

/** The values of settled promises, or the first failure. */
function settled<T extends readonly unknown[]>(results: { [K in keyof T]: PromiseSettledResult<T[K]> }): T {
  for (const r of results as readonly PromiseSettledResult<unknown>[]) if (r.status === 'rejected') throw r.reason;
  return (results as readonly PromiseSettledResult<unknown>[]).map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
