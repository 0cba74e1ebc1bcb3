/**
 * Hosts: GET /v1/hosts and GET /v1/hosts/:id: each host of the config with its agent up or down,
 * last seen, version and component count, read from Temporal's pollers on `<queue>/host/<id>`.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { drainHost, supervisedOnHost, undrainHost } from '../../client/host-drain';
import { describeHosts } from '../../client/hosts';
import { HostDrainBodySchema, HostDrainResponseSchema, HostIdParamsSchema, HostListSchema, HostViewSchema, NoBodySchema } from '../../core/api';
import { hostIds } from '../../core/host-status';
import type { Config } from '../../core/schemas';
import { errorResponses, HttpError } from '../errors';
import { principalOf, requireScope } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

export const hostRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config } = deps;

  app.get(
    '/hosts',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['hosts'],
        summary: 'list the hosts and whether their agents poll',
        security,
        response: { 200: HostListSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async () => ({ hosts: await describeHosts(mend, config) }),
  );

  app.get(
    '/hosts/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['hosts'],
        summary: 'a host and its agent',
        security,
        params: HostIdParamsSchema,
        response: { 200: HostViewSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      requireHost(config, request.params.id);
      return (await describeHosts(mend, config)).find((h) => h.id === request.params.id)!;
    },
  );

  // Operator scope on every supervised component of the host: a drain holds (and an undrain lets go) their recoveries.
  const authorizeHostAction = (request: FastifyRequest<{ Params: { id: string } }>) => {
    const host = request.params.id;
    requireHost(config, host);
    const principal = principalOf(request);
    requireScope(principal, supervisedOnHost(config, host));
    return { host, principal };
  };
  app.post(
    '/hosts/:id/drain',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['hosts'],
        summary: 'drain a host: hold the automatic recoveries of its components (their supervisors pause, naming the host) until it is undrained',
        security,
        params: HostIdParamsSchema,
        body: HostDrainBodySchema,
        response: { 200: HostDrainResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const { host, principal } = authorizeHostAction(request);
      const components = await drainHost(mend, config, host, principal.name, request.body?.reason);
      return { host, action: 'drain' as const, by: principal.name, components };
    },
  );

  app.post(
    '/hosts/:id/undrain',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['hosts'],
        summary: "undrain a host: its components' supervisors paused by its drain resume (a failure is acted on at the next check)",
        security,
        params: HostIdParamsSchema,
        body: NoBodySchema,
        response: { 200: HostDrainResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const { host, principal } = authorizeHostAction(request);
      const { components, skipped } = await undrainHost(mend, config, host, principal.name);
      return { host, action: 'undrain' as const, by: principal.name, components, ...(skipped.length > 0 ? { skipped } : {}) };
    },
  );
};

/** 404 naming the known hosts unless `id` is one. */
function requireHost(config: Config, id: string): void {
  const known = hostIds(config);
  if (!known.includes(id)) throw new HttpError(404, `unknown host ${id} (known: ${known.join(', ')})`);
}
