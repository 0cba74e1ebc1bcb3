/**
 * The pid watch that restarts in place (issue 16): a supervisor arms its watch with the authorization
 * when an exit would be recovered at once with nothing else to decide; the watch then restarts the
 * process itself on the exit, and the supervisor records that as one `immediate` run per recovery,
 * step by step, counted by its breaker. A pause disarms it. Real dev server, real processes.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import { createActivities, type WatchResult } from '../activities';
import { loadConfigFile } from '../client/config';
import { pauseSupervisor, resumeSupervisor, supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import type { RecoveryResult } from '../core/run';
import type { Component } from '../core/schemas';
import { processAdapter, runningProcess, startMarkerOf, stopProcess } from '../domain/adapters/process';
import { freePort } from '../scripts/ports';
import {
  httpStatus,
  recordHistory,
  runCli,
  sharedServer,
  startInProcessWorker,
  startRunbookSuite,
  stopSupervisedSuite,
  superviseRunning,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type TestWorker,
} from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');
const decode = (p: { data?: Uint8Array | null } | undefined) => (p?.data ? (JSON.parse(Buffer.from(p.data).toString('utf8')) as unknown) : undefined);

/** The inputs of the pid watches a history scheduled, in order. */
function watchInputs(events: HistoryEvent[]): Array<{ restart?: unknown }> {
  return events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a?.activityType?.name === 'watchProcess' ? [decode(a.input?.payloads?.[0]) as { restart?: unknown }] : [];
  });
}

