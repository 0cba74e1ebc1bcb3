/** The worker serves the Temporal SDK's metrics in Prometheus format when MEND_WORKER_METRICS_PORT is set. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort } from '../scripts/ports';
import { startWorker, uniqueQueue, waitFor, type Spawned } from './helpers';

describe('worker metrics', () => {
  test('a worker with MEND_WORKER_METRICS_PORT serves the SDK runtime metrics', async () => {
    const queue = uniqueQueue('metrics');
    // A free port can be taken by another test's process before the worker binds it: then another one.
    const start = async (tries: number): Promise<{ port: number; worker: Spawned }> => {
      const port = await freePort();
      try {
        return { port, worker: await startWorker(queue, { MEND_WORKER_METRICS_PORT: String(port) }) };
      } catch (err) {
        if (tries > 1 && /Address already in use/.test((err as Error).message)) return start(tries - 1);
        throw err;
      }
    };
    const { port, worker } = await start(3);
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
