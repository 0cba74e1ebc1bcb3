/**
 * How many workflows the central worker keeps in memory (the SDK's sticky cache): mend's measured
 * default (DEFAULT_WORKFLOW_CACHE, workers/worker.ts says why) instead of the SDK's, which grows with
 * the machine's memory; MEND_WORKFLOW_CACHE (an override) still wins.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_NAMESPACE } from '../core/constants';
import { createMendWorker, DEFAULT_WORKFLOW_CACHE, type MendWorkerOptions } from '../workers/worker';
import { sharedServer, tempDir, uniqueQueue } from './helpers';

/** The central worker's compiled options, for a worker created, run and shut down at once. */
async function centralOptions(extra: Partial<MendWorkerOptions> = {}) {
  const { address, bundle } = sharedServer();
  const { workers, connection, run } = await createMendWorker({
    address,
    namespace: DEFAULT_NAMESPACE,
    taskQueue: uniqueQueue('worker-cache'),
    workflowBundlePath: bundle,
    embeddedHost: false,
    activityDeps: { stateDir: tempDir('worker-cache') },
    ...extra,
    overrides: { shutdownGraceTime: '1s', ...extra.overrides },
  });
  const running = run();
  try {
    return workers[0]!.options;
  } finally {
    for (const worker of workers) worker.shutdown();
    await running.finally(() => connection.close());
  }
}

describe('the central worker’s workflow cache', () => {
  test('keeps mend’s measured number of workflows, not the SDK’s heap-derived default', async () => {
    const options = await centralOptions();
    assert.equal(options.maxCachedWorkflows, DEFAULT_WORKFLOW_CACHE);
  });

  test('an explicit maxCachedWorkflows (MEND_WORKFLOW_CACHE) overrides the default', async () => {
    const options = await centralOptions({ overrides: { maxCachedWorkflows: 40 } });
    assert.equal(options.maxCachedWorkflows, 40);
  });
});
