/**
 * The API as one Fastify app: `buildApp(deps)` wires logging, auth, the error mapper, the OpenAPI
 * document and interactive docs (/docs), the fleet page (/ui), and the routes. Tests drive it with inject().
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import { createJsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { MendClient } from '../client';
import { NoQuerySchema, type Role } from '../core/api';
import type { Config } from '../core/schemas';
import { bearerToken, roleAtLeast, type Principal, type TokenTable } from './auth';
import { clientErrorHandler, frameworkErrorHandler, HttpError, installErrorHandling } from './errors';
import { installBodyParsing } from './json-body';
import { bucketWindow, tokenBucketStore, waitFor, type Limiter, type RateLimitOptions } from './rate-limit';
import { ApiMetrics } from './metrics';
import { isPageRoute, pageRoutes } from './page';
import { metaRoutes } from './routes/meta';
import { metricsRoutes } from './routes/metrics';
import { V1_ROUTES } from './routes';

export interface ApiDeps {
  mend: MendClient;
  config: Config;
  tokens: TokenTable;
  /** A real round trip to Temporal; default `mend.isReachable()`. */
  temporalReachable?: () => Promise<{ ok: boolean; detail: string }>;
  /** Pino options (level, stream, ...); authorization headers are always redacted. Default: no logging. */
  logger?: Exclude<FastifyServerOptions['logger'], boolean> | false;
  /** Run starts per token (POST /v1/runs, alerts); default burst 10, 30 a minute. */
  rateLimit?: RateLimitOptions;
  /** Failed authentications per client address before 429s (guessing tokens); default burst 20, 10 a minute. */
  authFailureLimit?: RateLimitOptions;
  /** Time a request's Temporal calls may take together before the API answers 503; default 10 s. */
  temporalDeadlineMs?: number;
  /** Alert labels naming the component, tried in order; default component, service, job. */
  alertLabels?: string[];
  /** A firing alert whose recovery ended less than this ago starts no other; default 30 minutes. */
  alertDedupeWindowMs?: number;
}

/** What every route module receives. */
export interface RouteDeps extends Required<Omit<ApiDeps, 'logger' | 'rateLimit' | 'authFailureLimit' | 'temporalReachable' | 'temporalDeadlineMs'>> {
  /** Run starts per token: take them with `takeStarts`. */
  startLimiter: Limiter;
  metrics: ApiMetrics;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role a route needs; `public` needs no token. Routes without it are refused (fail closed). */
    auth?: Role | 'public';
    /** Log this route's requests at debug level (health probes poll). */
    quiet?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyInstance {
    /** Every API route (method and URL), without the docs plugin's own and the implicit HEAD routes. */
    apiRoutes: ReadonlyArray<{ method: string; url: string }>;
  }
}

export const API_TITLE = 'mend API';
export const BODY_LIMIT = 64 * 1024;

function isDocsRoute(url: string | undefined): boolean {
  return url === '/docs' || url?.startsWith('/docs/') === true;
}

type OpenApiDoc = {
  paths?: Record<
    string,
    Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: { $ref?: string; required?: unknown[] } }> } }>
  >;
  components?: { schemas?: Record<string, { required?: unknown[] }> };
};