describe('the pid watch restarts in place when its supervisor armed it to', () => {
  const dir = tempDir('watch-restart');
  const queue = uniqueQueue('watch-restart');
  const suffix = Date.now().toString(36);
  const group = `wr-${suffix}`;
  const ids = ['a', 'b', 'c'].map((x) => `wr-${x}-${suffix}`);
  let suite: RunbookSuite;
  const history = async (id: string) => (await suite.client.temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
  const svc = (id: string) => suite.config.components.find((c) => c.id === id)!;

  before(async () => {
    const { file } = await writeDemoConfig(
      dir,
      ids.map((id) => ({ id, supervision: { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '0ms', max: '0ms' } } })),
    );
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
    // Armed: every supervisor's watch carries the authorization.
    for (const id of ids)
      await waitFor(
        `the watch of ${id} armed to restart`,
        30_000,
        async () => watchInputs(await history(supervisorWorkflowId(id))).at(-1)?.restart !== undefined,
      );
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [...ids.map((id) => supervisorWorkflowId(id)), ...ids.map((id) => recoveryWorkflowId(id))]));

  test('a mass kill is recovered with one restart each by the watches, each recorded as one run with its steps', async () => {
    const before = await Promise.all(ids.map((id) => runningProcess(processAdapter(svc(id)))));
    const killedAt = Date.now();
    for (const p of before) process.kill(p!.pid, 'SIGKILL');

    for (const [n, id] of ids.entries()) {
      const s = await waitFor(`${id} recovered`, 60_000, async () => {
        const st = await supervisorState(suite.client, id);
        return st && st.stats.succeeded + (st.confirming ? 1 : 0) >= 1 && st.current === undefined && st.stats.recent.length > 0 && st;
      });
      assert.equal(s.stats.attempted, 1, 'one recovery');
      assert.equal(s.breaker.recoveries.length, 1, 'counted by the breaker');
      const now = await runningProcess(processAdapter(svc(id)));
      assert.ok(now && now.pid !== before[n]!.pid, 'a new process');
      assert.equal(await httpStatus(urlOf(svc(id))), 200);

      // One run, which adopted the watch's restart: its steps, no activity of its own.
      const record = s.stats.recent[0]!;
      assert.equal(record.workflowId, recoveryWorkflowId(id));
      const run = suite.client.temporal.workflow.getHandle(record.workflowId, record.runId);
      const result = (await run.result()) as RecoveryResult;
      assert.equal(result.outcome, 'recovered');
      assert.deepEqual(
        result.steps.map((x) => [x.name, x.status]),
        [
          ['probe', 'skipped'],
          ['stop', 'ok'],
          ['start', 'ok'],
          ['validate', 'ok'],
        ],
      );
      assert.match(result.steps[2]!.detail ?? '', new RegExp(`started pid ${now.pid}\\b`), 'the start it records is the process that runs');
      for (const x of result.steps.slice(1)) assert.ok(Date.parse(x.startedAt) >= killedAt && x.durationMs !== undefined, `${x.name} has its own times`);
      const runEvents = (await run.fetchHistory()).events ?? [];
      assert.equal(runEvents.filter((e) => e.activityTaskScheduledEventAttributes).length, 0, 'the run did not act again');

      // The supervisor: one child, no run lookup, no fleet permit; the watch armed again afterwards.
      const sup = await history(supervisorWorkflowId(id));
      const sinceKill = sup.filter((e) => Number(e.eventTime?.seconds ?? 0) * 1000 >= killedAt - 1_000);
      const activities = sinceKill.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
      assert.deepEqual(
        activities.filter((a) => a !== 'watchProcess'),
        [],
        'nothing but the watch',
      );
      assert.equal(sinceKill.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 1, 'one run');
      await waitFor(`the watch of ${id} armed again`, 30_000, async () => watchInputs(await history(supervisorWorkflowId(id))).at(-1)?.restart !== undefined);
    }

    // `mend runs` lists them.
    const runs = await runCli(['runs'], suite.env);
    assert.equal(runs.code, 0, runs.stderr);
    for (const id of ids) assert.match(runs.stdout, new RegExp(recoveryWorkflowId(id).replace(/\//g, '\\/')));
    const first = (await supervisorState(suite.client, ids[0]!))!.stats.recent[0]!;
    recordHistory(first.workflowId, first.runId, 'immediate-adopted-watch-restart.json');
    const supRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(ids[0]!)).describe();
    recordHistory(supervisorWorkflowId(ids[0]!), supRun.runId, 'supervisor-watch-restarted-in-place.json');
  });

  test('paused, the watch is re-armed without the authorization and a killed process is not restarted until resumed', async () => {
    const id = ids[1]!;
    const sup = supervisorWorkflowId(id);
    const attempted = (await supervisorState(suite.client, id))!.stats.attempted;
    const watchesBefore = watchInputs(await history(sup)).length;
    await pauseSupervisor(suite.client, id, 'test');
    // Disarmed: a new watch, without the authorization, replaced the armed one.
    await waitFor('a watch without the authorization', 30_000, async () => {
      const w = watchInputs(await history(sup));
      return w.length > watchesBefore && w.at(-1)?.restart === undefined;
    });
    const victim = await runningProcess(processAdapter(svc(id)));
    const killedAt = Date.now();
    process.kill(victim!.pid, 'SIGKILL');
    // The supervisor learns of the exit (its plain watch) and holds it for the pause.
    const held = await waitFor('the exit held for the pause', 30_000, async () => {
      const st = await supervisorState(suite.client, id);
      return st?.stats.recentFailures.some((f) => Date.parse(f.at) >= killedAt && f.detail.startsWith('process exited')) && st.held?.startsWith('paused') && st;
    });
    assert.equal(held.stats.attempted, attempted, 'no recovery while paused');
    assert.equal(await runningProcess(processAdapter(svc(id))), undefined, 'nothing restarted it');
    const events = await history(sup);
    const killedEvent = events.findIndex((e) => Number(e.eventTime?.seconds ?? 0) * 1000 >= killedAt);
    assert.equal(events.slice(killedEvent).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 0, 'no run started');
    const restarts = events.flatMap((e) => {
      const done = e.activityTaskCompletedEventAttributes;
      const seen = done && (decode(done.result?.payloads?.[0]) as WatchResult | undefined);
      return seen && 'restart' in seen && seen.restart && Date.parse(seen.at) >= killedAt ? [seen] : [];
    });
    assert.deepEqual(restarts, [], 'no watch restarted it');

    await resumeSupervisor(suite.client, id, 'test');
    const after = await waitFor('recovered after the resume', 60_000, async () => {
      const st = await supervisorState(suite.client, id);
      return st && st.stats.attempted > attempted && st.current === undefined && st.health === 'healthy' && st;
    });
    assert.equal(after.stats.attempted, attempted + 1);
    assert.equal(await httpStatus(urlOf(svc(id))), 200);
  });
});

describe('a watch armed to restart, retried after its agent died mid-restart', () => {
  let client: Client;
  let worker: TestWorker;
  /**
   * The watch's supervisor as its activity sees it: a real run, idle (a fleet limiter with nothing
   * queued: no activity, no child, no workflow task pending), so it neither disarms nor holds the watch.
   */
  let workflowExecution: { workflowId: string; runId: string };
  const queue = uniqueQueue('watch-retry');
  before(async () => {
    client = new Client({ connection: await Connection.connect({ address: sharedServer().address }) });
    worker = await startInProcessWorker(queue, tempDir('watch-retry-home'));
    const idle = await client.workflow.start(WORKFLOW_TYPES.fleetLimiter, { taskQueue: queue, workflowId: `idle-${Date.now().toString(36)}`, args: [{}] });
    workflowExecution = { workflowId: idle.workflowId, runId: idle.firstExecutionRunId };
    await waitFor('the stand-in idle', 30_000, async () => !(await idle.describe()).raw.pendingWorkflowTask);
  });
  after(async () => {
    await client.workflow
      .getHandle(workflowExecution.workflowId)
      .terminate('test over')
      .catch(() => undefined);
    await worker.stop();
    await client.connection.close();
  });

  const auth = { cleanup: false, validate: { timeoutMs: 20_000, intervalMs: 100 }, backoffMs: 0, window: { ceiling: 4, slowMs: 10_000, floor: 1 } };
  /** One demo service of its own (its folder, config and home), with the activities of a worker on that home. */
  const demoService = async (name: string) => {
    const dir = tempDir(`watch-restart-${name}`);
    const { file } = await writeDemoConfig(dir, [{ id: `${name}-${Date.now().toString(36)}` }]);
    const c = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components[0]!;
    return { c, ...createActivities({ stateDir: `${dir}/.mend` }) };
  };

  test('the retry finds the process the first attempt started (its heartbeat lost) and starts nothing again', async () => {
    const { c, watchProcess, startComponent } = await demoService('retried');
    const input = { component: c, maxMs: 60_000, pollMs: 50, restart: auth };
    try {
      await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });
      const old = (await runningProcess(processAdapter(c)))!;
      const scheduledTimestampMs = Date.now();
      // Attempt 1 sees the exit and restarts; its worker then dies before its result (and last heartbeats) reach the server.
      const first = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs, workflowExecution }, { client }).run(watchProcess, input);
      process.kill(old.pid, 'SIGKILL');
      const done = (await first) as WatchResult;
      assert.ok(done.exited && done.restart?.healthy, 'attempt 1 restarted it');
      const pid = (await runningProcess(processAdapter(c)))!.pid;
      assert.notEqual(pid, old.pid);
      // Attempt 2, no heartbeat details: the restart is found done, validated, not done again.
      const second = (await new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs, heartbeatDetails: undefined }, { client }).run(
        watchProcess,
        input,
      )) as WatchResult;
      assert.ok(second.exited && second.restart, 'the retry reports the restart (not lost)');
      assert.equal(second.restart.healthy, true);
      assert.deepEqual(
        second.restart.steps.map((s) => s.name),
        ['start', 'validate'],
      );
      assert.match(second.restart.steps[0]!.detail, new RegExp(`^started pid ${pid} \\(by an earlier attempt`));
      assert.equal((await runningProcess(processAdapter(c)))?.pid, pid, 'one start: the first attempt’s process still runs');
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('the retry finds the first attempt’s process by its environment when that worker died before writing the pid file, and starts nothing again', async () => {
    const { c, watchProcess, startComponent } = await demoService('unrecorded');
    const input = { component: c, maxMs: 60_000, pollMs: 50, restart: auth };
    try {
      await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });
      const old = (await runningProcess(processAdapter(c)))!;
      const scheduledTimestampMs = Date.now();
      const first = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs, workflowExecution }, { client }).run(watchProcess, input);
      process.kill(old.pid, 'SIGKILL');
      assert.ok(((await first) as WatchResult).exited, 'attempt 1 restarted it');
      const pid = (await runningProcess(processAdapter(c)))!.pid;
      // Its worker died between the spawn and the pid file write: the new process runs unrecorded, its start marker left behind.
      rmSync(processAdapter(c).pidFile!);
      writeFileSync(startMarkerOf(processAdapter(c).pidFile!), '{}');
      const second = (await new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs, heartbeatDetails: undefined }, { client }).run(
        watchProcess,
        input,
      )) as WatchResult;
      assert.ok(second.exited && second.restart?.healthy, 'the retry reports the restart (not "pid file missing")');
      assert.match(second.restart.steps.find((s) => s.name === 'start')!.detail, new RegExp(`^started pid ${pid} \\(by an earlier attempt`));
      assert.equal((await runningProcess(processAdapter(c)))?.pid, pid, 'adopted: the pid file names the first attempt’s process again');
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('a plain watch whose pid file is gone while the component’s process runs (a start cut off before the write) adopts and watches it', async () => {
    const { c, watchProcess, startComponent } = await demoService('lost');
    try {
      await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });
      const live = (await runningProcess(processAdapter(c)))!;
      rmSync(processAdapter(c).pidFile!);
      writeFileSync(startMarkerOf(processAdapter(c).pidFile!), '{}');
      const watch = new MockActivityEnvironment({}, { client }).run(watchProcess, { component: c, maxMs: 60_000, pollMs: 50 });
      await waitFor('the pid file written again', 10_000, async () => (await runningProcess(processAdapter(c)))?.pid === live.pid);
      process.kill(live.pid, 'SIGKILL');
      const seen = (await watch) as WatchResult;
      assert.ok(seen.exited && seen.reason === 'exited', `the exit of the adopted process is seen, not "${seen.detail}"`);
      assert.match(seen.detail, new RegExp(`^pid ${live.pid} exited`));
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('a watch whose supervisor run has ended (terminated) leaves the exit alone: nothing is restarted', async () => {
    const { c, watchProcess, startComponent } = await demoService('ended');
    // The supervisor as its watch sees it: a real run, idle, then terminated (as when its component is unwatched).
    const gone = await client.workflow.start(WORKFLOW_TYPES.fleetLimiter, { taskQueue: queue, workflowId: `ended-${Date.now().toString(36)}`, args: [{}] });
    await waitFor('the stand-in idle', 30_000, async () => !(await gone.describe()).raw.pendingWorkflowTask);
    await gone.terminate('component unwatched');
    try {
      await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });
      const old = (await runningProcess(processAdapter(c)))!;
      const watch = new MockActivityEnvironment(
        { attempt: 1, scheduledTimestampMs: Date.now(), workflowExecution: { workflowId: gone.workflowId, runId: gone.firstExecutionRunId } },
        { client },
      ).run(watchProcess, { component: c, maxMs: 60_000, pollMs: 50, restart: auth });
      process.kill(old.pid, 'SIGKILL');
      const result = (await watch) as WatchResult;
      assert.ok(result.exited, 'the exit is reported');
      assert.equal((result as { restart?: unknown }).restart, undefined, 'no restart');
      assert.equal(await runningProcess(processAdapter(c)), undefined, 'the process stays stopped');
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('the look-up for a lost watch’s restart reports none when the process predates the watch, and starts nothing', async () => {
    const { c, findLostWatchRestart, startComponent } = await demoService('lost-none');
    try {
      await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });
      const live = (await runningProcess(processAdapter(c)))!;
      const seen = (await new MockActivityEnvironment({}, { client }).run(findLostWatchRestart, {
        component: c,
        restart: auth,
        since: Date.now() + 1_000,
      })) as WatchResult;
      assert.equal(seen.exited, false, 'no restart found');
      assert.equal('restart' in seen && seen.restart, false);
      assert.equal((await runningProcess(processAdapter(c)))?.pid, live.pid, 'nothing started or stopped');
    } finally {
      await stopProcess(processAdapter(c));
    }
  });

  test('a watch that restarted its process while others on its host still restart answers once they are done, or at once when its process exits', async () => {
    // Two services on one worker (one adaptive window), admitted one at a time; b's restart validates
    // against a port nobody listens on, so it goes on for its validation timeout (3 s) after a's restart.
    const dir = tempDir('watch-restart-burst');
    const suffix = Date.now().toString(36);
    const { file } = await writeDemoConfig(dir, [{ id: `burst-a-${suffix}` }, { id: `burst-b-${suffix}` }]);
    const [a, b0] = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components as [Component, Component];
    const b: Component = { ...b0, probe: { ...b0.probe, url: `http://127.0.0.1:${await freePort()}/healthz` } as Component['probe'] };
    const { watchProcess, startComponent } = createActivities({ stateDir: `${dir}/.mend` });
    const oneAtATime = { ...auth, window: { ceiling: 1, slowMs: 10_000, floor: 1 } };
    const watch = (c: Component, validateMs: number, beat: (details: unknown) => void = () => undefined) => {
      const env = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs: Date.now(), workflowExecution }, { client });
      env.on('heartbeat', beat);
      const input = { component: c, maxMs: 60_000, pollMs: 50, restart: { ...oneAtATime, validate: { timeoutMs: validateMs, intervalMs: 100 } } };
      return env.run(watchProcess, input).then((r) => ({ result: r as WatchResult, at: Date.now() }));
    };
    /** Both watches armed; a's process killed, then b's once a's restart has begun (so a's is admitted first, b's waits for it). */
    const killBoth = async (beatOfA: (details: unknown) => void = () => undefined) => {
      const olds = await Promise.all([a, b].map(async (c) => (await runningProcess(processAdapter(c)))!));
      let aBegun: () => void = () => undefined;
      const begun = new Promise<void>((resolve) => (aBegun = resolve));
      const watches = [
        watch(a, 20_000, (details) => {
          if (((details ?? {}) as { steps?: Array<{ name: string }> }).steps?.some((x) => x.name === 'stop')) aBegun();
          beatOfA(details);
        }),
        watch(b, 3_000),
      ] as const;
      process.kill(olds[0]!.pid, 'SIGKILL');
      await begun;
      process.kill(olds[1]!.pid, 'SIGKILL');
      return watches;
    };
    try {
      for (const c of [a, b]) await new MockActivityEnvironment({}, { client }).run(startComponent, { component: c });

      // Held: a's answer comes when b's restart is over, though its own restart ended seconds before.
      const [heldA, doneB] = await Promise.all(await killBoth());
      assert.ok(heldA.result.exited && heldA.result.restart?.healthy, 'a restarted, healthy');
      assert.ok(doneB.result.exited && doneB.result.restart && !doneB.result.restart.healthy, 'b restarted, never healthy on its wrong port');
      const bEnded = Date.parse(doneB.result.restart.endedAt);
      assert.ok(Date.parse(heldA.result.restart.endedAt) <= bEnded - 2_000, 'a’s restart ended well before b’s');
      assert.ok(heldA.at >= bEnded - 50, `a answered once b’s restart was over (${bEnded - heldA.at} ms before it)`);

      // Its process exits during the hold (killed once a's heartbeat says it validated healthy): a answers at once, while b still restarts.
      let killedAt = 0;
      const validated = (details: unknown) => {
        const { steps = [], started } = (details ?? {}) as { steps?: Array<{ name: string; status: string }>; started?: { pid: number } };
        if (killedAt === 0 && started && steps.some((x) => x.name === 'validate' && x.status === 'ok')) {
          killedAt = Date.now();
          process.kill(started.pid, 'SIGKILL');
        }
      };
      const [answered, doneB2] = await Promise.all(await killBoth(validated));
      assert.ok(killedAt > 0, 'a’s new process was killed during its hold');
      assert.ok(answered.result.exited && answered.result.restart?.healthy, 'a’s restart is reported');
      assert.ok(
        answered.at < doneB2.at - 1_000,
        `a answered while b still restarted (a at +${answered.at - killedAt} ms, b at +${doneB2.at - killedAt} ms after the kill)`,
      );
      assert.ok(answered.at - killedAt < 1_000, `within moments of its exit (${answered.at - killedAt} ms)`);
    } finally {
      for (const c of [a, b]) await stopProcess(processAdapter(c)).catch(() => undefined);
    }
  });

  test('a retry whose heartbeat says the exit was seen and the stop done resumes with one start', async () => {
    const { c, watchProcess } = await demoService('resumed');
    const at = new Date().toISOString();
    const heartbeatDetails = {
      exit: { at, detail: 'pid 1 exited: killed by SIGKILL' },
      steps: [{ name: 'stop', status: 'ok', startedAt: at, endedAt: at, durationMs: 1, detail: 'not running' }],
    };
    try {
      const result = (await new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs: Date.now() - 60_000, heartbeatDetails }, { client }).run(
        watchProcess,
        { component: c, maxMs: 60_000, pollMs: 50, restart: auth },
      )) as WatchResult;
      assert.ok(result.exited && result.restart?.healthy, 'restarted');
      assert.deepEqual(
        result.restart.steps.map((s) => s.name),
        ['stop', 'start', 'validate'],
        'the stop done before is kept, not repeated; one start',
      );
      const running = await runningProcess(processAdapter(c));
      assert.match(result.restart.steps[1]!.detail, new RegExp(`started pid ${running!.pid}\\b`));
    } finally {
      await stopProcess(processAdapter(c));
    }
  });
});
