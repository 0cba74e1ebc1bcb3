/**
 * `npm test`'s runner: finds or builds the Temporal CLI, starts ONE dev server on free ports and
 * bundles the workflows ONCE, then runs every test/*.test.ts with node's test runner, sharing both.
 * Each test uses its own task queue. The server is stopped at the end, whatever happened.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ensureTemporal } from './ensure-temporal';
import { startDevServer } from './temporal-server';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = readdirSync(path.join(ROOT, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)))
    .sort()
    .map((f) => path.join('test', f));
  if (files.length === 0) {
    console.error(`no test files match ${filter.join(' ')}`);
    return 2;
  }

  const t0 = Date.now();
  const binary = await ensureTemporal();
  const work = mkdtempSync(path.join(os.tmpdir(), 'mend-test-'));
  const server = await startDevServer({ binary: binary.path, uiPort: false, dbFile: path.join(work, 'temporal.db'), fastSqlite: true, logFile: path.join(work, 'temporal.log') });
  const stopServer = () => server.stop();
  process.once('SIGINT', () => void stopServer().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopServer().then(() => process.exit(143)));
  try {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
    const bundlePath = path.join(work, 'workflow-bundle.js');
    writeFileSync(bundlePath, code);
    console.log(`test harness: Temporal ${binary.version} (${binary.source}) at ${server.address}, workflows bundled, ready in ${Date.now() - t0}ms`);

    const env = {
      ...process.env,
      MEND_TEST_TEMPORAL_ADDRESS: server.address,
      MEND_WORKFLOW_BUNDLE: bundlePath,
      TEMPORAL_CLI_PATH: binary.path,
      MEND_TEST_WORK: work,
    };
    return await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { cwd: ROOT, env, stdio: 'inherit' });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await stopServer();
    rmSync(work, { recursive: true, force: true });
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`test harness: ${err.message}`);
    process.exit(1);
  },
);
