/**
 * The worker's workflow bundle without a prebuilt one: bundled in a child process (webpack never
 * lives in the worker), kept under MEND_HOME/cache/workflows, reused by a restart while every file
 * it was built from is unchanged, and built again when one changed. Real worker processes on the
 * shared dev server run a custom runbook from the cached bundle end to end.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { startAdapter } from '../domain/adapters';
import { processAdapter, stopProcess } from '../domain/adapters/process';
import type { Config } from '../core/schemas';
import { cachedWorkflowBundle } from '../workers/bundle-cache';
import { ROOT, sharedServer, startWorker, tempDir, uniqueQueue, writeDemoConfig } from './helpers';

/** A runbook restarting its component and noting which version of its source ran. */
const runbook = (version: string) => `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'noted-restart',
  description: 'restart, noting the source version',
  async run(ctx) {
    await ctx.probe();
    ctx.note('source ${version}');
    await ctx.stop();
    await ctx.start();
    const v = await ctx.waitHealthy();
    if (!ctx.dryRun && !v?.healthy) ctx.fail(ctx.notHealthyReason(v));
  },
});
`;

describe('the workflow bundle is built in a child process and cached by the content of its sources', () => {
  const dir = tempDir('bundle-cache');
  const queue = uniqueQueue('bundle-cache');
  const home = path.join(dir, '.mend');
  const cache = path.join(home, 'cache', 'workflows');
  const runbookFile = path.join(dir, 'runbooks', 'noted-restart.ts');
  const env = () => ({ MEND_WORKFLOW_BUNDLE: '', MEND_HOME: home, MEND_CONFIG: path.join(dir, 'mend.config.yaml') });
  let config: Config;
  let client: MendClient;

  before(async () => {
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    // What installing mend gives a user's repository: `mend/kit` resolves to this checkout.
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'mend'));
    mkdirSync(path.dirname(runbookFile));
    writeFileSync(runbookFile, runbook('v1'));
    const { file } = await writeDemoConfig(dir, [{ id: `svc-${Date.now().toString(36)}` }]);
    config = loadConfigFile(file, { stateDir: home });
    await startAdapter(config.components[0]!);
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    for (const comp of config?.components ?? []) await stopProcess(processAdapter(comp)).catch(() => undefined);
    await client?.close();
  });

  /** Runs noted-restart on the demo service with a worker started now; the worker's output and the probe step's note. */
  async function recoverWithNewWorker(): Promise<{ output: string[]; note: string | undefined }> {
    const worker = await startWorker(queue, env());
    try {
      const component = config.components[0]!;
      const run = await client.startRecovery({
        strategy: 'noted-restart',
        component,
        trigger: 'manual',
        requestedBy: 'test',
        allComponents: config.components,
      });
      const result = await client.result(run.workflowId, run.runId);
      assert.equal(result.outcome, 'recovered', result.reason);
      return { output: worker.output, note: result.steps.find((s) => s.name === 'probe')?.detail };
    } finally {
      await worker.stop();
    }
  }

  test('a worker bundles in a child at its first start, a restart runs from the cached bundle, and a changed runbook is bundled again, the stale bundle removed', async () => {
    const first = await recoverWithNewWorker();
    const line = (output: string[]) => output.find((l) => l.startsWith('workflow bundle: ')) ?? output.join('\n');
    const bundleOf = (output: string[]) => line(output).split(' ')[2]!;
    assert.match(line(first.output), new RegExp(`^workflow bundle: ${cache}/\\w+-\\w+\\.js \\(built now\\)$`));
    assert.match(first.note ?? '', /source v1/);

    const second = await recoverWithNewWorker();
    assert.match(line(second.output), /\(cached, its sources unchanged\)$/);
    assert.equal(bundleOf(second.output), bundleOf(first.output), 'the same bundle file');
    assert.match(second.note ?? '', /source v1/);

    writeFileSync(runbookFile, runbook('v2'));
    const third = await recoverWithNewWorker();
    assert.match(line(third.output), /\(built now\)$/);
    assert.match(third.note ?? '', /source v2/, 'the worker ran the changed runbook, not the cached bundle of the old one');
    assert.notEqual(bundleOf(third.output), bundleOf(first.output));
    assert.equal(existsSync(bundleOf(first.output)), false, 'the stale bundle is removed');

    // The cache itself, as the worker calls it: the same answer without bundling while nothing changed.
    const again = await cachedWorkflowBundle([{ name: 'noted-restart', file: runbookFile }], cache);
    assert.deepEqual({ codePath: again.codePath, built: again.built }, { codePath: bundleOf(third.output), built: false });
    assert.deepEqual(
      again.runbooks.map((r) => r.name),
      ['noted-restart'],
    );
    assert.match(readFileSync(again.codePath, 'utf8'), /source v2/);
  });
});
