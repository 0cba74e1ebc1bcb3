/** GET /v1/fleet (the fleet page's one read) and GET /v1/whoami (who the token is). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { fleetView } from '../../client/fleet';
import { FleetSchema, WhoAmISchema } from '../../core/api';
import { errorResponses } from '../errors';
import { principalOf } from './common';
import type { V1Options } from './index';

const security = [{ bearer: [] }];

export const fleetRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  app.get(
    '/fleet',
    {
      // The page polls it: logged at debug unless it fails.
      config: { auth: 'viewer', quiet: true },
      schema: {
        tags: ['fleet'],
        summary:
          'the fleet at a glance: every component (health, breaker, current and last recovery, MTTR, recoveries per hour), hosts, spools, and what needs a human',
        security,
        response: { 200: FleetSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async () => fleetView(deps.mend, deps.config),
  );

  app.get(
    '/whoami',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['fleet'],
        summary: "the token's name, role and component scope (the page shows only the actions the role may take)",
        security,
        response: { 200: WhoAmISchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      const { name, role, components } = principalOf(request);
      return { name, role, ...(components ? { components: [...components].sort() } : {}) };
    },
  );
};
