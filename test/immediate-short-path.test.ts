/**
 * The short path of the `immediate` runbook (issue 16): when its supervisor has confirmed that a
 * process component crashed, the run does not probe again and restarts it in one activity, while
 * its result, its progress query and its history still show each step with its own times.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type RestartResult } from '../activities';
import { loadConfigFile } from '../client/config';
import { spawn } from 'node:child_process';
import { PID_FILE_ENV, processAdapter, runningProcess, stopProcess } from '../domain/adapters/process';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { progressQuery } from '../core/messages';
import type { RecoveryResult } from '../core/run';
import type { Component } from '../core/schemas';
import {
  httpStatus,
  recordHistory,
  runCli,
  startRunbookSuite,
  superviseRunning,
  stopSupervisedSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
} from './helpers';

describe('immediate recovery of a confirmed crash: the short path', () => {
  const dir = tempDir('short-path');
  const queue = uniqueQueue('short-path');
  const suffix = Date.now().toString(36);
  const group = `short-${suffix}`;
  const id = `crashy-${suffix}`;
  let suite: RunbookSuite;
  const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');

  before(async () => {
    const { file } = await writeDemoConfig(dir, [{ id, supervision: { group, interval: '1s', startupGrace: '0s', restartInPlace: false } }]);
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]));

  test('a SIGKILLed process is restarted by one activity, with stop, start and validate each in the log', async () => {
    const svc = suite.config.components[0]!;
    const first = await runningProcess(processAdapter(svc));
    assert.ok(first);
    process.kill(first.pid, 'SIGKILL');

    const recovered = await waitFor('the supervisor recovered it', 60_000, async () => {
      const s = await supervisorState(suite.client, id);
      return s && s.stats.succeeded >= 1 && s.current === undefined && s;
    });
    assert.equal(await httpStatus(urlOf(svc)), 200);
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== first.pid, 'a new process runs the service');

    const { workflowId, runId } = recovered.stats.recent[0]!;
    const handle = suite.client.temporal.workflow.getHandle(workflowId, runId);
    const result = (await handle.result()) as RecoveryResult;
    assert.equal(result.outcome, 'recovered');
    // The supervisor's confirmation stands in for a probe.
    const expected = [
      ['probe', 'skipped'],
      ['stop', 'ok'],
      ['start', 'ok'],
      ['validate', 'ok'],
    ];
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.status]),
      expected,
    );
    for (const s of result.steps.slice(1)) {
      assert.equal(s.component, id);
      assert.ok(s.durationMs !== undefined && s.endedAt !== undefined, `${s.name} has its own times`);
      assert.ok(Date.parse(s.endedAt) >= Date.parse(s.startedAt));
    }
    assert.match(result.steps.find((s) => s.name === 'start')!.detail ?? '', /started/);
    assert.match(result.steps.find((s) => s.name === 'validate')!.detail ?? '', /^healthy after \d+ probe\(s\)/);
    assert.ok(Date.parse(result.steps[2]!.startedAt) >= Date.parse(result.steps[1]!.endedAt!), 'steps in order');

    // The progress query (what `mend status` and the API show) lists the same steps.
    const progress = await handle.query(progressQuery);
    assert.deepEqual(
      progress.steps.map((s) => [s.name, s.status]),
      expected,
    );

    // `mend status` shows each step with its time, as for a run of one activity per step.
    const status = await runCli(['status', workflowId], suite.env);
    assert.equal(status.code, 0, status.stderr);
    console.log(status.stdout);
    for (const name of ['probe', 'stop', 'start', 'validate'])
      assert.match(status.stdout, new RegExp(`\\b${name}\\b.*${name === 'probe' ? 'confirmed unhealthy' : id}`));

    // One activity did it all: no probe, no separate stop, start or validation activity.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
    );
    assert.deepEqual(scheduled, ['restartProcess']);
    recordHistory(workflowId, runId, 'immediate-short-path-recovered.json');
  });
});

describe('the one-activity restart, retried after its worker died', () => {
  test('a retry whose heartbeat lost the start finds the process the first attempt started and does not start it again', async () => {
    const dir = tempDir('short-path-retry');
    const { file } = await writeDemoConfig(dir, [{ id: 'retried' }]);
    const c = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components[0]!;
    const { restartProcess } = createActivities({ stateDir: `${dir}/.mend` });
    const input = { component: c, cleanup: false, runKey: 'retry', validate: { timeoutMs: 20_000, intervalMs: 100 } };
    const scheduledTimestampMs = Date.now();
    try {
      // Attempt 1 restarts it; its worker then dies before the heartbeat with the start reached the server.
      const first = (await new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs }).run(restartProcess, input)) as RestartResult;
      assert.equal(first.validated?.healthy, true);
      const pid = first.started.pid!;
      // Attempt 2 (same first schedule time, no heartbeat details): the start is already done.
      const second = (await new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs, heartbeatDetails: undefined }).run(
        restartProcess,
        input,
      )) as RestartResult;
      assert.deepEqual(
        second.steps.map((s) => s.name),
        ['start', 'validate'],
      );
      assert.match(second.steps[0]!.detail, new RegExp(`^started pid ${pid} \\(by an earlier attempt`));
      assert.equal(second.validated?.healthy, true);
      assert.equal((await runningProcess(processAdapter(c)))?.pid, pid, 'the process of the first attempt still runs: nothing started twice');
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('a retry after a worker died between spawning the process and writing its pid file adopts that process and does not start another', async () => {
    const dir = tempDir('short-path-orphan');
    const { file } = await writeDemoConfig(dir, [{ id: 'orphaned' }]);
    const c = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components[0]!;
    const adapter = processAdapter(c);
    const { restartProcess } = createActivities({ stateDir: `${dir}/.mend` });
    const input = { component: c, cleanup: false, runKey: 'orphan', validate: { timeoutMs: 20_000, intervalMs: 100 } };
    const scheduledTimestampMs = Date.now();
    try {
      // Attempt 1 spawned the process as startProcess does (its pid file in the env), and its worker
      // died before the pid file was written: no pid file, no heartbeat.
      const [cmd, ...args] = adapter.command as [string, ...string[]];
      const orphan = spawn(cmd, args, {
        cwd: adapter.cwd,
        env: { ...process.env, ...adapter.env, [PID_FILE_ENV]: adapter.pidFile! },
        detached: true,
        stdio: 'ignore',
      });
      orphan.unref();
      await waitFor('the orphan to answer', 20_000, () => httpStatus(c.probe.type === 'http' ? c.probe.url : '').then((s) => s === 200));
      const second = (await new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs, heartbeatDetails: undefined }).run(
        restartProcess,
        input,
      )) as RestartResult;
      assert.deepEqual(
        second.steps.map((s) => s.name),
        ['start', 'validate'],
        'no stop: the process the first attempt started is kept',
      );
      assert.match(second.steps[0]!.detail, new RegExp(`^started pid ${orphan.pid} \\(by an earlier attempt`));
      assert.equal(second.validated?.healthy, true);
      assert.equal((await runningProcess(adapter))?.pid, orphan.pid, "the pid file names the first attempt's process: nothing started twice");
    } finally {
      await stopProcess(adapter);
    }
  });
});
