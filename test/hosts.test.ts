/**
 * Actions routed to each component's host, on simulated hosts: two PID namespaces (a, b), each with
 * its own agent and MEND_HOME, and the central worker of this test (which also serves the default
 * host). Where each action ran is read twice: from the identity Temporal recorded on the activity,
 * and from the process table of the host that should (and those that should not) hold the process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { stopProcess, processAdapter } from '../domain/adapters/process';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { withHomeDefaults } from '../core/config';
import { DEFAULT_HOST, healthHostScheduleId, hostTaskQueue, supervisorWorkflowId } from '../core/constants';
import type { RecoveryResult, StepRecord } from '../core/run';
import type { Component, Config } from '../core/schemas';
import { demoStarts, recordHistory, ROOT, sharedServer, startWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type Spawned } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

interface Placement {
  activity: string;
  component?: string;
  taskQueue: string;
  identity: string;
  /** What became of this attempt: completed, failed, timed out. */
  ended: string;
}

/** Every activity of a run: which component, on which queue it was scheduled, who picked it up. */
async function placements(client: MendClient, workflowId: string, runId: string): Promise<Placement[]> {
  const { events } = await client.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const all = (events ?? []) as temporal.api.history.v1.IHistoryEvent[];
  const scheduled = new Map<string, { activity: string; component?: string; taskQueue: string }>();
  const started = new Map<string, { scheduled: string; identity: string }>();
  const out: Placement[] = [];
  for (const e of all) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const data = s.input?.payloads?.[0]?.data;
      const input = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { component?: { id: string } }) : {};
      scheduled.set(id, { activity: s.activityType?.name ?? '', component: input.component?.id, taskQueue: s.taskQueue?.name ?? '' });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) started.set(id, { scheduled: String(st.scheduledEventId), identity: st.identity ?? '' });
    const end = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (end) {
      const sch = scheduled.get(String(end.scheduledEventId))!;
      const who = 'startedEventId' in end ? started.get(String(end.startedEventId)) : undefined;
      const ended = e.activityTaskCompletedEventAttributes ? 'completed' : e.activityTaskFailedEventAttributes ? 'failed' : 'timed out';
      out.push({ ...sch, identity: who?.identity ?? '', ended });
    }
  }
  return out;
}

