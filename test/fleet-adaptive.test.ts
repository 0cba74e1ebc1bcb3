/**
 * The adaptive fleet cap (issue 16). First the limiter workflow itself, driven by acquire and
 * release signals on the dev server: cheap recoveries (immediate or progressive restarts) are
 * admitted by their host's AIMD window, which starts at half its ceiling (slow start), grows with
 * quick successes and halves on a failure, while destructive ones stay at the strict cap, and one host's full window
 * holds back no other host, no window is halved below the strict cap, and a permit whose supervisor
 * is gone goes on to the next request at once. Then real supervisors: seven slow-starting services killed at once,
 * twice, with no cap configured: the second time more than five are recovered at once.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { supervisorState } from '../client/supervisors';
import { fleetLimiterWorkflowId, supervisorWorkflowId } from '../core/constants';
import { acquireSignal, fleetStateQuery, releaseSignal, type FleetLimiterState } from '../core/messages';
import type { Component } from '../core/schemas';
import type { PermitRequest, SupervisorState } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { MendClient } from '../client';
import {
  httpStatus,
  recordHistory,
  ROOT,
  sharedServer,
  startInProcessWorker,
  startRunbookSuite,
  superviseRunning,
  stopSupervisedSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type TestWorker,
} from './helpers';

/**
 * A fleet limiter on a queue of its own, with an in-process worker and a client, set up and ended
 * around the calling describe block. Permits are signalled to the asking supervisor; here a second
 * limiter (which ignores them) stands in for each.
 */
function limiterLab(name: string) {
  const queue = uniqueQueue(name);
  const lab = {
    queue,
    limiterId: fleetLimiterWorkflowId(queue),
    standIn: fleetLimiterWorkflowId(`${queue}-stand-in`),
    client: undefined as unknown as MendClient,
  };
  let worker: TestWorker | undefined;
  before(async () => {
    worker = await startInProcessWorker(queue);
    lab.client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    await lab.client.temporal.workflow.start(WORKFLOW_TYPES.fleetLimiter, { workflowId: lab.standIn, taskQueue: queue, args: [{}] });
  });
  after(async () => {
    for (const id of [lab.limiterId, lab.standIn])
      await lab.client?.temporal.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await lab.client?.close();
    await worker?.stop();
  });
  return lab;
}

describe('the fleet limiter admits cheap recoveries by an adaptive window per host', () => {
  const lab = limiterLab('fleet-aimd');
  const { queue, limiterId, standIn } = lab;

  const acquire = (req: Omit<PermitRequest, 'supervisorId'>) =>
    lab.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.fleetLimiter, {
      workflowId: limiterId,
      taskQueue: queue,
      args: [{}],
      signal: acquireSignal,
      signalArgs: [{ ...req, supervisorId: standIn }],
    });
  const cheap = (component: string, host = 'local') => acquire({ component, max: 2, adaptive: { ceiling: 12, slowMs: 60_000 }, host });
  const state = () => lab.client.temporal.workflow.getHandle(limiterId).query(fleetStateQuery);
  const held = (s: FleetLimiterState, filter: (h: FleetLimiterState['holders'][number]) => boolean) => s.holders.filter(filter).length;
  const cheapOn = (host: string) => (h: FleetLimiterState['holders'][number]) => h.cheap === true && h.host === host;
  const settled = (what: string, check: (s: FleetLimiterState) => boolean) =>
    waitFor(what, 20_000, async () => {
      const s = await state();
      return check(s) && s;
    });

  test('a new window admits half its ceiling at once, quick successes take it to the ceiling, a failure halves it, destructive ones stay at the cap', async () => {
    for (let i = 0; i < 4; i++) await acquire({ component: `d${i}`, max: 2, destructive: true, maxDestructivePerMinute: 100 });
    for (let i = 0; i < 30; i++) await cheap(`c${i}`);
    // A second host with a queue of its own.
    for (let i = 0; i < 3; i++) await cheap(`b${i}`, 'b');

    // At first every window is half its ceiling (6 of 12), per host, not the strict cap (2): host b
    // has only 3 queued. Destructive ones have the strict cap (2).
    let s = await settled('first grants', (x) => x.holders.length === 6 + 3 + 2);
    assert.equal(held(s, cheapOn('local')), 6, 'slow start: half the ceiling at once');
    assert.equal(held(s, cheapOn('b')), 3);
    assert.equal(
      held(s, (h) => !h.cheap),
      2,
    );

    // Quick successes on host local: each gives its permit back and widens the window by one.
    let next = 6;
    for (let round = 0; round < 2; round++) {
      const holding = s.holders.filter(cheapOn('local')).map((h) => h.component);
      for (const component of holding) await lab.client.temporal.workflow.getHandle(limiterId).signal(releaseSignal, { component, ok: true });
      next = Math.min(12, next + holding.length);
      const want = next;
      s = await settled(
        `window ${want} on local`,
        (x) => held(x, cheapOn('local')) === Math.min(want, x.waiting.filter((w) => w.adaptive && w.host !== 'b').length + held(x, cheapOn('local'))),
      );
    }
    assert.ok(held(s, cheapOn('local')) > 5, `more than 5 cheap recoveries at once on local (${held(s, cheapOn('local'))})`);
    assert.equal(s.windows?.local?.size, 12, 'quick successes grew the window to its ceiling');
    assert.equal(
      held(s, (h) => !h.cheap),
      2,
      'destructive recoveries stay at the strict cap',
    );
    assert.equal(held(s, cheapOn('b')), 3, "host b's window did not move with host local's");
    assert.equal(s.windows?.b?.size, 6);

    // A failed recovery halves the window: 12 → 6.
    const one = s.holders.find(cheapOn('local'))!.component;
    await lab.client.temporal.workflow.getHandle(limiterId).signal(releaseSignal, { component: one, ok: false });
    s = await settled('window halved', (x) => x.windows?.local?.size === 6);
    assert.equal(
      held(s, (h) => !h.cheap),
      2,
    );

    const { runId } = await lab.client.temporal.workflow.getHandle(limiterId).describe();
    // The branch with slow start (fleet-limiter-adaptive-windows.json is the one before it).
    recordHistory(limiterId, runId, 'fleet-limiter-slow-start.json');
  });
});

