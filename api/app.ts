/** The API as one Fastify plugin: `buildApp(deps)` wires routes; tests drive it with inject(). */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface ApiDeps {
  /** A real round trip to Temporal (MendClient.isReachable). */
  temporalReachable: () => Promise<{ ok: boolean; detail: string }>;
  logger?: FastifyServerOptions['logger'];
}

const HealthResponse = z.object({ status: z.literal('ok') });
const ReadyResponse = z.object({
  status: z.enum(['ready', 'unavailable']),
  temporal: z.object({ reachable: z.boolean(), detail: z.string() }),
});

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: 64 * 1024 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.get('/healthz', { schema: { response: { 200: HealthResponse } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { response: { 200: ReadyResponse, 503: ReadyResponse } } }, async (_req, reply) => {
    const temporal = await deps.temporalReachable();
    const body = { status: temporal.ok ? ('ready' as const) : ('unavailable' as const), temporal: { reachable: temporal.ok, detail: temporal.detail } };
    if (!temporal.ok) reply.header('retry-after', '5');
    return reply.code(temporal.ok ? 200 : 503).send(body);
  });

  await app.ready();
  return app;
}