describe('hosts: each action runs on its component host (PID namespaces)', { skip: canSimulateHosts ? false : 'needs root for unshare --pid' }, () => {
  const dir = tempDir('hosts');
  const queue = uniqueQueue('hosts');
  const s = Date.now().toString(36);
  const ids = { solo: `solo-${s}`, slow: `slow-${s}`, store: `store-${s}`, api: `api-${s}`, web: `web-${s}`, watched: `watched-${s}` };
  const group = `hosts-${s}`;
  const centralHome = path.join(dir, 'central');
  const hosts: Record<'a' | 'b', SimHost | undefined> = { a: undefined, b: undefined };
  let config: Config;
  let client: MendClient;
  let worker: Spawned;
  const c = (id: string): Component => config.components.find((x) => x.id === id)!;
  const hostOfAgent = (identity: string) => /^mend-(agent|worker)\/([\w-]+)@/.exec(identity)?.[2];
  /** The pid a host recorded for a component, from the pid file in that host's MEND_HOME. */
  const recordedPid = (host: SimHost, id: string): number =>
    (JSON.parse(readFileSync(path.join(host.home, 'run', `${id}.pid`), 'utf8')) as { pid: number }).pid;
  const marker = (host: SimHost, id: string) => `MEND_PID_FILE=${path.join(host.home, 'run', `${id}.pid`)}`;
  const step = (result: RecoveryResult, name: string, component: string): StepRecord => {
    const found = result.steps.filter((x) => x.name === name && x.component === component).at(-1);
    assert.ok(found, `no ${name} step for ${component}`);
    return found;
  };
  const t = (iso: string | undefined) => Date.parse(iso!);

  before(async () => {
    const policy = { timeout: '20s' };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: ids.solo, host: 'b', policy },
        // Healthy only some seconds after each start: a recovery of it is long enough to kill its agent in.
        { id: ids.slow, host: 'b', command: ['sh', '-c', `sleep 3 && exec node ${path.join(ROOT, 'demo/service.js')}`], policy: { timeout: '40s' } },
        { id: ids.store, host: 'a', critical: true, policy },
        { id: ids.api, host: 'b', dependsOn: [ids.store], policy },
        { id: ids.web, dependsOn: [ids.api], policy },
        // Swept hourly: after the first sweep only its pid watch (on a) can see a crash.
        { id: ids.watched, host: 'a', policy, supervision: { group, interval: '1h', startupGrace: '0s', restartBackoff: { initial: '100ms' } } },
      ],
      'hosts:\n  - { id: a, description: simulated host a }\n  - { id: b, labels: { role: api } }\n',
    );
    config = loadConfigFile(file, { stateDir: centralHome });
    for (const id of ['a', 'b'] as const) {
      hosts[id] = await startSimHost(id, queue, path.join(dir, `home-${id}`));
      await hosts[id].startAgent();
    }
    worker = await startWorker(queue, { MEND_HOME: centralHome });
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    if (client) {
      await deleteHealthSchedules(client, queue, [healthHostScheduleId(group, 'a')]);
      await client.temporal.workflow
        .getHandle(supervisorWorkflowId(ids.watched))
        .terminate('test over')
        .catch(() => undefined);
    }
    // Processes of a and b die with their namespaces; the default host's run under the central home.
    for (const x of config?.components ?? []) if (x.host === DEFAULT_HOST) await stopProcess(processAdapter(x)).catch(() => undefined);
    await worker?.stop();
    for (const h of Object.values(hosts)) await h?.stop();
    await client?.close();
  });

  test('immediate on a component of host b stops, starts and validates it on b: the process lives in b alone', async () => {
    const b = hosts.b!;
    const a = hosts.a!;
    const started = await client.startRecovery({ strategy: 'immediate', component: c(ids.solo), trigger: 'manual', requestedBy: 'test' });
    const result = await client.result(started.workflowId, started.runId);
    recordHistory(started.workflowId, started.runId, 'immediate-on-host.json');
    assert.equal(result.outcome, 'recovered', result.reason);

    const acted = await placements(client, started.workflowId, started.runId);
    // Probe, stop, start and validate: one activity on a run by hand of a process component.
    assert.deepEqual(
      result.steps.map((st) => st.name),
      ['probe', 'stop', 'start', 'validate'],
    );
    for (const activity of ['restartProcess']) {
      const ran = acted.filter((p) => p.activity === activity);
      assert.ok(ran.length > 0, `${activity} ran`);
      for (const p of ran) {
        assert.equal(p.taskQueue, hostTaskQueue(queue, 'b'), `${activity} was scheduled on b's queue`);
        assert.equal(hostOfAgent(p.identity), 'b', `${activity} was picked up by ${p.identity}`);
        assert.equal(p.identity, b.agent!.identity);
      }
    }

    // The pid file is in b's MEND_HOME, and names a process of b's namespace that is this component.
    const pid = recordedPid(b, ids.solo);
    assert.ok(b.environ(pid)?.split('\0').includes(marker(b, ids.solo)), `pid ${pid} in b is ${ids.solo}`);
    assert.ok(!a.environ(pid)?.split('\0').includes(marker(b, ids.solo)), `host a has no such process`);
    assert.ok(
      !existsSync(path.join(a.home, 'run', `${ids.solo}.pid`)) && !existsSync(path.join(centralHome, 'run', `${ids.solo}.pid`)),
      'no other host recorded it',
    );
    assert.equal(demoStarts(dir, ids.solo), 1);
  });

  test('a dependency chain across hosts (store on a, api on b, web on the default host) recovers in order, each on its host', async () => {
    const started = await client.startRecovery({
      strategy: 'dependency-aware',
      component: c(ids.store),
      trigger: 'manual',
      requestedBy: 'test',
      allComponents: config.components,
    });
    const result = await client.result(started.workflowId, started.runId);
    recordHistory(started.workflowId, started.runId, 'dependency-aware-across-hosts.json');
    assert.equal(result.outcome, 'recovered', result.reason);

    // Nothing started before what it depends on was healthy.
    assert.ok(t(step(result, 'start', ids.api).startedAt) >= t(step(result, 'validate', ids.store).endedAt), 'api started before store was healthy');
    assert.ok(t(step(result, 'start', ids.web).startedAt) >= t(step(result, 'validate', ids.api).endedAt), 'web started before api was healthy');

    const acted = await placements(client, started.workflowId, started.runId);
    const expected: Record<string, string> = { [ids.store]: 'a', [ids.api]: 'b', [ids.web]: DEFAULT_HOST };
    for (const p of acted.filter((x) => x.component && ['stopComponent', 'startComponent', 'waitUntilHealthy'].includes(x.activity))) {
      const host = expected[p.component!]!;
      // The default host's on the run's own queue: the central worker serves it and takes them at once (eager dispatch).
      const onQueue = host === DEFAULT_HOST ? queue : hostTaskQueue(queue, host);
      assert.equal(p.taskQueue, onQueue, `${p.activity} of ${p.component} scheduled for ${host}`);
      assert.equal(hostOfAgent(p.identity), host, `${p.activity} of ${p.component} ran on ${p.identity}`);
    }
    assert.match(
      acted.find((p) => p.component === ids.web && p.activity === 'startComponent')!.identity,
      /^mend-worker\/local@/,
      'the central worker serves the default host',
    );

    for (const [id, host] of [
      [ids.store, hosts.a!],
      [ids.api, hosts.b!],
    ] as const) {
      assert.ok(host.environ(recordedPid(host, id))?.split('\0').includes(marker(host, id)), `${id} runs on ${host.id}`);
    }
    const web = processAdapter(withHomeDefaults(c(ids.web), centralHome));
    assert.ok(existsSync(web.pidFile!), 'web is recorded under the central home');
    for (const id of [ids.store, ids.api, ids.web]) assert.equal(demoStarts(dir, id), 1, `${id} started once`);
  });

  test('an agent SIGKILLed mid-recovery and started again leaves the run completing exactly once', async () => {
    const b = hosts.b!;
    const started = await client.startRecovery({ strategy: 'immediate', component: c(ids.slow), trigger: 'manual', requestedBy: 'test' });
    const handle = client.temporal.workflow.getHandle(started.workflowId, started.runId);
    // The start is done (a new pid recorded; the service sleeps 3 s before it boots) and validation
    // is under way in the run's one activity on b's agent: kill that agent there.
    const first = b.agent!;
    const pidNow = () => {
      try {
        return recordedPid(b, ids.slow);
      } catch {
        return undefined;
      }
    };
    const before = pidNow();
    await waitFor('validation running on b', 30_000, async () => {
      const { raw } = await handle.describe();
      const running = raw.pendingActivities?.some((p) => p.activityType?.name === 'restartProcess' && p.lastWorkerIdentity === first.identity);
      return running && pidNow() !== undefined && pidNow() !== before && demoStarts(dir, ids.slow) === 0;
    });
    await b.killAgent();
    const second = await b.startAgent();

    const result = await client.result(started.workflowId, started.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    const acted = await placements(client, started.workflowId, started.runId);
    const validated = acted.filter((p) => p.activity === 'restartProcess');
    assert.equal(validated.at(-1)?.ended, 'completed');
    assert.equal(validated.at(-1)!.identity, second.identity, 'the new agent finished the validation');
    assert.notEqual(second.identity, first.identity);
    assert.equal(demoStarts(dir, ids.slow), 1, 'the process was started exactly once');
    assert.ok(b.environ(recordedPid(b, ids.slow))?.split('\0').includes(marker(b, ids.slow)));
  });

  test('a supervised component on host a: its sweep and its pid watch run on a, and a crash there is recovered there', async () => {
    const a = hosts.a!;
    const watched = c(ids.watched);
    const first = await client.startRecovery({ strategy: 'immediate', component: watched, trigger: 'manual', requestedBy: 'test' });
    assert.equal((await client.result(first.workflowId, first.runId)).outcome, 'recovered');
    const reconciled = await reconcileSchedules(client, { ...config, components: [watched] });
    assert.deepEqual(reconciled.created, [healthHostScheduleId(group, 'a')]);
    const schedule = client.temporal.schedule.getHandle(healthHostScheduleId(group, 'a'));
    await schedule.trigger();
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(client, ids.watched))?.health === 'healthy');

    // The sweep probed it on a.
    const sweep = (await schedule.describe()).info.recentActions.at(-1)!.action;
    const swept = await placements(client, sweep.workflow.workflowId, sweep.workflow.firstExecutionRunId);
    assert.deepEqual(
      swept.map((p) => [p.activity, p.taskQueue, p.identity]),
      [['sweepHealth', hostTaskQueue(queue, 'a'), a.agent!.identity]],
    );

    // Its pid watch runs on a's agent (only there is the pid it watches a process of a).
    const supervisor = client.temporal.workflow.getHandle(supervisorWorkflowId(ids.watched));
    await waitFor('pid watch on a', 20_000, async () =>
      (await supervisor.describe()).raw.pendingActivities?.some((p) => p.activityType?.name === 'watchProcess' && p.lastWorkerIdentity === a.agent!.identity),
    );

    const crashed = recordedPid(a, ids.watched);
    execFileSync('nsenter', ['--target', String(a.nsPid), '--pid', '--mount', '--', 'kill', '-9', String(crashed)]);
    const restarted = await waitFor('recovered on a with a new process', 60_000, async () => {
      const st = await supervisorState(client, ids.watched);
      const pid = recordedPid(a, ids.watched);
      return st?.health === 'healthy' && st.stats.succeeded >= 1 && pid !== crashed && a.environ(pid)?.split('\0').includes(marker(a, ids.watched)) && pid;
    });
    assert.ok(restarted);
    const desc = await client.temporal.workflow.getHandle(first.workflowId).describe();
    assert.notEqual(desc.runId, first.runId, 'the supervisor started its own recovery');
    const acted = await placements(client, first.workflowId, desc.runId);
    // The supervisor's confirmed crash takes the short path (stop, start and validate in one
    // activity, on a), or its pid watch restarted it in place, on a, and the run adopted that.
    const start = acted.find((p) => p.activity === 'restartProcess');
    const restarter =
      start ??
      (await placements(client, supervisorWorkflowId(ids.watched), (await supervisor.describe()).runId)).find(
        (p) => p.activity === 'watchProcess' && p.ended === 'completed' && acted.length === 0,
      );
    assert.ok(restarter, `the restart was done by the run or by the pid watch: ${acted.map((p) => p.activity).join(', ')}`);
    assert.deepEqual([restarter.taskQueue, restarter.identity], [hostTaskQueue(queue, 'a'), a.agent!.identity]);
    assert.equal(demoStarts(dir, ids.watched), 2, 'started by hand, then once by its supervisor');
  });
});
