/** GET /metrics: the API's Prometheus metrics, how many mend runs are running (one visibility count), and the supervisors' statistics. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { MendClient } from '../../client';
import { countRuns } from '../../client/runs';
import { supervisionMetrics } from '../../client/supervisors';
import type { Config } from '../../core/schemas';
import type { ApiMetrics } from '../metrics';

export const metricsRoutes: FastifyPluginAsyncZod<{ mend: MendClient; metrics: ApiMetrics; config: Config }> = async (app, { mend, metrics, config }) => {
  app.get(
    '/metrics',
    {
      config: { auth: 'public', quiet: true },
      schema: { tags: ['meta'], summary: 'Prometheus metrics (text format)', response: { 200: z.string().describe('Prometheus text exposition format 0.0.4') } },
    },
    async (_request, reply) => {
      const running = await mend.connection
        .withDeadline(Date.now() + 2_000, () => countRuns(mend, { status: 'running' }))
        .then((value) => ({ up: 1, value }))
        .catch(() => ({ up: 0, value: undefined }));
      const gauges = [{ name: 'mend_temporal_up', help: 'Whether Temporal answered the last scrape.', value: running.up }];
      if (running.value !== undefined) gauges.push({ name: 'mend_runs_running', help: "mend's runs running now on this task queue.", value: running.value });
      // The supervisors' durable counters (recoveries, durations, breakers, health), when Temporal answers.
      const supervision = running.up ? await mend.connection.withDeadline(Date.now() + 3_000, () => supervisionMetrics(mend, config)).catch(() => '') : '';
      return reply.type('text/plain; version=0.0.4; charset=utf-8').serializer((s: unknown) => String(s)).send(metrics.render(gauges) + supervision);
    },
  );
};
