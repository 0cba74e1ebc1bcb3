/**
 * The short path of the `immediate` runbook (issue 16): when its supervisor has confirmed that a
 * process component crashed, the run does not probe again and restarts it in one activity, while
 * its result, its progress query and its history still show each step with its own times. A run
 * started by hand (nothing observed) probes in that same activity, then restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type RestartResult } from '../activities';
import { loadConfigFile } from '../client/config';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PID_FILE_ENV, processAdapter, runningProcess, startMarkerOf, startProcess, stopProcess } from '../domain/adapters/process';
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
      mkdirSync(path.dirname(adapter.pidFile!), { recursive: true });
      writeFileSync(startMarkerOf(adapter.pidFile!), '{}');
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

describe('the one-activity restart with its probe, retried', () => {
  test('a retry keeps what the first attempt probed: it neither probes again nor changes its cleanup decision', async () => {
    const dir = tempDir('probe-first-retry');
    const data = `${dir}/data`;
    mkdirSync(data, { recursive: true });
    writeFileSync(`${data}/scratch.tmp`, 'kept: the first probe saw the service healthy');
    const { file } = await writeDemoConfig(dir, [{ id: 'reprobed', policy: { cleanupOnFailure: true }, state: { paths: [`${data}/state.json`] } }]);
    const c = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components[0]!;
    const { restartProcess } = createActivities({ stateDir: `${dir}/.mend` });
    const input = { component: c, cleanup: false, probeFirst: true, runKey: 'retry', validate: { timeoutMs: 20_000, intervalMs: 100 } };
    // Attempt 1 probed (healthy) and heartbeated that, then its worker died. The service is down now:
    // a new probe would see a crash and clean up.
    const seen = { healthy: true, detail: 'HTTP 200', latencyMs: 3 };
    const at = new Date().toISOString();
    const heartbeatDetails = {
      steps: [{ name: 'probe', status: 'ok', startedAt: at, endedAt: at, durationMs: 3, detail: 'healthy before acting' }],
      before: seen,
    };
    try {
      const retried = (await new MockActivityEnvironment({ attempt: 2, heartbeatDetails }).run(restartProcess, input)) as RestartResult;
      assert.deepEqual(
        retried.steps.map((s) => s.name),
        ['probe', 'stop', 'start', 'validate'],
        'the recorded probe stands, no second probe, and no cleanup',
      );
      assert.deepEqual(retried.before, seen);
      assert.equal(existsSync(`${data}/scratch.tmp`), true, 'nothing cleaned');
      assert.equal(retried.validated?.healthy, true);
    } finally {
      await stopProcess(processAdapter(c));
    }
  });
});

describe('a run by hand of a process component: probe and restart in one activity', () => {
  const dir = tempDir('probe-in-one');
  const queue = uniqueQueue('probe-in-one');
  const suffix = Date.now().toString(36);
  const id = `byhand-${suffix}`;
  const data = `${dir}/data`;
  let suite: RunbookSuite;

  before(async () => {
    mkdirSync(data, { recursive: true });
    const { file } = await writeDemoConfig(dir, [{ id, policy: { cleanupOnFailure: true }, state: { paths: [`${data}/state.json`] } }]);
    suite = await startRunbookSuite(dir, queue, file);
  });

  after(() => suite?.stop());

  /** Runs `immediate` as the API does (no observation before it) and returns its result and the activities its history scheduled. */
  async function runByHand(component: Component): Promise<{ result: RecoveryResult; activities: unknown[]; workflowId: string; runId: string }> {
    const run = await suite.client.startRecovery({ strategy: 'immediate', component, trigger: 'api', requestedBy: 'test', reason: 'by hand' });
    const result = await suite.client.result(run.workflowId, run.runId);
    const history = await suite.client.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const activities = (history.events ?? []).flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
    );
    return { result, activities, ...run };
  }

  test('a crashed process is probed, cleaned and restarted by one activity, each step in the log', async () => {
    const svc = suite.config.components[0]!;
    const url = svc.probe.type === 'http' ? svc.probe.url : '';
    const first = await startProcess(processAdapter(svc));
    await waitFor('service healthy', 20_000, async () => (await httpStatus(url)) === 200);
    process.kill(first.pid, 'SIGKILL');
    await waitFor('service down', 10_000, async () => (await httpStatus(url)) === undefined);
    writeFileSync(`${data}/left-over.tmp`, 'a temp file of the crashed run');

    const { result, activities, workflowId, runId } = await runByHand(svc);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(activities, ['restartProcess'], 'one activity: no probe activity, no activity per step');
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.status]),
      [
        ['probe', 'ok'],
        ['stop', 'ok'],
        ['cleanup', 'ok'],
        ['start', 'ok'],
        ['validate', 'ok'],
      ],
    );
    const [probe, , cleanup] = result.steps;
    assert.match(probe!.summary, new RegExp(`^probe ${id} before acting`));
    assert.match(probe!.detail ?? '', /^crash: /, 'the probe before acting saw it down');
    assert.match(cleanup!.detail ?? '', /moved aside: .*left-over\.tmp/);
    assert.equal(existsSync(`${data}/left-over.tmp`), false, 'the temp file was moved aside');
    for (const s of result.steps) assert.ok(s.component === id && s.durationMs !== undefined && s.endedAt !== undefined, `${s.name} has its own times`);
    assert.equal(await httpStatus(url), 200);
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== first.pid, 'a new process runs the service');

    // `mend status` shows the probe and each step, as for a run of one activity per step.
    const status = await runCli(['status', workflowId], suite.env);
    assert.equal(status.code, 0, status.stderr);
    console.log(status.stdout);
    assert.match(status.stdout, /\bprobe\b.*crash/);
    for (const name of ['stop', 'cleanup', 'start', 'validate']) assert.match(status.stdout, new RegExp(`\\b${name}\\b.*${id}`));
    recordHistory(workflowId, runId, 'immediate-probe-in-one-crashed.json');
  });

  test('a healthy process is still restarted, without cleanup, as a run of one activity per step did', async () => {
    const svc = suite.config.components[0]!;
    const url = svc.probe.type === 'http' ? svc.probe.url : '';
    await waitFor('service healthy', 20_000, async () => (await httpStatus(url)) === 200);
    const running = await runningProcess(processAdapter(svc));
    assert.ok(running);
    writeFileSync(`${data}/kept.tmp`, 'a temp file of a healthy service');

    const { result, activities } = await runByHand(svc);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(activities, ['restartProcess']);
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.status]),
      [
        ['probe', 'ok'],
        ['stop', 'ok'],
        ['start', 'ok'],
        ['validate', 'ok'],
      ],
      'healthy before acting: no cleanup',
    );
    assert.equal(result.steps[0]!.detail, 'healthy before acting');
    assert.equal(existsSync(`${data}/kept.tmp`), true, 'nothing cleaned');
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== running.pid, 'restarted all the same: a new process runs the service');
    assert.equal(await httpStatus(url), 200);
  });
});
