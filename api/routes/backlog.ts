/** /v1/backlog: the replay entities of the configured spools: status, pause, resume, force, reset-failed. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RunNotFoundError } from '../../client';
import { BacklogControl } from '../../client/backlog';
import { BacklogListSchema, BacklogPauseBodySchema, BacklogResetResponseSchema, BacklogStatusSchema, NoBodySchema, SpoolParamsSchema } from '../../core/api';
import type { Spool } from '../../core/schemas';
import { errorResponses, HttpError } from '../errors';
import { principalOf } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

export const backlogRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const control = new BacklogControl(deps.mend);
  /** A configured spool by name; 404 naming the known ones. Only names from the config reach Temporal. */
  const spoolOf = (name: string): Spool => {
    const spool = deps.config.spools.find((s) => s.name === name);
    if (!spool) throw new HttpError(404, `unknown spool ${name} (known: ${deps.config.spools.map((s) => s.name).join(', ') || 'none'})`);
    return spool;
  };

  app.get(
    '/backlog',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['backlog'],
        summary: 'replay status of every configured spool',
        security,
        response: { 200: BacklogListSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async () => ({
      spools: await Promise.all(
        deps.config.spools.map(async (s) => {
          try {
            return { spool: s.name, running: true, status: await control.status(s.name) };
          } catch (err) {
            if (err instanceof RunNotFoundError) return { spool: s.name, running: false };
            throw err;
          }
        }),
      ),
    }),
  );

  app.get(
    '/backlog/:spool',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['backlog'],
        summary: "a spool's replay: running or paused, sink health, pending/processing/failed, last hour, next cycle",
        security,
        params: SpoolParamsSchema,
        response: { 200: BacklogStatusSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => control.status(spoolOf(request.params.spool).name),
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