describe('the fleet limiter forgets a permit given back before its grant signal completed', () => {
  const lab = limiterLab('fleet-race');
  const { queue, limiterId, standIn } = lab;

  test('a release sent right after the request leaves no permit held (before, one that beat the grant signal was held until its 2 h lease)', async () => {
    const handle = () => lab.client.temporal.workflow.getHandle(limiterId);
    const components = Array.from({ length: 12 }, (_, i) => `r${i}`);
    for (const component of components) {
      // A supervisor whose recovery was moot or quick: the permit goes back as soon as it was asked for.
      await lab.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.fleetLimiter, {
        workflowId: limiterId,
        taskQueue: queue,
        args: [{}],
        signal: acquireSignal,
        signalArgs: [{ component, max: 1, supervisorId: standIn }],
      });
      await waitFor(
        `${component} granted (with max 1, a permit left held blocks it)`,
        20_000,
        async () => (await handle().query(fleetStateQuery)).waiting.length === 0,
      );
      await handle().signal(releaseSignal, { component, ok: true });
    }
    const s = await waitFor('every grant signalled', 20_000, async () => {
      const x = await handle().query(fleetStateQuery);
      return x.granted === components.length && x;
    });
    assert.deepEqual(
      s.holders.map((h) => h.component),
      [],
      'no permit is still held after every one was given back',
    );
    const { runId } = await handle().describe();
    recordHistory(limiterId, runId, 'fleet-limiter-record-before-signal.json');
  });
});

describe('the fleet limiter never halves a window below the strict cap', () => {
  const lab = limiterLab('fleet-floor');
  const { queue, limiterId, standIn } = lab;

  test('failed and slow recoveries in a row leave the window at the strict cap (before, one at a time)', async () => {
    const handle = () => lab.client.temporal.workflow.getHandle(limiterId);
    // Strict cap 3, ceiling 12: the window starts at 6. slowAfter 1 ms: every hold counts as slow.
    const acquire = (component: string) =>
      lab.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.fleetLimiter, {
        workflowId: limiterId,
        taskQueue: queue,
        args: [{}],
        signal: acquireSignal,
        signalArgs: [{ component, max: 3, adaptive: { ceiling: 12, slowMs: 1 }, host: 'local', supervisorId: standIn }],
      });
    for (let i = 0; i < 20; i++) await acquire(`c${i}`);
    let s = await waitFor('the first grants', 20_000, async () => {
      const x = await handle().query(fleetStateQuery);
      return x.holders.length === 6 && x;
    });
    // Each release is a failure or a slow success (held far longer than 1 ms): 6 → 3 → 1.5 → 1 without a floor.
    for (let round = 0; round < 4; round++) {
      const holding = s.holders.map((h) => h.component);
      for (const [n, component] of holding.entries()) await handle().signal(releaseSignal, { component, ok: n % 2 === 0 });
      s = await waitFor(`round ${round} re-granted`, 20_000, async () => {
        const x = await handle().query(fleetStateQuery);
        return x.holders.every((h) => !holding.includes(h.component)) && x.holders.length > 0 && x;
      });
    }
    assert.equal(s.windows?.local?.size, 3, 'the window is at the strict cap, not below it');
    assert.equal(s.holders.length, 3, 'three held at once: the strict cap');
    const { runId } = await handle().describe();
    // The branch with the floor (fleet-limiter-slow-start.json is the one before it).
    recordHistory(limiterId, runId, 'fleet-limiter-window-floor.json');
  });
});

