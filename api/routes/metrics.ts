/** GET /metrics: the API's Prometheus metrics, how many mend runs are running (one visibility count), and the supervisors' statistics. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { MendClient } from '../../client';
import { countRuns } from '../../client/runs';
import { supervisionStats } from '../../client/supervisors';
import type { Config } from '../../core/schemas';
import { ApiMetrics } from '../metrics';

export const metricsRoutes: FastifyPluginAsyncZod<{ mend: MendClient; metrics: ApiMetrics; config: Config }> = async (app, { mend, metrics, config }) => {
  app.get(
    '/metrics',
    {
      config: { auth: 'public', quiet: true },
      schema: {
        tags: ['meta'],
        summary: 'Prometheus metrics (text format)',
        response: { 200: z.string().describe('Prometheus text exposition format 0.0.4') },
      },
    },
    async (_request, reply) => {
      const running = await mend.connection
        .withDeadline(Date.now() + 2_000, () => countRuns(mend, { status: 'running' }))
        .then((value) => ({ up: true, value }))
        .catch(() => ({ up: false, value: undefined }));
      // The supervisors' durable counters (recoveries, durations, breakers, health), when Temporal answers.
      const supervision = running.up
        ? await mend.connection.withDeadline(Date.now() + 3_000, () => supervisionStats(mend, config)).catch(() => undefined)
        : undefined;
      const text = await metrics.render({ temporalUp: running.up, runsRunning: running.value, supervision });
      return reply
        .type(ApiMetrics.contentType)
        .serializer((s: unknown) => String(s))
        .send(text);
    },
  );
};
