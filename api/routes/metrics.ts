/** GET /metrics: the API's Prometheus metrics, and how many mend runs are running (one visibility count). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { MendClient } from '../../client';
import { countRuns } from '../../client/runs';
import type { ApiMetrics } from '../metrics';

export const metricsRoutes: FastifyPluginAsyncZod<{ mend: MendClient; metrics: ApiMetrics }> = async (app, { mend, metrics }) => {
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
      return reply.type('text/plain; version=0.0.4; charset=utf-8').serializer((s: unknown) => String(s)).send(metrics.render(gauges));
    },
  );
};