describe('the fleet limiter hands on at once a permit whose supervisor is gone', () => {
  const lab = limiterLab('fleet-gone');
  const { queue, limiterId, standIn } = lab;

  test('a permit signalled to a gone supervisor goes to the next request waiting (before, it waited for the next acquire or release)', async () => {
    const handle = () => lab.client.temporal.workflow.getHandle(limiterId);
    const acquire = (component: string, supervisorId: string) =>
      lab.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.fleetLimiter, {
        workflowId: limiterId,
        taskQueue: queue,
        args: [{}],
        signal: acquireSignal,
        signalArgs: [{ component, max: 1, supervisorId }],
      });
    const state = (what: string, check: (s: FleetLimiterState) => boolean) =>
      waitFor(what, 20_000, async () => {
        const s = await handle().query(fleetStateQuery);
        return check(s) && s;
      });
    await acquire('held', standIn);
    await state('the one permit held', (s) => s.granted === 1 && s.holders.length === 1);
    // Oldest first: the gone supervisor's request is next, then one that can take it.
    await acquire('orphan', `mend/supervisor/gone-${queue}`);
    await acquire('next', standIn);
    await state('both waiting', (s) => s.waiting.length === 2);
    await handle().signal(releaseSignal, { component: 'held', ok: true });
    // Its signal completed too (granted counts it then): held and next got theirs; the orphan never did.
    const s = await state('the permit with the next request', (x) => x.waiting.length === 0 && x.granted === 2);
    assert.deepEqual(
      s.holders.map((h) => h.component),
      ['next'],
    );
    const { runId } = await handle().describe();
    // The branch with permit signals in flight (fleet-limiter-window-floor.json is the one before it).
    recordHistory(limiterId, runId, 'fleet-limiter-grants-in-flight.json');
  });
});

describe('supervisors recover more than five crashed services at once when recoveries are quick', () => {
  const dir = tempDir('fleet-adaptive');
  const queue = uniqueQueue('fleet-adaptive');
  const suffix = Date.now().toString(36);
  const group = `adaptive-${suffix}`;
  let suite: RunbookSuite;
  const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');
  const ids = Array.from({ length: 7 }, (_, i) => `s${i}-${suffix}`);

  before(async () => {
    const supervision = {
      group,
      interval: '1s',
      startupGrace: '0s',
      restartBackoff: { initial: '0ms', max: '0ms' },
      breaker: { maxRecoveries: 100, window: '1m' },
      // The fleet limiter's windows are what is tested: recoveries go the supervisor's way.
      restartInPlace: false,
    };
    // Each start takes 2 s, so recoveries that run at once overlap for all to see.
    const command = ['sh', '-c', `sleep 2; exec node ${JSON.stringify(path.join(ROOT, 'demo/service.js'))}`];
    const { file } = await writeDemoConfig(
      dir,
      ids.map((id) => ({ id, command, supervision, timeout: '30s' })),
      // No maxConcurrentRecoveries: the strict cap is the default 5, cheap ones adapt up to 7.
      'supervision:\n  adaptiveRecoveries: { ceiling: 7, slowAfter: 2m }\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [...ids.map(supervisorWorkflowId), fleetLimiterWorkflowId(queue)]));

  /** Kills every service, waits until each supervisor counts `n` successes, and returns the most recovery runs at once in that outage. */
  async function outage(n: number): Promise<number> {
    const killedAt = Date.now();
    for (const c of suite.config.components) process.kill((await runningProcess(processAdapter(c)))!.pid, 'SIGKILL');
    const states = await waitFor(`outage ${n} recovered`, 120_000, async () => {
      const all = await Promise.all(ids.map((id) => supervisorState(suite.client, id)));
      return all.every((s) => s && s.stats.succeeded === n && s.current === undefined) && (all as SupervisorState[]);
    });
    const runs = states.map((s) => s.stats.recent.at(-1)!).filter((r) => Date.parse(r.startedAt) >= killedAt);
    assert.equal(runs.length, ids.length);
    let peak = 0;
    for (const r of runs) {
      const at = Date.parse(r.startedAt);
      peak = Math.max(peak, runs.filter((o) => Date.parse(o.startedAt) <= at && Date.parse(o.endedAt!) > at).length);
    }
    return peak;
  }

  test('after an outage of quick recoveries, the next is recovered more than five at once', async () => {
    // The window starts at the strict cap (5) and grows with each quick success, during the outage too.
    const first = await outage(1);
    const limiter = await suite.client.temporal.workflow.getHandle(fleetLimiterWorkflowId(queue)).query(fleetStateQuery);
    assert.equal(limiter.windows?.local?.size, 7, 'seven quick successes widened the window to its ceiling');
    const second = await outage(2);
    console.log(`recovery runs at once: ${first} in the first outage, ${second} in the second`);
    assert.ok(second > 5, `more than five at once in the second outage (peak ${second})`);
    for (const c of suite.config.components) assert.equal(await httpStatus(urlOf(c)), 200, `${c.id} healthy`);
  });
});
