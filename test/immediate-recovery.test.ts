/**
 * The `immediate` runbook end to end: a real demo service is killed for real, `mend run immediate`
 * (the installed CLI) recovers it through a real worker on the shared dev server.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { runningProcess, startProcess, stopProcess, processAdapter } from '../domain/adapters/process';
import { loadConfigFile } from '../client/config';
import { recoveryWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import { STRATEGIES, type Config } from '../core/schemas';
import {
  httpStatus,
  recordHistory,
  runCli,
  runMendBinary,
  sharedServer,
  startInProcessWorker,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type TestWorker,
} from './helpers';

/** The one run `mend run --json` printed. */
function onlyRun(stdout: string): { result: RecoveryResult; workflowId: string; runId: string } {
  const runs = JSON.parse(stdout) as Array<{ result: RecoveryResult; workflowId: string; runId: string }>;
  assert.equal(runs.length, 1);
  return runs[0]!;
}

describe('immediate recovery on a real process', () => {
  const dir = tempDir('immediate');
  const queue = uniqueQueue('immediate');
  let worker: TestWorker;
  let config: Config;
  let configFile: string;
  let connection: Connection;
  let client: Client;
  const env = () => ({ MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_CONFIG: configFile, MEND_HOME: path.join(dir, '.mend') });
  const component = (id: string) => config.components.find((c) => c.id === id)!;

  before(async () => {
    // Ids are unique per run: workflow ids are `mend/recover/<id>` on a server shared by all tests.
    const suffix = Date.now().toString(36);
    ({ file: configFile } = await writeDemoConfig(dir, [
      { id: `svc-${suffix}` },
      { id: `broken-${suffix}`, command: ['node', '-e', 'process.exit(1)'], timeout: '1500ms' },
    ]));
    config = loadConfigFile(configFile, { stateDir: path.join(dir, '.mend') });
    worker = await startInProcessWorker(queue);
    connection = await Connection.connect({ address: sharedServer().address });
    client = new Client({ connection });
  });

  after(async () => {
    for (const c of config?.components ?? []) await stopProcess(processAdapter(c)).catch(() => undefined);
    await worker?.stop();
    await connection?.close();
  });

  test('a SIGKILLed service answers its health endpoint again and the run says recovered', async () => {
    const svc = config.components[0]!;
    const url = svc.probe.type === 'http' ? svc.probe.url : '';
    const first = await startProcess(processAdapter(svc));
    await waitFor('service healthy', 10_000, async () => (await httpStatus(url)) === 200);

    process.kill(first.pid, 'SIGKILL');
    await waitFor('service down', 5_000, async () => (await httpStatus(url)) === undefined);

    const run = await runMendBinary(['run', 'immediate', svc.id, '--json', '--reason', 'test kill'], env()); // the installed command, end to end
    assert.equal(run.code, 0, `mend run failed: ${run.stderr}${run.stdout}`);
    const { result, workflowId } = onlyRun(run.stdout);
    assert.equal(workflowId, recoveryWorkflowId(svc.id));
    assert.equal(result.outcome, 'recovered');
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.status]),
      [
        ['probe', 'ok'],
        ['stop', 'ok'],
        ['start', 'ok'],
        ['validate', 'ok'],
      ],
    );

    assert.equal(await httpStatus(url), 200);
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== first.pid, 'a new process runs the service');

    const desc = await client.workflow.getHandle(workflowId).describe();
    const sa = desc.searchAttributes as Record<string, unknown[]>;
    assert.deepEqual(sa.MendComponents, [svc.id]);
    assert.deepEqual(sa.MendStrategy, ['immediate']);
    assert.deepEqual(sa.MendPhase, ['completion']);
    assert.deepEqual(sa.MendOutcome, ['recovered']);
    assert.deepEqual(sa.MendTrigger, ['manual']);
  });

  test('a service that exits at once ends failed, exit code 1, with the reason', async () => {
    const broken = config.components[1]!;
    const run = await runCli(['run', 'immediate', broken.id, '--json'], env());
    assert.equal(run.code, 1, run.stderr);
    const { result } = onlyRun(run.stdout);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /exited before it was healthy \(pid \d+, exit code 1\)/);
    assert.equal(result.failureClass, 'crash');
    const desc = await client.workflow.getHandle(recoveryWorkflowId(broken.id)).describe();
    assert.deepEqual((desc.searchAttributes as Record<string, unknown[]>).MendOutcome, ['failed']);
    assert.deepEqual((desc.searchAttributes as Record<string, unknown[]>).MendPhase, ['failure']);
  });

  test('a dry run probes (read-only), returns the plan and touches nothing', async () => {
    const svc = component(config.components[0]!.id);
    const before = await runningProcess(processAdapter(svc));
    assert.ok(before, 'service runs before the dry run');
    const run = await runCli(['run', 'immediate', svc.id, '--dry-run', '--json'], env());
    assert.equal(run.code, 0, run.stderr);
    const { result, workflowId, runId } = onlyRun(run.stdout);
    assert.equal(result.outcome, 'planned');
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.status]),
      [
        ['probe', 'ok'],
        ['stop', 'planned'],
        ['start', 'planned'],
        ['validate', 'planned'],
      ],
    );
    assert.equal((await runningProcess(processAdapter(svc)))?.pid, before.pid, 'same process still runs');
    recordHistory(workflowId, runId, 'immediate-dry-run.json');
  });

  test('an unknown component or strategy prints one line, exits 2 and starts nothing', async () => {
    const unknownComponent = await runCli(['run', 'immediate', 'no-such-thing'], env());
    assert.equal(unknownComponent.code, 2);
    assert.equal(unknownComponent.stderr.trim().split('\n').length, 1);
    assert.match(unknownComponent.stderr, /unknown component "no-such-thing" \(known: /);
    assert.equal(unknownComponent.stdout, '');

    const unknownStrategy = await runCli(['run', 'reboot-the-world', config.components[0]!.id], env());
    assert.equal(unknownStrategy.code, 2);
    assert.equal(unknownStrategy.stderr.trim(), `mend: unknown strategy "reboot-the-world" (available: ${STRATEGIES.join(', ')})`);

    await assert.rejects(client.workflow.getHandle(recoveryWorkflowId('no-such-thing')).describe(), /not found/i);
  });

  test('Temporal not reachable: one line, exit 3', async () => {
    const run = await runMendBinary(['run', 'immediate', config.components[0]!.id], { ...env(), MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /^mend: Temporal is not reachable at 127\.0\.0\.1:1/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
  });
});
