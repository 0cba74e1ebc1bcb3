/**
 * The /v1 route modules, registered in this order under the /v1 prefix. A new feature (schedules,
 * backlog, stats, ...) adds its module here: `FastifyPluginAsyncZod<V1Options>`, each route with
 * `config.auth` (the least role it needs) and zod schemas from core/ for params, query, body and responses.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RouteDeps } from '../app';
import { alertRoutes } from './alerts';
import { backlogRoutes } from './backlog';
import { componentRoutes } from './components';
import { drillRoutes } from './drills';
import { fleetRoutes } from './fleet';
import { hostRoutes } from './hosts';
import { runRoutes } from './runs';
import { supervisionRoutes } from './supervision';
import { sagaRoutes } from './sagas';

export interface V1Options {
  deps: RouteDeps;
}

export const V1_ROUTES: ReadonlyArray<FastifyPluginAsyncZod<V1Options>> = [
  componentRoutes,
  runRoutes,
  sagaRoutes,
  alertRoutes,
  backlogRoutes,
  supervisionRoutes,
  hostRoutes,
  drillRoutes,
  fleetRoutes,
];
