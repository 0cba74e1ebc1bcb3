/** /v1/backlog: the replay entities of the configured spools: status, pause, resume, force, reset-failed. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RunNotFoundError } from '../../client';
import { BacklogControl } from '../../client/backlog';
import { orUnanswered, READ_QUERY_WAIT_MS, requireReachable, spoolUnanswered, UNANSWERED } from '../../client/partial-reads';
import {
  BacklogListSchema,
  BacklogPauseBodySchema,
  BacklogResetResponseSchema,
  BacklogSpoolStatusSchema,
  BacklogStartResponseSchema,
  BacklogStatusSchema,
  NoBodySchema,
  SpoolParamsSchema,
  type BacklogSpoolStatus,
  type SpoolEntry,
} from '../../core/api';
import { selectSpool } from '../../core/config';
import { ValidationError } from '../../core/errors';
import { counts } from '../../domain/backlog/spool';
import type { Spool } from '../../core/schemas';
import { errorResponses, HttpError } from '../errors';
import { principalOf } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

export const backlogRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const control = new BacklogControl(deps.mend);
  /** A configured spool by name; 404 naming the known ones. Only names from the config reach Temporal. */
  const spoolOf = (name: string): Spool => {
    try {
      return selectSpool(deps.config, name);
    } catch (err) {
      // The CLI's own words for it (`mend backlog` says the same straight to Temporal), as a 404.
      if (err instanceof ValidationError) throw new HttpError(404, err.message);
      throw err;
    }
  };

  /** One spool of the list: its status, `unanswered` when its entity did not answer in time, or not running. */
  const spoolEntry = async (name: string): Promise<SpoolEntry> => {
    try {
      const status = await orUnanswered(control.status(name, { timeoutMs: READ_QUERY_WAIT_MS }));
      return status === UNANSWERED ? { spool: name, running: true, unanswered: spoolUnanswered(name) } : { spool: name, running: true, status };
    } catch (err) {
      if (err instanceof RunNotFoundError) return { spool: name, running: false };
      throw err;
    }
  };

  app.get(
    '/backlog',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['backlog'],
        summary:
          'replay status of every configured spool; a spool whose entity did not answer within 4 s has `unanswered` instead of `status` (a partial answer)',
        security,
        response: { 200: BacklogListSchema, ...errorResponses(401, 403, 503) },
      },
    },
    // A replay entity that does not answer in time (a busy worker) is said as such: a partial answer, not a 503.
    async () => {
      const spools = await Promise.all(deps.config.spools.map((s) => spoolEntry(s.name)));
      if (spools.length > 0 && spools.every((s) => s.unanswered)) await requireReachable(deps.mend);
      return { spools };
    },
  );

  app.get(
    '/backlog/:spool',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['backlog'],
        summary:
          "a spool's replay: running or paused, sink health, pending/processing/failed, last hour, next cycle; `unanswered` instead when its entity did not answer within 4 s (a partial answer)",
        security,
        params: SpoolParamsSchema,
        response: { 200: BacklogSpoolStatusSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request): Promise<BacklogSpoolStatus> => {
      const spool = spoolOf(request.params.spool);
      const [status, onDisk] = await Promise.all([
        orUnanswered(control.status(spool.name, { timeoutMs: READ_QUERY_WAIT_MS })),
        // The folder itself, when this machine can see it: items spooled since the last cycle show up here.
        counts(spool.dir).catch(() => undefined),
      ]);
      const disk = onDisk ? { onDisk: { pending: onDisk.pending, failed: onDisk.failed } } : {};
      if (status !== UNANSWERED) return { ...status, ...disk };
      await requireReachable(deps.mend);
      return { spool: spool.name, unanswered: spoolUnanswered(spool.name), ...disk };
    },
  );

  app.post(
    '/backlog/:spool/start',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['backlog'],
        summary: "start the spool's replay, or hand a running one the API's config for it (idempotent)",
        security,
        params: SpoolParamsSchema,
        body: NoBodySchema,
        response: { 200: BacklogStartResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const spool = spoolOf(request.params.spool);
      const run = await control.ensure(spool);
      request.log.info({ workflowId: run.workflowId, by: principalOf(request).name }, 'backlog replay started');
      return run;
    },
  );

  app.post(
    '/backlog/:spool/pause',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['backlog'],
        summary: 'hold replay for some minutes (default 15); the batch in flight finishes',
        security,
        params: SpoolParamsSchema,
        body: BacklogPauseBodySchema,
        response: { 200: BacklogStatusSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const spool = spoolOf(request.params.spool);
      return control.pause(spool.name, { minutes: request.body.minutes, reason: request.body.reason, by: principalOf(request).name });
    },
  );

  for (const action of ['resume', 'force'] as const) {
    app.post(
      `/backlog/:spool/${action}`,
      {
        config: { auth: 'operator' },
        schema: {
          tags: ['backlog'],
          summary: action === 'resume' ? 'end a pause now' : 'run a replay cycle now, cutting a sink backoff short (409 while paused)',
          security,
          params: SpoolParamsSchema,
          body: NoBodySchema,
          response: { 200: BacklogStatusSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
        },
      },
      async (request) => {
        const spool = spoolOf(request.params.spool);
        const by = principalOf(request).name;
        return action === 'resume' ? control.resume(spool.name, by) : control.force(spool.name, by);
      },
    );
  }

  app.post(
    '/backlog/:spool/reset-failed',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['backlog'],
        summary: 'move every dead letter back to pending with fresh attempts, then replay',
        security,
        params: SpoolParamsSchema,
        body: NoBodySchema,
        response: { 200: BacklogResetResponseSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => control.resetFailed(spoolOf(request.params.spool).name, principalOf(request).name),
  );
};
