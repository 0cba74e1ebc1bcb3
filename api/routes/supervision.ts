/** /v1/stats and /v1/schedules: what the supervisors counted, and the health-check schedules. */
import { ScheduleNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { listHealthSchedules, planHealthGroups, reconcileSchedules } from '../../client/schedules';
import { READ_QUERY_WAIT_MS } from '../../client/partial-reads';
import { supervisionStats } from '../../client/supervisors';
import {
  FleetStatsSchema,
  NoBodySchema,
  ReconcileResultSchema,
  ScheduleActionQuerySchema,
  ScheduleActionResponseSchema,
  ScheduleListSchema,
  ScheduleParamsSchema,
} from '../../core/api';
import { errorResponses, HttpError } from '../errors';
import { principalOf } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

export const supervisionRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  app.get(
    '/stats',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['supervision'],
        summary:
          'recoveries, success rate, MTTR p50/p95 and breaker state, per component and fleet-wide; a supervisor that does not answer within 4 s is listed in `unanswered` (a partial answer)',
        security,
        response: { 200: FleetStatsSchema, ...errorResponses(401, 403, 503) },
      },
    },
    // A supervisor that does not answer in time (a busy worker) is listed as such: a partial answer, not a 503.
    async () => supervisionStats(deps.mend, deps.config, { timeoutMs: READ_QUERY_WAIT_MS }),
  );

  app.get(
    '/schedules',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['supervision'],
        summary: 'the health-check schedules (mend/health/<group>) of this task queue',
        security,
        response: { 200: ScheduleListSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async () => ({ schedules: await listHealthSchedules(deps.mend, { owner: deps.mend.taskQueue }) }),
  );

  app.post(
    '/schedules/reconcile',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['supervision'],
        summary: "create, update and delete the health-check and drill schedules to match the API's config (idempotent), as at start-up",
        security,
        body: NoBodySchema,
        response: { 200: ReconcileResultSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request) => {
      const result = await reconcileSchedules(deps.mend, deps.config);
      request.log.info({ by: principalOf(request).name, created: result.created, deleted: result.deleted }, 'schedules reconciled');
      return result;
    },
  );

  for (const action of ['pause', 'resume', 'trigger'] as const) {
    app.post(
      `/schedules/:group/${action}`,
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['supervision'],
          summary:
            action === 'pause' ? "pause a group's health checks" : action === 'resume' ? "resume a group's health checks" : "run a group's health sweep now",
          security,
          params: ScheduleParamsSchema,
          querystring: ScheduleActionQuerySchema,
          body: NoBodySchema,
          response: { 200: ScheduleActionResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
        },
      },
      async (request) => {
        const by = principalOf(request).name;
        const { group } = request.params;
        const { host } = request.query;
        // Only groups of the config: an id from the request never names another schedule.
        if (!deps.config.components.some((c) => c.supervision.enabled && c.supervision.group === group)) {
          throw new HttpError(404, `no health-check group ${group} in the config`);
        }
        // A group is swept by one schedule per host (and a big one by several parts): the action applies to each, or to one host's.
        const scheduleIds = planHealthGroups(deps.config, deps.mend.taskQueue)
          .filter((p) => p.group === group && (host === undefined || p.host === host))
          .map((p) => p.scheduleId);
        if (scheduleIds.length === 0) throw new HttpError(404, `host: no component of group ${group} on host ${host} in the config`);
        for (const scheduleId of scheduleIds) {
          const handle = deps.mend.temporal.schedule.getHandle(scheduleId);
          try {
            if (action === 'pause') await handle.pause(`paused by ${by}`);
            else if (action === 'resume') await handle.unpause(`resumed by ${by}`);
            else await handle.trigger();
          } catch (err) {
            if (err instanceof ScheduleNotFoundError)
              throw new HttpError(404, `schedule ${scheduleId} does not exist (reconcile with \`mend schedules --reconcile\`)`);
            throw err;
          }
        }
        const scheduleId = scheduleIds[0]!;
        return { scheduleId, ...(scheduleIds.length > 1 ? { scheduleIds } : {}), action, by };
      },
    );
  }
};
