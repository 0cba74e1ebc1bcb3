/** Liveness and readiness: /healthz never asks Temporal, /readyz makes a real round trip to it. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { HealthResponseSchema, ReadyResponseSchema } from '../../core/api';
import { UNAVAILABLE_RETRY_AFTER } from '../errors';

export const metaRoutes: FastifyPluginAsyncZod<{ temporalReachable: () => Promise<{ ok: boolean; detail: string }> }> = async (app, opts) => {
  app.get(
    '/healthz',
    { config: { auth: 'public', quiet: true }, schema: { tags: ['meta'], summary: 'the API process is up', response: { 200: HealthResponseSchema } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: 'public', quiet: true },
      schema: { tags: ['meta'], summary: 'Temporal answers (503 with Retry-After when not)', response: { 200: ReadyResponseSchema, 503: ReadyResponseSchema } },
    },
    async (_req, reply) => {
      const temporal = await opts.temporalReachable();
      const body = { status: temporal.ok ? ('ready' as const) : ('unavailable' as const), temporal: { reachable: temporal.ok, detail: temporal.detail } };
      if (!temporal.ok) reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER));
      return reply.code(temporal.ok ? 200 : 503).send(body);
    },
  );
};
