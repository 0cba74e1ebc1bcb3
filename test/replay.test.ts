/**
 * Determinism guard: recorded histories in test/histories/ must replay against the current
 * workflow code. A change that alters what a running runbook would do next fails here; put it
 * behind `patched()` instead.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { sharedServer } from './helpers';

const dir = path.join(__dirname, 'histories');

interface Recorded {
  history: { events: unknown[] };
  workflowId: string;
}

/**
 * One replay worker for every history, each replayed when its test asks (one at a time, as the
 * SDK does): a worker per history loaded the bundle into a new sandbox each time, most of this
 * file's CPU. A failed replay is reported by the SDK per history, so one does not hide the next.
 */
function replaySession(options: ReplayWorkerOptions) {
  const queued: Recorded[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  async function* feed(): AsyncGenerator<Recorded> {
    for (;;) {
      const next = queued.shift();
      if (next) yield next;
      else if (closed) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  const results = Worker.runReplayHistories(options, feed());
  return {
    async replay(recorded: Recorded): Promise<void> {
      queued.push(recorded);
      wake?.();
      const result = await results.next();
      assert.ok(!result.done, 'the replay worker stopped');
      if (result.value.error) throw result.value.error;
    },
    async close(): Promise<void> {
      closed = true;
      wake?.();
      await results.return?.(undefined);
    },
  };
}

describe('recorded runbook histories replay against the current code', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const session = replaySession({ workflowBundle: { codePath: sharedServer().bundle }, replayName: 'recorded histories' });
  after(() => session.close());
  test('there are recorded histories to replay', () => assert.ok(files.length > 0));
  for (const file of files) {
    test(`replays ${file}`, async () => {
      const { workflowId, ...history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { workflowId?: string; events: unknown[] };
      // The recorded workflow id matters to runbooks that derive ids from it (escalation children).
      await session.replay({ history, workflowId: workflowId ?? 'fake' });
    });
  }
});
