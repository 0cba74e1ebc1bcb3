/**
 * A process that dies while it starts is noticed at once: the validate step watches the started
 * pid and fails as soon as it is gone, with the exit status and the process's last log lines,
 * instead of probing until the validation timeout. Real services, a real worker, the installed CLI.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RecoveryResult } from '../core/run';
import { recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, writeDemoConfig, type RunbookSuite } from './helpers';

/** Generous against a loaded machine, and far above what noticing a dead pid takes. */
const VALIDATION_TIMEOUT_MS = 20_000;

function onlyRun(stdout: string): { result: RecoveryResult; workflowId: string; runId: string } {
  const runs = JSON.parse(stdout) as Array<{ result: RecoveryResult; workflowId: string; runId: string }>;
  assert.equal(runs.length, 1);
  return runs[0]!;
}

describe('a process that dies during start', () => {
  const dir = tempDir('start-failure');
  const queue = uniqueQueue('start-failure');
  const suffix = Date.now().toString(36);
  const ids = { portTaken: `port-taken-${suffix}`, exits3: `exits3-${suffix}` };
  let suite: RunbookSuite;
  let holder: net.Server;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const { file, services } = await writeDemoConfig(dir, [
      { id: ids.portTaken, timeout: `${VALIDATION_TIMEOUT_MS}ms` },
      {
        id: ids.exits3,
        command: ['node', '-e', "console.error('fatal: config file /etc/exits3.conf is missing'); process.exit(3)"],
        timeout: `${VALIDATION_TIMEOUT_MS}ms`,
      },
    ]);
    // Another listener holds the service's port and resets every connection (what the probe then sees).
    holder = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => holder.listen(services[0]!.port, '127.0.0.1', resolve));
    suite = await startRunbookSuite(dir, queue, file);
    env = { ...suite.env, MEND_CONFIG: file };
  });

  after(async () => {
    await suite?.stop();
    await new Promise((resolve) => holder?.close(resolve));
  });

  test('a service whose port is taken fails its run at once, class resource, with its exit code and the EADDRINUSE log line', async () => {
    const startedAt = Date.now();
    const run = await runCli(['run', 'immediate', ids.portTaken, '--json'], env);
    const wallMs = Date.now() - startedAt;
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const { result } = onlyRun(run.stdout);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.failureClass, 'resource', result.reason);
    assert.match(result.reason ?? '', new RegExp(`^${ids.portTaken} exited before it was healthy \\(pid \\d+, exit code 1\\); log: `));
    assert.match(result.reason ?? '', /EADDRINUSE/, 'the log line naming the cause is in the reason');
    const validate = result.steps.find((s) => s.name === 'validate')!;
    assert.equal(validate.status, 'failed');
    assert.ok(
      validate.durationMs! < VALIDATION_TIMEOUT_MS / 2,
      `validation ended after ${validate.durationMs}ms, not at its ${VALIDATION_TIMEOUT_MS}ms timeout`,
    );
    assert.ok(wallMs < VALIDATION_TIMEOUT_MS / 2 + 5_000, `the whole CLI call took ${wallMs}ms`);
  });

  test('a command that exits with code 3 at once fails its run, class crash, with "exit code 3" and its last log line', async () => {
    const run = await runCli(['run', 'immediate', ids.exits3, '--json'], env);
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const { result, workflowId, runId } = onlyRun(run.stdout);
    assert.equal(result.failureClass, 'crash', result.reason);
    assert.match(result.reason ?? '', /\(pid \d+, exit code 3\); log: fatal: config file \/etc\/exits3\.conf is missing$/);
    assert.ok(result.durationMs < VALIDATION_TIMEOUT_MS / 2, `the run took ${result.durationMs}ms`);
    recordHistory(workflowId, runId, 'immediate-crashed.json');
  });

  test('`mend status` shows the failed validation step as failed, with the reason', async () => {
    const status = await runCli(['status', ids.exits3], env);
    assert.equal(status.code, 1, status.stderr);
    const validate = status.stdout.split('\n').find((l) => /^\s+\S+\s+validate\s/.test(l)) ?? '';
    assert.match(validate, /^\s+failed\s+validate\s.*exited before it was healthy \(pid \d+, exit code 3\); log: fatal: config file/, status.stdout);
    assert.match(status.stdout, new RegExp(`${ids.exits3}: failed after .*: ${ids.exits3} exited before it was healthy \\(pid \\d+, exit code 3\\)`));
  });
});
