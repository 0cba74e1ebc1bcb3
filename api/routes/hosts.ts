/**
 * Hosts: GET /v1/hosts and GET /v1/hosts/:id: each host of the config with its agent up or down,
 * last seen, version and component count, read from Temporal's pollers on `<queue>/host/<id>`.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { describeHosts } from '../../client/hosts';
import { HostIdParamsSchema, HostListSchema, HostViewSchema } from '../../core/api';
import { hostStatuses } from '../../core/host-status';
import { errorResponses, HttpError } from '../errors';
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
      const known = hostStatuses(
        config,
        () => [],
        (id) => id,
        Date.now(),
      ).map((h) => h.id);
      if (!known.includes(request.params.id)) throw new HttpError(404, `unknown host ${request.params.id} (known: ${known.join(', ')})`);
      return (await describeHosts(mend, config)).find((h) => h.id === request.params.id)!;
    },
  );
};
