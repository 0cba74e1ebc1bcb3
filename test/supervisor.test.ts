/**
 * Detection and supervision for real: health schedules reconciled from config fire sweeps, the
 * sweeps report to supervisors, and the supervisors recover real demo services with no human
 * action: a SIGKILLed one (seen by the pid watch) and a hung one (SIGSTOP, seen by the sweep and
 * confirmed fast). Their counters survive a worker SIGKILL; their MTTR matches the runs' timestamps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, listHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisionStats, supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import type { Component } from '../core/schemas';
import type { FleetStats, SupervisorState } from '../core/supervision';
import {
  demoStarts,
  httpStatus,
  recordHistory,
  runCli,
  startRunbookSuite,
  startWorker,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
} from './helpers';

const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');

describe('supervisors recover demo services with no human action', () => {
  const dir = tempDir('supervisor');
  const queue = uniqueQueue('supervisor');
  const suffix = Date.now().toString(36);
  const group = `sup-${suffix}`;
  // The crash component's group sweeps once an hour: after the first sweep only its pid watch can see a crash.
  const watchGroup = `watch-${suffix}`;
  const scheduleIds = [`mend/health/${group}`, `mend/health/${watchGroup}`];
  let suite: RunbookSuite<Spawned>; // a worker process: one test kills it
  let configFile: string;
  const stopped: number[] = [];
  const component = (name: string) => suite.config.components.find((c) => c.id === `${name}-${suffix}`)!;
  const state = async (c: Component) => (await supervisorState(suite.client, c.id)) as SupervisorState;

  before(async () => {
    const supervision = {
      group,
      interval: '1s',
      failuresBeforeRecovery: 3,
      confirmInterval: '250ms',
      startupGrace: '0s',
      restartBackoff: { initial: '100ms' },
    };
    const { file } = await writeDemoConfig(dir, [
      { id: `crash-${suffix}`, supervision: { ...supervision, group: watchGroup, interval: '1h' } },
      { id: `hang-${suffix}`, supervision },
    ]);
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file, { workerProcess: true });
    for (const c of suite.config.components) await startProcess(processAdapter(c));
    for (const c of suite.config.components) await waitFor(`${c.id} healthy`, 15_000, async () => (await httpStatus(urlOf(c))) === 200);
    const reconciled = await reconcileSchedules(suite.client, suite.config);
    assert.deepEqual(reconciled.created, scheduleIds);
    // A first sweep of the hourly group now, so its supervisor exists (and watches the pid).
    await suite.client.temporal.schedule.getHandle(`mend/health/${watchGroup}`).trigger();
    for (const c of suite.config.components)
      await waitFor(`supervisor of ${c.id} sees it healthy`, 30_000, async () => (await supervisorState(suite.client, c.id))?.health === 'healthy');
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!suite) return;
    await deleteHealthSchedules(suite.client, queue, scheduleIds);
    for (const c of suite.config.components)
      await suite.client.temporal.workflow
        .getHandle(supervisorWorkflowId(c.id))
        .terminate('test over')
        .catch(() => undefined);
    await suite.worker.stop(); // the replacement worker, when a test started one
    await suite.stop();
  });

  test('the reconciled schedules are listed with their group, interval and components', async () => {
    const infos = await waitFor('schedules listed', 15_000, async () => {
      const list = await listHealthSchedules(suite.client, { owner: queue });
      return list.length === 2 && list;
    });
    assert.deepEqual(
      infos.map((i) => [i.scheduleId, i.group, i.intervalMs, i.paused, i.components]),
      [
        [`mend/health/${group}`, group, 1_000, false, [component('hang').id]],
        [`mend/health/${watchGroup}`, watchGroup, 3_600_000, false, [component('crash').id]],
      ],
    );
  });

  test('a SIGKILLed service is recovered by its supervisor (pid watch), counted, with MTTR matching the run', async () => {
    const svc = component('crash');
    const before = await runningProcess(processAdapter(svc));
    assert.ok(before);
    const killedAt = Date.now();
    process.kill(before.pid, 'SIGKILL');

    const recovered = await waitFor('supervisor counts a successful recovery', 60_000, async () => {
      const s = await state(svc);
      return s.stats.succeeded >= 1 && s.current === undefined && s;
    });
    const exit = recovered.stats.recentFailures.find((f) => f.detail.startsWith('process exited'));
    assert.ok(exit, 'the pid watch reported the exit');
    assert.equal(exit.failureClass, 'crash', 'an exited process is a crash, not unknown');
    const startedMs = Date.parse(recovered.stats.recent[0]!.startedAt) - killedAt;
    console.log(
      `SIGKILL → exit seen by the pid watch in ${Date.parse(exit.at) - killedAt}ms, recovery run started in ${startedMs}ms, MTTR ${recovered.stats.lastMttrMs}ms`,
    );
    assert.equal(await httpStatus(urlOf(svc)), 200);
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== before.pid, 'a new process runs the service');
    assert.equal(recovered.stats.attempted, 1);
    assert.equal(recovered.breaker.state, 'closed');

    // The run was started by the supervisor, under the component's recovery id, and recovered.
    const record = recovered.stats.recent[0]!;
    assert.equal(record.workflowId, recoveryWorkflowId(svc.id));
    const handle = suite.client.temporal.workflow.getHandle(record.workflowId, record.runId);
    const result = (await handle.result()) as RecoveryResult;
    assert.equal(result.outcome, 'recovered');
    const desc = await handle.describe();
    assert.deepEqual((desc.searchAttributes as Record<string, unknown[]>).MendTrigger, ['schedule']);

    // MTTR: from the first failed check (after the kill) to the run's validated end.
    assert.equal(record.endedAt, result.endedAt);
    assert.ok(record.mttrMs !== undefined && record.mttrMs >= result.durationMs, `MTTR ${record.mttrMs} covers the run (${result.durationMs}ms)`);
    const firstFailedAt = Date.parse(result.endedAt) - record.mttrMs;
    assert.ok(firstFailedAt >= killedAt - 50, 'the outage starts after the kill');
    assert.ok(firstFailedAt <= Date.parse(result.startedAt), 'the outage starts before the run');
    assert.equal(recovered.stats.lastMttrMs, record.mttrMs);

    const stats = await supervisionStats(suite.client, suite.config);
    const mine = stats.components.find((c) => c.component === svc.id)!;
    assert.equal(mine.succeeded, 1);
    assert.equal(mine.successRate, 1);
    assert.equal(mine.mttrP50Ms, record.mttrMs);
    assert.equal(stats.fleet.supervised, 2);
    const supervisorRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(svc.id)).describe();
    recordHistory(supervisorWorkflowId(svc.id), supervisorRun.runId, 'supervisor-crash-recovered.json');
  });

  test('a hung service (SIGSTOP) is detected by the sweep, confirmed, and recovered', async () => {
    const svc = component('hang');
    const before = await runningProcess(processAdapter(svc));
    assert.ok(before);
    const startsBefore = demoStarts(dir, svc.id);
    stopped.push(before.pid);
    const frozenAt = Date.now();
    process.kill(before.pid, 'SIGSTOP');

    const recovered = await waitFor('hung service recovered', 60_000, async () => {
      const s = await state(svc);
      return s.stats.succeeded >= 1 && s.current === undefined && s;
    });
    console.log(`SIGSTOP → recovered in ${Date.now() - frozenAt}ms (MTTR ${recovered.stats.lastMttrMs}ms)`);
    assert.equal(await httpStatus(urlOf(svc)), 200);
    const now = await runningProcess(processAdapter(svc));
    assert.ok(now && now.pid !== before.pid);
    assert.equal(demoStarts(dir, svc.id), startsBefore + 1);
    assert.ok(
      recovered.stats.recentFailures.some((f) => f.failureClass === 'timeout'),
      'the hang was seen as a timeout',
    );
  });

  test("a supervisor's counters survive a worker SIGKILL, and the new worker keeps supervising", async () => {
    const svc = component('crash');
    const beforeKill = await state(svc);
    assert.equal(beforeKill.stats.succeeded, 1);

    suite.worker.proc.kill('SIGKILL');
    await suite.worker.exited;
    suite.worker = await startWorker(queue, suite.env);

    const afterKill = await waitFor('supervisor answers on the new worker', 30_000, () => state(svc));
    assert.deepEqual(afterKill.stats, beforeKill.stats);
    assert.equal(afterKill.breaker.state, beforeKill.breaker.state);

    const pid = (await runningProcess(processAdapter(svc)))!.pid;
    process.kill(pid, 'SIGKILL');
    const again = await waitFor('second recovery counted', 60_000, async () => {
      const s = await state(svc);
      return s.stats.succeeded >= 2 && s.current === undefined && s;
    });
    assert.equal(again.stats.attempted, 2);
    assert.equal(again.stats.mttrs.length, 2);
    assert.equal(await httpStatus(urlOf(svc)), 200);
  });

  test('`mend stats` and `mend schedules` show what the supervisors recorded and the schedule', async () => {
    const env = { ...suite.env, MEND_CONFIG: configFile };
    const json = await runCli(['stats', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const stats = JSON.parse(json.stdout) as FleetStats;
    const crash = stats.components.find((c) => c.component === component('crash').id)!;
    const crashState = await state(component('crash'));
    assert.equal(crash.attempted, crashState.stats.attempted);
    assert.equal(crash.succeeded, crashState.stats.succeeded);
    assert.equal(crash.breaker, 'closed');
    assert.equal(stats.fleet.attempted, 3, 'two crash recoveries and one hang recovery');
    assert.equal(stats.fleet.successRate, 1);
    assert.ok(stats.fleet.mttrP50Ms !== undefined && stats.fleet.mttrP95Ms! >= stats.fleet.mttrP50Ms);

    const text = await runCli(['stats'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /COMPONENT\s+HEALTH\s+BREAKER\s+RECOVERIES\s+OK\s+FAILED\s+RELAPSED\s+SUCCESS/);
    assert.match(text.stdout, new RegExp(`${component('hang').id}\\s+healthy\\s+closed\\s+1\\s+1\\s+0\\s+0\\s+100%`));

    const prom = await runCli(['stats', '--prometheus'], env);
    assert.equal(prom.code, 0, prom.stderr);
    assert.ok(prom.stdout.includes(`mend_recoveries_total{component="${component('hang').id}",strategy="immediate",outcome="succeeded"} 1`), prom.stdout);

    const schedules = await runCli(['schedules', '--json'], env);
    assert.equal(schedules.code, 0, schedules.stderr);
    const mine = (JSON.parse(schedules.stdout) as Array<{ scheduleId: string; components: string[]; taskQueue: string }>).find(
      (s) => s.scheduleId === `mend/health/${group}`,
    );
    assert.ok(mine, 'our schedule is listed');
    assert.equal(mine.taskQueue, queue);
    assert.deepEqual(mine.components, [component('hang').id]);
  });
});
