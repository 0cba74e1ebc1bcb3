/**
 * mend/testing: what a runbook's test uses under `mend runbook test <name>`. That command starts an
 * ephemeral Temporal dev server, a worker with the runbooks folder and a real demo service (the
 * component `demo`), then runs `<runbooks>/<name>.test.ts` with node's test runner; `runRunbook`
 * runs a runbook there and waits for its result. Each run is recorded, and once the test passes
 * its history becomes a replay fixture (`<runbooks>/fixtures/<name>.json`) for `mend runbook replay`.
 *
 * ```ts
 * import assert from 'node:assert/strict';
 * import { test } from 'node:test';
 * import { runRunbook } from 'mend/testing';
 *
 * test('restart-twice restarts the demo service and ends recovered', async () => {
 *   const result = await runRunbook('restart-twice');
 *   assert.equal(result.outcome, 'recovered', result.reason);
 * });
 * ```
 */
import { appendFileSync } from 'node:fs';
import { MendClient } from '.';
import { loadConfigFile } from './config';
import type { RecoveryResult } from '../core/run';
import type { Component } from '../core/schemas';

/** The environment `mend runbook test` gives a runbook's test. */
export const TEST_ENV = {
  /** Set (to the runbook's name) while `mend runbook test` runs a test. */
  runbook: 'MEND_RUNBOOK_TEST',
  /** A file: one JSON line per run started, for the command to record as fixtures. */
  record: 'MEND_RUNBOOK_TEST_RECORD',
} as const;

/** The component a test acts on by default: a demo service (demo/service.js) on a free port. */
export const DEMO_COMPONENT = 'demo';

/** One run a test started, as recorded for the fixture. */
export interface RecordedRun {
  runbook: string;
  workflowId: string;
  runId: string;
}

function setting(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`mend/testing: ${name} is not set; run this test through \`mend runbook test\`, which starts Temporal, a worker and a demo service`);
  return value;
}

function testConfig() {
  setting(TEST_ENV.runbook);
  return loadConfigFile(setting('MEND_CONFIG'), { stateDir: setting('MEND_HOME') });
}

/** The test stack's component `id` (default the demo service), as configured. */
export function testComponent(id: string = DEMO_COMPONENT): Component {
  const config = testConfig();
  const component = config.components.find((c) => c.id === id);
  if (!component) throw new Error(`mend/testing: no component "${id}" (the test stack has: ${config.components.map((c) => c.id).join(', ')})`);
  return component;
}

/**
 * Runs runbook `name` on the test stack's component (default the demo service) and waits for its
 * result: the outcome, the steps with their summaries and statuses, the reason. A dry run plans only.
 */
export async function runRunbook(
  name: string,
  opts: { component?: string; dryRun?: boolean; reason?: string } = {},
): Promise<RecoveryResult & { workflowId: string; runId: string }> {
  const config = testConfig();
  const component = testComponent(opts.component);
  const client = await MendClient.connect({ address: setting('MEND_TEMPORAL_ADDRESS'), taskQueue: setting('MEND_TASK_QUEUE') });
  try {
    const { workflowId, runId } = await client.startRecovery({
      strategy: name,
      component,
      trigger: 'manual',
      requestedBy: 'mend runbook test',
      reason: opts.reason,
      dryRun: opts.dryRun,
      allComponents: config.components,
    });
    const recorded: RecordedRun = { runbook: name, workflowId, runId };
    appendFileSync(setting(TEST_ENV.record), JSON.stringify(recorded) + '\n');
    return { ...(await client.result(workflowId, runId)), workflowId, runId };
  } finally {
    await client.close();
  }
}