/** A body with no required field may be left out (the API reads it as `{}`): say so in the document. */
function optionalBodies<T>(doc: T): T {
  const d = doc as OpenApiDoc;
  for (const methods of Object.values(d.paths ?? {})) {
    for (const op of Object.values(methods)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (!schema) continue;
      const resolved = schema.$ref ? d.components?.schemas?.[schema.$ref.split('/').pop()!] : schema;
      if (resolved && !resolved.required?.length) op.requestBody!.required = false;
    }
  }
  return doc;
}

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger
      ? { ...deps.logger, redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' } }
      : false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 400 },
    // The onResponse hook logs one line per request instead (health probes at debug).
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installBodyParsing(app, BODY_LIMIT);
  installErrorHandling(app);

  const apiRoutes: Array<{ method: string; url: string }> = [];
  app.decorate('apiRoutes', apiRoutes);
  const deadlineMs = deps.temporalDeadlineMs ?? 10_000;
  app.addHook('onRoute', (route) => {
    if (isDocsRoute(route.url) || isPageRoute(route.url)) return;
    if (route.url?.startsWith('/v1/') && !route.schema?.querystring) route.schema = { ...route.schema, querystring: NoQuerySchema };
    for (const method of [route.method].flat()) if (method !== 'HEAD') apiRoutes.push({ method, url: route.url! });
    // Every Temporal call a request makes shares one deadline: a server that does not answer is a
    // 503 after deadlineMs, not a request hanging on the client's connection retries.
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      return deps.mend.connection.withDeadline(Date.now() + deadlineMs, async () => handler.call(this, request, reply));
    };
  });

  // Limits are taken explicitly (a failed authentication, a run start), never per request by the plugin's own hook.
  await app.register(rateLimit, { global: false, store: tokenBucketStore() });
  const authFailures = app.createRateLimit(bucketWindow(deps.authFailureLimit ?? { burst: 20, perMinute: 10 }));
  const tooManyFailures = (ip: string, retryAfterSeconds: number) =>
    new HttpError(429, `too many failed authentications from ${ip}; retry in ${retryAfterSeconds}s`, { retryAfterSeconds });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const needed = request.routeOptions.config.auth;
    // The docs plugin's own routes (page, static files, the OpenAPI document) are public.
    if (needed === 'public' || request.is404 || isDocsRoute(request.routeOptions.url)) return;
    if (!needed) throw new HttpError(403, 'this route has no access rule');
    // An address that keeps failing is refused before its token is even looked at: guessing gets no answer.
    const wait = await waitFor(authFailures, request);
    if (wait > 0) throw tooManyFailures(request.ip, wait);
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new HttpError(401, 'missing bearer token (Authorization: Bearer <token>)', { headers: { 'www-authenticate': 'Bearer realm="mend"' } });
    const principal = deps.tokens.authenticate(token);
    if (!principal) {
      await authFailures(request);
      throw new HttpError(401, 'unknown token', { headers: { 'www-authenticate': 'Bearer realm="mend", error="invalid_token"' } });
    }
    request.principal = principal;
    if (!roleAtLeast(principal.role, needed)) throw new HttpError(403, `${principal.name} is ${principal.role}; this needs ${needed}`);
  });

  const metrics = new ApiMetrics();
  app.addHook('onResponse', async (request, reply) => {
    metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    const line = {
      method: request.method,
      url: request.url.split('?')[0],
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      by: request.principal?.name,
    };
    if (request.routeOptions.config.quiet && reply.statusCode < 400) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: API_TITLE,
        version: '1',
        description: 'Durable recovery runbooks on Temporal: start, inspect and control runs. Authenticate with `Authorization: Bearer <token>`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'components', description: 'configured components' },
        { name: 'runs', description: 'recovery runs: start, list, inspect, control' },
        { name: 'sagas', description: 'transactional runbooks: list and run' },
        { name: 'alerts', description: 'alert webhooks that start recoveries' },
        { name: 'backlog', description: 'backlog replay of the configured spools' },
        { name: 'supervision', description: 'supervisor statistics and health-check schedules' },
        { name: 'hosts', description: 'the hosts of the fleet and their agents' },
        { name: 'drills', description: 'recovery drills: run one now, read its result' },
        { name: 'fleet', description: "the fleet page's reads: the fleet at a glance, and who a token is" },
        { name: 'meta', description: 'health, readiness and metrics (no token needed)' },
      ],
    },
    transform: createJsonSchemaTransform({
      skipList: ['/docs', '/docs/', '/docs/json', '/docs/yaml', '/docs/static/*', '/docs/*', '/docs/initOAuth', '/docs/uiConfig'],
    }),
    transformObject: (input) => optionalBodies(jsonSchemaTransformObject(input)),
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
    theme: { title: API_TITLE },
  });

  const routeDeps: RouteDeps = {
    mend: deps.mend,
    config: deps.config,
    tokens: deps.tokens,
    alertLabels: deps.alertLabels ?? ['component', 'service', 'job'],
    alertDedupeWindowMs: deps.alertDedupeWindowMs ?? 30 * 60_000,
    startLimiter: app.createRateLimit({
      ...bucketWindow(deps.rateLimit ?? { burst: 10, perMinute: 30 }),
      keyGenerator: (request) => (request.principal ? `token:${request.principal.name}` : `ip:${request.ip}`),
    }),
    metrics,
  };
  await app.register(pageRoutes);
  await app.register(metaRoutes, { temporalReachable: deps.temporalReachable ?? (() => deps.mend.isReachable()) });
  await app.register(metricsRoutes, { mend: deps.mend, metrics, config: deps.config });
  for (const routes of V1_ROUTES) await app.register(routes, { prefix: '/v1', deps: routeDeps });

  await app.ready();
  return app;
}
