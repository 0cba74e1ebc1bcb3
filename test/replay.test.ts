/**
 * Determinism guard: recorded histories in test/histories/ must replay against the current
 * workflow code. A change that alters what a running runbook would do next fails here; put it
 * behind `patched()` instead.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { sharedServer } from './helpers';

const dir = path.join(__dirname, 'histories');

describe('recorded runbook histories replay against the current code', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  test('there are recorded histories to replay', () => assert.ok(files.length > 0));
  for (const file of files) {
    test(`replays ${file}`, async () => {
      const { workflowId, ...history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { workflowId?: string; events: unknown[] };
      // The recorded workflow id matters to runbooks that derive ids from it (escalation children).
      await Worker.runReplayHistory({ workflowBundle: { codePath: sharedServer().bundle }, replayName: file }, history, workflowId);
    });
  }
});
