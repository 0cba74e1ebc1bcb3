/** The worker serves the Temporal SDK's metrics in Prometheus format when MEND_WORKER_METRICS_PORT is set. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort } from '../scripts/ports';
import { startWorker, uniqueQueue, waitFor } from './helpers';

describe('worker metrics', () => {
  test('a worker with MEND_WORKER_METRICS_PORT serves the SDK runtime metrics', async () => {
    const port = await freePort();
    const worker = await startWorker(uniqueQueue('metrics'), { MEND_WORKER_METRICS_PORT: String(port) });
    try {
      assert.ok(worker.output.some((l) => l.includes(`worker metrics on http://127.0.0.1:${port}/metrics`)));
      const text = await waitFor('worker metrics with poller figures', 30_000, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        const body = await res.text();
        return res.ok && /^temporal_\w+/m.test(body) && body;
      });
      assert.match(text, /# TYPE temporal_\w+ /);
      assert.match(text, /task_queue="test-metrics-/);
    } finally {
      await worker.stop();
    }
  });
});
