/**
 * `mend runbook test [name]`: a runbook's test (`<runbooks>/<name>.test.ts`) against a stack of its
 * own: an ephemeral Temporal dev server (in memory), a worker bundling the runbooks folder, and a
 * real demo service (demo/service.js) as the component `demo`. The test runs with node's test
 * runner and mend/testing (client/testing.ts); the history of each run it started is recorded, once
 * the test passes, as `<runbooks>/fixtures/<name>.json` (`<name>-2.json`, ... for more runs), which
 * `mend runbook replay` replays. Loaded only by this command: it brings the bundler and the SDK's worker.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { listRunbookFiles } from '../client/runbooks';
import { DEFAULT_NAMESPACE } from '../core/constants';
import type { RunbookFile } from '../core/runbooks';
import { startAdapter } from '../domain/adapters';
import { processAdapter, stopProcess } from '../domain/adapters/process';
import { DEMO_COMPONENT, TEST_ENV, type RecordedRun } from '../client/testing';
import { ensureTemporal } from '../scripts/ensure-temporal';
import { freePort } from '../scripts/ports';
import { startDevServer } from '../scripts/temporal-server';
import { createMendWorker } from '../workers/worker';
import { CliError, EXIT } from './errors';
import { FIXTURES, quietSdkLogs } from './runbooks';

const ROOT = path.resolve(__dirname, '..');

/** The runbooks to test: `name`'s, or every one with a test beside it. A name without a runbook or a test is an error. */
export function runbooksToTest(dir: string, name: string | undefined): Array<RunbookFile & { test: string }> {
  const files = listRunbookFiles(dir).map((r) => ({ ...r, test: r.file.replace(/\.ts$/, '.test.ts') }));
  if (name === undefined) return files.filter((r) => existsSync(r.test));
  const found = files.find((r) => r.name === name);
  if (!found) throw new CliError(`no runbook "${name}" in ${dir} (runbooks: ${files.map((r) => r.name).join(', ') || 'none'})`, EXIT.usage);
  if (!existsSync(found.test))
    throw new CliError(`${found.test} does not exist: a runbook's test is <name>.test.ts beside it (mend runbook new writes one)`, EXIT.usage);
  return [found];
}

/** The test stack's config: the runbooks folder and one demo service on `port`. */
function stackConfig(runbooks: string, port: number): string {
  const demo = path.join(ROOT, 'demo', 'service.js');
  return [
    'version: 1',
    `runbooks: ${JSON.stringify(runbooks)}`,
    'components:',
    `  - id: ${DEMO_COMPONENT}`,
    '    adapter:',
    '      type: process',
    `      command: ${JSON.stringify([process.execPath, demo])}`,
    `      env: ${JSON.stringify({ MEND_DEMO_NAME: DEMO_COMPONENT, PORT: String(port), STATE_FILE: `state/${DEMO_COMPONENT}.json` })}`,
    '      stopTimeout: 2s',
    `    probe: { type: http, url: "http://127.0.0.1:${port}/healthz", timeout: 1s }`,
    `    state: { paths: [state/${DEMO_COMPONENT}.json] }`,
    '    policy: { strategy: immediate, timeout: 15s, validateInterval: 100ms }',
    '',
  ].join('\n');
}

/** Runs `node --import tsx --test <file>`, its output passed through; resolves its exit code. */
function runTestFile(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  // Without an enclosing runner's NODE_TEST_CONTEXT: the test reports here, not to that runner.
  const child = spawn(process.execPath, ['--import', tsx, '--test', file], { stdio: 'inherit', env: { ...env, NODE_TEST_CONTEXT: undefined } });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** Where the n-th recorded run of `runbook` goes. */
function fixtureName(runbook: string, n: number): string {
  return n === 1 ? `${runbook}.json` : `${runbook}-${n}.json`;
}

/** Tests the runbooks; returns the number of tests that failed. Prints one line per runbook and per fixture written. */
export async function testRunbooks(dir: string, name: string | undefined, log: (line: string) => void, bundleCacheDir?: string): Promise<number> {
  const targets = runbooksToTest(dir, name);
  if (targets.length === 0) {
    log(`no runbook in ${dir} has a test (<name>.test.ts): nothing to test`);
    return 0;
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'mend-runbook-test-'));
  const stateDir = path.join(work, '.mend');
  const configFile = path.join(work, 'mend.config.yaml');
  writeFileSync(configFile, stackConfig(dir, await freePort()));
  const config = loadConfigFile(configFile, { stateDir });
  const demo = config.components.find((c) => c.id === DEMO_COMPONENT)!;
  const taskQueue = 'mend-runbook-test';

  quietSdkLogs(Runtime, DefaultLogger);
  const binary = await ensureTemporal();
  const server = await startDevServer({ binary: binary.path, uiPort: false, logFile: path.join(work, 'temporal.log') });
  let client: MendClient | undefined;
  let worker: Awaited<ReturnType<typeof createMendWorker>> | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await createMendWorker({
      address: server.address,
      namespace: DEFAULT_NAMESPACE,
      taskQueue,
      runbooks: listRunbookFiles(dir),
      // The user's bundle cache (MEND_HOME's), not the throwaway state folder: `mend runbook replay` after the test reuses the bundle.
      bundleCacheDir,
      activityDeps: { stateDir },
      overrides: { shutdownGraceTime: '1s' },
    });
    running = worker.run();
    client = await MendClient.connect({ address: server.address, taskQueue });
    let failed = 0;
    for (const runbook of targets) {
      const record = path.join(work, `${runbook.name}.runs.jsonl`);
      writeFileSync(record, '');
      await startAdapter(demo);
      const code = await runTestFile(runbook.test, {
        ...process.env,
        MEND_TEMPORAL_ADDRESS: server.address,
        MEND_TASK_QUEUE: taskQueue,
        MEND_CONFIG: configFile,
        MEND_HOME: stateDir,
        [TEST_ENV.runbook]: runbook.name,
        [TEST_ENV.record]: record,
      });
      await stopProcess(processAdapter(demo)).catch(() => undefined);
      const runs = readFileSync(record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedRun);
      if (code !== 0) {
        failed += 1;
        log(`FAILED  ${runbook.name}: ${path.relative(process.cwd(), runbook.test) || runbook.test} (exit ${code}); no fixture recorded`);
        continue;
      }
      log(`ok      ${runbook.name}: ${path.relative(process.cwd(), runbook.test) || runbook.test}`);
      const counts = new Map<string, number>();
      for (const run of runs) {
        const n = (counts.get(run.runbook) ?? 0) + 1;
        counts.set(run.runbook, n);
        const history = await client.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        const file = path.join(dir, FIXTURES, fixtureName(run.runbook, n));
        mkdirSync(path.dirname(file), { recursive: true });
        // The workflow id goes along: replaying a runbook that derives ids from it needs the real one.
        writeFileSync(file, JSON.stringify({ workflowId: run.workflowId, ...(JSON.parse(historyToJSON(history)) as object) }, null, 2) + '\n');
        log(`        recorded ${path.relative(process.cwd(), file) || file}`);
      }
    }
    return failed;
  } finally {
    await stopProcess(processAdapter(demo)).catch(() => undefined);
    await client?.close();
    if (worker) for (const w of worker.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running?.catch(() => undefined);
    await worker?.connection.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
