/**
 * The supervisor's decisions (core/supervisor-machine.ts) as unit tests: scenarios that were
 * end-to-end supervisor tests when the decisions lived in the workflow (auth, a failed recovery
 * and the breaker, a hang confirmed by probes, dependencies, a run started by hand, pause,
 * continue-as-new, the pid watch's reasons, the patch flags), and fast-check properties over
 * random reports, waits, pauses and outcomes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ComponentSchema, type Component } from '../core/schemas';
import type { ProbeReport, SupervisorSpec } from '../core/supervision';
import {
  RUN_WAIT_MS,
  decide,
  failureMoot,
  initialMachine,
  waitIntent,
  watchReason,
  type Intent,
  type MachineEvent,
  type Patch,
  type Patches,
  type RecoveryRunSeen,
  type RecordedWatchOutcome,
  type SupervisorMachine,
  type WaitIntent,
} from '../core/supervisor-machine';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const ALL: Patches = {
  oneTrial: true,
  waitOutRuns: true,
  holdForDependencies: true,
  inboxEvidence: true,
  hostOutage: true,
  drainApart: true,
  breakerReset: true,
  pidExitNoLastLook: true,
  permitWithRunLookup: true,
  hostOutageFree: true,
  permitWakesOnHealthy: true,
  dependencyOutageFree: true,
  // Its own tests below arm the watch to restart in place; the rest model the supervisor's own path.
  watchRestarts: false,
};
const iso = (ms: number) => new Date(ms).toISOString();

function component(id: string, supervision: Record<string, unknown> = {}): Component {
  return ComponentSchema.parse({
    id,
    adapter: { type: 'process', command: ['node', 'server.js'] },
    probe: { type: 'tcp', port: 1 },
    supervision: { startupGrace: '0s', ...supervision },
  });
}

function spec(supervision: Record<string, unknown> = {}, extra: Partial<SupervisorSpec> = {}): SupervisorSpec {
  return { component: component('api', supervision), notify: { webhook: 'http://127.0.0.1:9/hook', timeoutMs: 1_000 }, ...extra };
}

/** How the world answers each intent the machine waits on. */
interface World {
  /** `unreachable`: no agent of that host picked the probe up in time. */
  confirm(
    i: Extract<WaitIntent, { kind: 'confirm' }>,
  ): { healthy: boolean; failureClass?: ProbeReport['failureClass']; detail?: string } | { unreachable: string };
  recoveryRun(i: Extract<WaitIntent, { kind: 'find-recovery-run' }>): RecoveryRunSeen | undefined;
  dependencies(): Array<{ id: string; reason: string }>;
  alreadyRunning(): boolean;
  recovered(): { outcome: 'recovered' | 'failed'; reason?: string } | { error: string };
}

const calm: World = {
  confirm: () => ({ healthy: false, failureClass: 'unknown', detail: 'connection refused' }),
  recoveryRun: () => undefined,
  dependencies: () => [],
  alreadyRunning: () => false,
  recovered: () => ({ outcome: 'recovered' }),
};

/** Drives a machine as workflows/supervisor.ts does, against a scripted world; checks invariants after each decision. */
class Sim {
  m: SupervisorMachine;
  now = T0;
  /** Every intent the machine emitted, with the time. */
  readonly seen: Array<{ at: number; intent: Intent; machine: SupervisorMachine }> = [];
  waiting?: WaitIntent;
  /** Where in `seen` each dependency check that found one down was answered. */
  readonly dependencyDown: number[] = [];
  private runs = 0;
  /** How long a fleet permit takes to come (other recoveries hold the fleet's). */
  permitWaitMs = 0;
  /** What a disarmed watch armed to restart in place had done (its outcome). */
  disarmedSeen?: RecordedWatchOutcome;

  constructor(
    readonly spec: SupervisorSpec,
    public world: World = calm,
    readonly patches: Patches = ALL,
  ) {
    this.m = initialMachine({ spec }, this.now);
    this.feed({ kind: 'loop', now: this.now, historyFull: false });
    this.settle();
  }

  get state() {
    return this.m.state;
  }

  feed(ev: MachineEvent): void {
    const before = JSON.stringify(this.m);
    const out = decide(this.m, ev, this.patches);
    assert.equal(JSON.stringify(this.m), before, 'decide never changes the machine it is given');
    assert.equal(out.ask, undefined, `asked for ${out.ask}`);
    this.m = out.machine!;
    for (const intent of out.intents) this.seen.push({ at: this.now, intent, machine: this.m });
    const next = waitIntent(out.intents);
    const side = ['report', 'pause', 'resume', 'watch-ended', 'breaker-reset', 'host-status'].includes(ev.kind);
    assert.equal(
      next === undefined,
      side,
      `${ev.kind}: ${side ? 'a signal or a watch result waits on nothing' : 'every other event ends with an intent to wait on'}`,
    );
    if (next) this.waiting = next;
  }

  /** A report by signal; handled at once when the machine is idle. */
  report(r: Partial<ProbeReport> & { healthy: boolean }, gapMs = 1_000): void {
    this.now += gapMs;
    this.feed({
      kind: 'report',
      report: {
        detail: r.healthy ? 'ok' : 'connection refused',
        checkedAt: iso(this.now),
        source: 'sweep',
        failureClass: r.healthy ? undefined : 'unknown',
        ...r,
      },
    });
    if (this.waiting?.kind === 'wait') this.wake();
  }

  /** Time passes (to the machine's own deadline at most, as its timer would fire). */
  wait(ms: number): void {
    const until = this.waiting?.kind === 'wait' ? this.waiting.until : undefined;
    this.now = until !== undefined && until < this.now + ms ? Math.max(this.now, until) : this.now + ms;
    if (this.waiting?.kind === 'wait') this.wake();
  }

  wake(): void {
    this.feed({ kind: 'woke', now: this.now });
    this.settle();
  }

  /** Answers intents until the machine waits for a report or its timer again. */
  settle(limit = 200): void {
    for (let n = 0; n < limit; n++) {
      const i = this.waiting;
      if (!i || i.kind === 'wait' || i.kind === 'continue-as-new' || i.kind === 'throw') return;
      this.waiting = undefined;
      this.feed(this.answer(i));
    }
    throw new Error('the machine never settled');
  }

  private answer(i: WaitIntent): MachineEvent {
    const w = this.world;
    switch (i.kind) {
      case 'loop':
        return { kind: 'loop', now: this.now, historyFull: false };
      case 'continue':
        return { kind: 'continue', now: this.now };
      case 'confirm': {
        this.now += 50 + i.probes * i.intervalMs;
        const c = w.confirm(i);
        if ('unreachable' in c) return { kind: 'host-unreachable', now: this.now, host: c.unreachable };
        return {
          kind: 'confirmed',
          now: this.now,
          result: {
            healthy: c.healthy,
            failures: c.healthy ? 0 : i.probes,
            last: { failureClass: c.failureClass, detail: c.detail ?? 'probe' },
            lastAt: iso(this.now),
          },
        };
      }
      case 'find-recovery-run':
        this.now += i.waitMs > 0 ? 500 : 5;
        return { kind: 'recovery-run', now: this.now, run: w.recoveryRun(i) };
      case 'check-dependencies': {
        this.now += 20;
        const waitingFor = w.dependencies();
        if (waitingFor.length > 0) this.dependencyDown.push(this.seen.length);
        return { kind: 'dependencies', now: this.now, waitingFor };
      }
      case 'sleep':
        this.now += i.ms;
        return { kind: 'slept', now: this.now };
      case 'ask-permit':
        this.now += 10 + this.permitWaitMs;
        return { kind: 'permit-granted', now: this.now };
      case 'find-run-ask-permit':
        this.now += 5;
        return { kind: 'recovery-run', now: this.now, run: w.recoveryRun({ kind: 'find-recovery-run', workflowId: i.workflowId, waitMs: i.waitMs }) };
      case 'await-permit':
        this.now += 10 + this.permitWaitMs;
        return { kind: 'permit-granted', now: this.now };
      case 'start-recovery':
        this.now += 10;
        return w.alreadyRunning()
          ? { kind: 'recovery-already-running', now: this.now }
          : { kind: 'recovery-started', now: this.now, runId: `run-${++this.runs}` };
      case 'await-recovery': {
        const startedAt = this.now;
        this.now += 300;
        const r = w.recovered();
        if ('error' in r) return { kind: 'recovery-ended', now: this.now, error: r.error };
        const result = {
          outcome: r.outcome,
          reason: r.reason,
          strategy: 'immediate' as const,
          components: ['api'],
          dryRun: false,
          attempts: 1,
          steps: [],
          startedAt: iso(startedAt),
          endedAt: iso(this.now),
          durationMs: 300,
        };
        return { kind: 'recovery-ended', now: this.now, result };
      }
      case 'release-permit':
        this.now += 5;
        return { kind: 'permit-released', now: this.now };
      case 'disarm-watch':
        return { kind: 'watch-disarmed', now: this.now, ...(this.disarmedSeen ? { seen: this.disarmedSeen } : {}) };
      default:
        throw new Error(`unexpected ${i.kind}`);
    }
  }

  intents<K extends Intent['kind']>(kind: K): Array<Extract<Intent, { kind: K }>> {
    return this.seen.map((x) => x.intent).filter((i): i is Extract<Intent, { kind: K }> => i.kind === kind);
  }

  notified(kind: string): number {
    return this.intents('notify').filter((n) => n.event.kind === kind).length;
  }
}

/** What the machine waits on now (read afresh: the compiler would narrow a property across calls). */
const waitingFor = (sim: Sim): string | undefined => sim.waiting?.kind;

describe('supervisor decisions', () => {
  test('a failed sweep report is confirmed by the remaining probes at the confirm interval, then recovered with the failure handed over', () => {
    const sim = new Sim(spec({ failuresBeforeRecovery: 3, confirmInterval: '250ms' }), {
      ...calm,
      confirm: () => ({ healthy: false, failureClass: 'timeout', detail: 'timed out after 1000ms' }),
    });
    sim.report({ healthy: false, failureClass: 'timeout', detail: 'timed out after 1000ms' });
    const [confirm] = sim.intents('confirm');
    assert.deepEqual([confirm!.probes, confirm!.intervalMs], [2, 250]);
    const [start] = sim.intents('start-recovery');
    assert.ok(start, 'a recovery started');
    assert.equal(start.workflowId, 'mend/recover/api');
    assert.equal(start.workflowType, 'immediateRestart');
    assert.deepEqual([start.input.trigger, start.input.requestedBy, start.input.observed?.failureClass], ['schedule', 'supervisor', 'timeout']);
    assert.match(start.input.reason ?? '', /^3 failed checks \(timeout\): timed out/);
    assert.ok(sim.intents('stop-watch').length >= 1, 'the pid watch stops before the recovery starts');
    assert.equal(sim.state.stats.attempted, 1);
    assert.equal(sim.state.health, 'healthy');
    assert.equal(sim.state.stats.succeeded, 0, 'not a success until it holds for the relapse window');
    sim.wait(10_000);
    assert.equal(sim.state.stats.succeeded, 1);
    assert.equal(sim.state.stats.recentFailures.at(-1)?.failureClass, 'timeout');
  });

  test('a blip (a confirmation probe healthy) starts nothing and clears the count', () => {
    const sim = new Sim(spec(), { ...calm, confirm: () => ({ healthy: true }) });
    sim.report({ healthy: false });
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.deepEqual([sim.state.health, sim.state.consecutiveFailures], ['healthy', 0]);
  });

  test('an auth failure alerts once, starts no recovery, and backs off detection', () => {
    const sim = new Sim(spec({ interval: '1s' }), { ...calm, confirm: () => ({ healthy: false, failureClass: 'auth', detail: 'HTTP 401' }) });
    for (let n = 0; n < 6; n++) sim.report({ healthy: false, failureClass: 'auth', detail: 'HTTP 401' }, 1_500);
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.equal(sim.notified('auth-failure'), 1, 'alerted once');
    assert.match(sim.state.held ?? '', /^auth failure/);
    assert.ok(sim.state.detectBackoffMs >= 1_000, 'detection backs off while nothing can be done');
  });

  test('a recovery that fails is counted and alerted with its reason; the next failure opens the breaker with an alert', () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '5m', coolDown: '1h' } }), {
      ...calm,
      recovered: () => ({ outcome: 'failed', reason: 'exited before it was healthy (pid 7, exit code 1)' }),
    });
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.state.stats.attempted, sim.state.stats.failed, sim.state.stats.succeeded, sim.state.health], [1, 1, 0, 'unhealthy']);
    assert.equal(sim.state.stats.recent[0]!.outcome, 'failed');
    const failed = sim.intents('notify').find((n) => n.event.kind === 'recovery-failed')!;
    assert.match(failed.event.text, /ended failed: exited before it was healthy \(pid 7, exit code 1\)/);
    sim.report({ healthy: false, source: 'watch' }, 2_000);
    assert.equal(sim.state.breaker.state, 'open');
    assert.equal(sim.intents('start-recovery').length, 1, 'no second recovery');
    assert.equal(sim.notified('breaker-open'), 1);
    assert.equal(sim.state.stats.breakerOpened, 1);
  });

  test('a breaker reset closes an open breaker with who and why, alerts, and checks the component at once: still down, it is recovered', () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '5m', coolDown: '1h' } }), {
      ...calm,
      recovered: () => ({ outcome: 'failed', reason: 'exit code 1' }),
    });
    sim.report({ healthy: false, source: 'watch' });
    sim.report({ healthy: false, source: 'watch' }, 2_000);
    assert.equal(sim.state.breaker.state, 'open');
    assert.ok(sim.state.ignoreUntil !== undefined && sim.state.detectBackoffMs > 0, 'detection backs off while open');
    const confirmsBefore = sim.intents('confirm').length;
    sim.world = calm;

    sim.now += 1_000;
    sim.feed({ kind: 'breaker-reset', now: sim.now, by: 'alice', reason: 'disk freed' });
    assert.deepEqual(sim.state.breaker, { state: 'closed', recoveries: [], reason: 'reset by alice: disk freed' });
    assert.deepEqual(sim.state.lastBreakerReset, { at: iso(sim.now), by: 'alice', reason: 'disk freed', from: 'open' });
    assert.deepEqual([sim.state.ignoreUntil, sim.state.detectBackoffMs, sim.state.consecutiveRecoveries], [undefined, 0, 0]);
    const alert = sim.intents('notify').find((n) => n.event.kind === 'breaker-reset')!;
    assert.deepEqual(alert.event.details, { by: 'alice', reason: 'disk freed', from: 'open' });
    assert.equal(sim.m.checkDue, true, 'the loop wakes for the check');

    // The loop wakes (no report came): one probe at once, and the failure it finds goes on to a recovery.
    sim.wake();
    const check = sim.intents('confirm')[confirmsBefore]!;
    assert.deepEqual([check.probes, check.intervalMs], [1, 0]);
    assert.equal(sim.intents('start-recovery').length, 2, 'recovered again, long before the cool-down');
    assert.equal(sim.state.health, 'healthy');
    assert.equal(sim.m.checkDue, false);
  });

  test('a breaker reset while a recovery runs checks the component once that recovery has ended', () => {
    let resetDuring: { checkDue?: boolean; confirms: number } | undefined;
    const sim: Sim = new Sim(spec(), {
      ...calm,
      // Healthy once recovered.
      confirm: () => ({ healthy: resetDuring !== undefined }),
      recovered: () => {
        if (resetDuring) return { outcome: 'recovered' };
        sim.feed({ kind: 'breaker-reset', now: sim.now, by: 'bob', reason: 'try again' });
        resetDuring = { checkDue: sim.m.checkDue, confirms: sim.intents('confirm').length };
        return { outcome: 'recovered' };
      },
    });
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual(resetDuring, { checkDue: true, confirms: 0 });
    const checks = sim.intents('confirm');
    assert.equal(checks.length, 1, 'the check came after the recovery ended');
    assert.deepEqual([checks[0]!.probes, checks[0]!.intervalMs], [1, 0]);
    assert.equal(sim.intents('start-recovery').length, 1);
    assert.equal(sim.state.health, 'healthy');
  });

  test('a failed run (its result an error) is recorded failed with the error as its reason', () => {
    const sim = new Sim(spec(), { ...calm, recovered: () => ({ error: 'child workflow terminated' }) });
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.state.stats.recent[0]!.outcome, sim.state.stats.recent[0]!.reason], ['failed', 'child workflow terminated']);
  });

  test('a dependent is held while a dependency is down (no detection backoff), and recovered at the next failure once it is back', () => {
    let down = true;
    const db = component('db');
    const sim = new Sim(spec({}, { dependencies: [db] }), { ...calm, dependencies: () => (down ? [{ id: 'db', reason: 'unknown: connection refused' }] : []) });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.equal(sim.state.held, 'waiting for db (unknown: connection refused)');
    assert.equal(sim.state.ignoreUntil, undefined, 'the next failure report looks again');
    assert.deepEqual(sim.intents('check-dependencies')[0]!.dependencies, [db]);
    down = false;
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
  });

  test('a failure while a run it did not start holds the component is waited out: nothing started, nothing counted, healthy as of its end', () => {
    const manual: RecoveryRunSeen = { runId: 'manual', startedAt: iso(T0), running: true };
    let looks = 0;
    const sim = new Sim(spec(), {
      ...calm,
      recoveryRun: (i) => {
        looks++;
        if (i.waitMs === 0) return manual;
        assert.equal(i.waitMs, RUN_WAIT_MS);
        return looks < 3 ? manual : { ...manual, running: false, outcome: 'recovered', endedAt: iso(T0 + 5_000), closedAt: iso(T0 + 5_000) };
      },
    });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 0, 'never doubled');
    assert.deepEqual([sim.state.health, sim.state.stats.attempted, sim.state.waitedOutRunId, sim.state.consecutiveFailures], ['healthy', 0, 'manual', 0]);
    assert.equal(sim.state.breaker.recoveries.length, 0, 'not counted against the breaker');
  });

  test('a run that takes the recovery id first is waited out after the permit goes back; its reservation is released', () => {
    const other: RecoveryRunSeen = {
      runId: 'api-run',
      startedAt: iso(T0),
      running: false,
      outcome: 'failed',
      reason: 'gave up',
      endedAt: iso(T0 + 1_000),
      closedAt: iso(T0 + 1_000),
    };
    let lookups = 0;
    const sim = new Sim(
      spec({}, { maxConcurrentRecoveries: 1 }),
      {
        ...calm,
        alreadyRunning: () => true,
        recoveryRun: () => (lookups++ === 0 ? undefined : other),
      },
      { ...ALL, permitWithRunLookup: false },
    );
    sim.report({ healthy: false, source: 'watch' });
    const kinds = sim.seen.map((x) => x.intent.kind).filter((k) => !['log', 'notify'].includes(k));
    assert.deepEqual(kinds.slice(kinds.indexOf('ask-permit')), [
      'ask-permit',
      'stop-watch',
      'start-recovery',
      'find-recovery-run',
      'release-permit',
      'stop-watch',
      'continue',
      'loop',
      'wait',
    ]);
    assert.equal(sim.state.breaker.reservedAt, undefined);
    assert.deepEqual(sim.state.breaker.recoveries, []);
    assert.equal(sim.state.health, 'unhealthy');
    assert.match(sim.state.held ?? '', /not started by this supervisor\) ended failed: gave up/);
  });

  test('pause holds a confirmed failure (detection backs off); resume lets the next failure recover', () => {
    const sim = new Sim(spec());
    sim.feed({ kind: 'pause', now: sim.now, by: 'ops' });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.equal(sim.state.held, 'paused by ops');
    sim.feed({ kind: 'resume' });
    assert.deepEqual([sim.state.pausedUntil, sim.state.ignoreUntil, sim.state.detectBackoffMs], [undefined, undefined, 0]);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
  });

  test('a host drain holds a failure naming the host and why; only a resume ends it, and clears the drain', () => {
    const sim = new Sim(spec());
    sim.feed({ kind: 'pause', now: sim.now, by: 'alice', host: 'edge', reason: 'disk swap' });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.equal(sim.state.held, 'host edge drained (disk swap) by alice');
    assert.equal(sim.state.stats.attempted, 0);
    sim.feed({ kind: 'resume' });
    assert.deepEqual([sim.state.drainedHost, sim.state.pauseReason, sim.state.pausedUntil], [undefined, undefined, undefined]);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
  });

  test('a confirmation probe no agent picked up holds naming the host: the failure is not counted, nothing starts, a report that comes through ends it', () => {
    let reachable = false;
    const sim = new Sim(spec(), { ...calm, confirm: () => (reachable ? { healthy: true } : { unreachable: 'edge' }) });
    sim.report({ healthy: false });
    assert.equal(sim.state.held, 'host edge unreachable: its agent did not pick up a probe in time');
    assert.equal(sim.state.unreachableHost, 'edge');
    assert.deepEqual(
      sim.intents('host-down').map((i) => i.host),
      ['edge'],
      "reported to the host's workflow",
    );
    // Only the sweep's own failure: the probes that never ran count for nothing.
    assert.equal(sim.state.consecutiveFailures, 1);
    sim.report({ healthy: false });
    assert.equal(sim.state.consecutiveFailures, 2);
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.deepEqual(sim.state.breaker.recoveries, []);
    assert.equal(sim.intents('notify').length, 0);
    reachable = true;
    sim.report({ healthy: false });
    assert.deepEqual([sim.state.health, sim.state.unreachableHost, sim.state.held], ['healthy', undefined, undefined]);
  });

  test('a pause by hand outlives a drain: undrain (a resume naming the host) lifts the drain only, a plain resume lifts both', () => {
    const sim = new Sim(spec());
    sim.feed({ kind: 'pause', now: sim.now, by: 'bob', reason: 'hands off' });
    sim.feed({ kind: 'pause', now: sim.now, by: 'alice', host: 'edge', reason: 'disk swap' });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.held, 'host edge drained (disk swap) by alice');
    sim.feed({ kind: 'resume', host: 'edge' });
    assert.deepEqual([sim.state.drainedHost, sim.state.drainedBy, sim.state.pausedBy, sim.state.pauseReason], [undefined, undefined, 'bob', 'hands off']);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 0, 'still paused by hand');
    assert.equal(sim.state.held, 'paused by bob');
    // An undrain of another host changes nothing; a plain resume lifts the pause.
    sim.feed({ kind: 'pause', now: sim.now, by: 'alice', host: 'edge' });
    sim.feed({ kind: 'resume', host: 'other' });
    assert.equal(sim.state.drainedHost, 'edge');
    sim.feed({ kind: 'resume' });
    assert.deepEqual([sim.state.drainedHost, sim.state.pausedUntil], [undefined, undefined]);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
  });

  test('before drainApart (older supervisors) a drain is the pause itself, and undrain lifts it', () => {
    const sim = new Sim(spec(), calm, { ...ALL, drainApart: false });
    sim.feed({ kind: 'pause', now: sim.now, by: 'bob' });
    sim.feed({ kind: 'pause', now: sim.now, by: 'alice', host: 'edge', reason: 'disk swap' });
    assert.deepEqual([sim.state.drainedHost, sim.state.drainedBy, sim.state.pausedBy], ['edge', undefined, 'alice']);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.held, 'host edge drained (disk swap) by alice');
    sim.feed({ kind: 'resume', host: 'edge' });
    assert.deepEqual([sim.state.drainedHost, sim.state.pausedUntil], [undefined, undefined]);
  });

  test('a pid watch no agent picked up holds for the host: reported to the host once, not renewed until the host is back', () => {
    const sim = new Sim(spec());
    sim.report({ healthy: true });
    assert.equal(sim.intents('watch').length, 1);
    sim.feed({ kind: 'watch-ended', error: 'activity ScheduleToStart timeout', unreachable: 'edge' });
    assert.deepEqual(
      sim.intents('host-down').map((i) => [i.host, i.component, i.notify?.webhook]),
      [['edge', 'api', 'http://127.0.0.1:9/hook']],
    );
    assert.equal(sim.m.renewWatch, false, 'no watch queued again on a queue nobody polls');
    assert.equal(sim.state.unreachableHost, 'edge');
    assert.match(sim.state.held ?? '', /^host edge unreachable/);
    sim.wait(60_000);
    sim.report({ healthy: true });
    // A healthy report came through: the host is back for this component; the watch starts again.
    assert.equal(sim.state.unreachableHost, undefined);
    assert.equal(sim.intents('watch').length, 2);
  });

  test("the host's workflow holds a healthy supervisor (its watch stops) and lets it go again (its watch restarts)", () => {
    const sim = new Sim(spec());
    sim.report({ healthy: true });
    const watches = sim.intents('watch').length;
    const stops = sim.intents('stop-watch').length;
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: false });
    assert.equal(sim.intents('stop-watch').length, stops + 1);
    assert.equal(sim.state.held, 'host edge unreachable: its agent picks up nothing');
    sim.wait(1_000);
    assert.equal(sim.intents('watch').length, watches, 'no watch while the host is away');
    assert.equal(sim.intents('host-down').length, 0, 'the host workflow knows already');
    sim.feed({ kind: 'host-status', now: sim.now, host: 'other', reachable: true });
    assert.equal(sim.state.unreachableHost, 'edge');
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: true });
    sim.wake();
    assert.deepEqual([sim.state.unreachableHost, sim.state.held], [undefined, undefined]);
    assert.equal(sim.intents('watch').length, watches + 1);
  });

  test('before hostOutage (older supervisors) a watch nobody picked up is renewed as any failed watch', () => {
    const sim = new Sim(spec(), calm, { ...ALL, hostOutage: false });
    sim.report({ healthy: true });
    sim.feed({ kind: 'watch-ended', error: 'timeout', unreachable: 'edge' });
    assert.equal(sim.m.renewWatch, true);
    assert.equal(sim.intents('host-down').length, 0);
    assert.equal(sim.state.unreachableHost, undefined);
  });

  /** A whole host outage as the host's workflow tells it: away, the services die with it, back, and the sweep that fires at once finds the component down. */
  function hostOutage(sim: Sim, awayMs = 20_000): void {
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: false });
    sim.wait(awayMs);
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: true });
    sim.wake();
    sim.report({ healthy: false, detail: 'connection refused' });
  }

  test('the recovery after each return of its host takes no breaker slot and no restart backoff: four outages in the window leave the breaker closed', () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' }, restartBackoff: { initial: '5s' } }));
    sim.report({ healthy: true });
    for (let n = 1; n <= 4; n++) {
      hostOutage(sim);
      assert.equal(sim.intents('start-recovery').length, n, `outage ${n}: recovered`);
      assert.deepEqual([sim.state.health, sim.state.breaker.state, sim.state.breaker.recoveries.length], ['healthy', 'closed', 0], `outage ${n}`);
      assert.equal(sim.state.consecutiveRecoveries, 0, 'not a recovery in a row');
      sim.wait(10_000);
    }
    assert.equal(sim.intents('sleep').length, 0, 'no restart backoff');
    assert.deepEqual([sim.state.stats.attempted, sim.state.stats.succeeded, sim.state.stats.breakerOpened, sim.notified('breaker-open')], [4, 4, 0, 0]);
    // The component's own failures still count: one takes the only slot, the next opens the breaker.
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length], [5, 1]);
    sim.wait(10_000);
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.state], [5, 'open']);
  });

  test('before hostOutageFree (older supervisors) the recovery after a host return takes a breaker slot: the second outage opens it', () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' } }), calm, { ...ALL, hostOutageFree: false });
    sim.report({ healthy: true });
    hostOutage(sim);
    assert.equal(sim.state.breaker.recoveries.length, 1);
    sim.wait(10_000);
    hostOutage(sim);
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.state, sim.state.health], [1, 'open', 'unhealthy']);
  });

  test("only one free recovery per outage: if it fails, the next failure is the component's own and takes a slot", () => {
    let outcome: 'recovered' | 'failed' = 'failed';
    const sim = new Sim(spec({ breaker: { maxRecoveries: 3, window: '10m' } }), { ...calm, recovered: () => ({ outcome }) });
    sim.report({ healthy: true });
    hostOutage(sim);
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length, sim.state.hostReturned], [1, 0, undefined]);
    outcome = 'recovered';
    sim.report({ healthy: false }, 2_000);
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length], [2, 1]);
  });

  test("a failure first seen long after the host came back (no report between) is the component's own", () => {
    const sim = new Sim(spec({ interval: '5s' }));
    sim.report({ healthy: true });
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: false });
    sim.feed({ kind: 'host-status', now: sim.now + 5_000, host: 'edge', reachable: true });
    sim.wait(120_000);
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length], [1, 1]);
  });

  test("a failure report that comes through before the host's workflow says it is back is the outage's too", () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1 } }));
    sim.report({ healthy: true });
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: false });
    sim.report({ healthy: false }, 20_000);
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length, sim.state.unreachableHost], [1, 0, undefined]);
    // The host's workflow's news after that changes nothing.
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: true });
    assert.equal(sim.state.hostReturned, undefined);
  });

  test('a recovery that failed because its host went away while it ran gives its slot back, sends no recovery-failed alert, and the one after the return is free', () => {
    const the: { sim?: Sim } = {};
    let outcome: 'recovered' | 'failed' = 'failed';
    const world: World = {
      ...calm,
      recovered: () => {
        // The host goes away while the run acts on it: the run fails for that.
        if (outcome === 'failed') the.sim!.feed({ kind: 'host-status', now: the.sim!.now, host: 'edge', reachable: false });
        return { outcome, reason: 'start not picked up on host edge' };
      },
    };
    const sim = (the.sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' } }), world));
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.stats.failed, sim.state.breaker.recoveries.length], [1, 1, 0]);
    assert.equal(sim.notified('recovery-failed'), 0, "the host's workflow alerts once for the outage");
    assert.equal(sim.state.consecutiveRecoveries, 0);
    outcome = 'recovered';
    sim.wait(20_000);
    sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: true });
    sim.wake();
    sim.report({ healthy: false });
    assert.deepEqual(
      [sim.intents('start-recovery').length, sim.state.health, sim.state.breaker.state, sim.state.breaker.recoveries.length],
      [2, 'healthy', 'closed', 0],
    );
  });

  /** A dependent (on another host) of `db`, whose host `a` goes away: the dependency check reaches no agent there. */
  function dependentOfLostHost(patches: Patches = ALL) {
    const world = { away: false };
    const sim = new Sim(
      spec({ breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' }, restartBackoff: { initial: '5s' } }, { dependencies: [component('db')] }),
      { ...calm, dependencies: () => (world.away ? [{ id: 'host a', reason: 'unreachable' }] : []) },
      patches,
    );
    sim.report({ healthy: true });
    /** The dependent dies while db's host is away (held for it), then the host is back and db recovered: the next failure report. */
    const outage = () => {
      world.away = true;
      sim.report({ healthy: false, source: 'watch' }, 10_000);
      assert.equal(sim.state.held, 'waiting for host a (unreachable)');
      world.away = false;
      sim.report({ healthy: false }, 20_000);
    };
    return { sim, outage };
  }

  test("a dependent held for its dependency's unreachable host is recovered after the return without a breaker slot or restart backoff, once per outage", () => {
    const { sim, outage } = dependentOfLostHost();
    for (let n = 1; n <= 3; n++) {
      outage();
      assert.equal(sim.intents('start-recovery').length, n, `outage ${n}: recovered`);
      assert.deepEqual(
        [sim.state.health, sim.state.breaker.state, sim.state.breaker.recoveries.length, sim.state.consecutiveRecoveries, sim.state.dependencyHostDown],
        ['healthy', 'closed', 0, 0, undefined],
        `outage ${n}`,
      );
      sim.wait(10_000);
    }
    assert.deepEqual([sim.intents('sleep').length, sim.notified('breaker-open')], [0, 0], 'no restart backoff, no breaker alert');
    // Its own failure after that counts as usual: it takes the only slot.
    sim.report({ healthy: false, source: 'watch' });
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length], [4, 1]);
  });

  test('before dependencyOutageFree (older supervisors) the dependent takes a breaker slot after each return: the second outage opens it', () => {
    const { sim, outage } = dependentOfLostHost({ ...ALL, dependencyOutageFree: false });
    outage();
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.recoveries.length], [1, 1]);
    sim.wait(10_000);
    outage();
    assert.deepEqual([sim.intents('start-recovery').length, sim.state.breaker.state], [1, 'open']);
  });

  test('a recovery still awaiting confirmation when its host goes away is settled as interrupted: every attempt is counted once', () => {
    const sim = new Sim(spec({ relapseWindow: '5m' }));
    sim.report({ healthy: true });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
    assert.ok(sim.state.confirming, 'awaiting confirmation');
    hostOutage(sim, 1_000);
    const st = sim.state.stats;
    assert.deepEqual([st.attempted, st.succeeded, st.failed, st.relapsed ?? 0, st.interrupted ?? 0], [2, 0, 0, 0, 1]);
    assert.ok(sim.state.confirming, 'the recovery after the return awaits its own confirmation');
  });

  test('an outage right after a half-open trial is no relapse: the breaker stays half-open and the trial is tried again after the return', () => {
    const sim = new Sim(spec({ relapseWindow: '30s', breaker: { maxRecoveries: 1, window: '10m', coolDown: '1s', healthyToClose: '1h' } }));
    sim.report({ healthy: false, source: 'watch' });
    sim.report({ healthy: false, source: 'watch' }, 2_000);
    assert.equal(sim.state.breaker.state, 'open');
    sim.wait(2_000);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.breaker.trialAt !== undefined && sim.state.breaker.state, 'half-open', 'a trial ran');
    assert.ok(sim.state.confirming, 'awaiting confirmation');
    const before = [sim.state.stats.relapsed, sim.notified('breaker-open'), sim.intents('start-recovery').length];
    hostOutage(sim, 1_000);
    // Not a relapse: the interrupted trial is tried again, and the breaker stays half-open.
    assert.deepEqual(
      [sim.state.stats.relapsed, sim.notified('breaker-open'), sim.intents('start-recovery').length],
      [before[0], before[1], (before[2] as number) + 1],
    );
    assert.deepEqual([sim.state.breaker.state, sim.state.health], ['half-open', 'healthy']);
  });

  /**
   * The bench's crash loop (bench/peers/mend.ts FLAP_CONTROL, 1-s checks, 2 failures): a service
   * that dies right after every start until it is fixed at `fixAfterMs`. When does the first start
   * after the fix come?
   */
  function crashLoopFix(fixAfterMs: number, patches: Patches = ALL): { fixToStartMs: number; starts: number[] } {
    const flap = {
      interval: '1s',
      failuresBeforeRecovery: 2,
      restartBackoff: { initial: '1s', max: '30s' },
      backoffResetAfter: '10m',
      breaker: { maxRecoveries: 3, window: '2m', coolDown: '20s', healthyToClose: '5s' },
    };
    const sim = new Sim(spec(flap), calm, patches);
    sim.report({ healthy: true });
    const fixAt = sim.now + fixAfterMs;
    const starts = () => sim.seen.filter((x) => x.intent.kind === 'start-recovery').map((x) => x.at);
    while ((starts().at(-1) ?? -1) < fixAt) {
      assert.ok(sim.now < fixAt + 120_000, 'recovered after the fix');
      sim.report({ healthy: false, source: 'sweep', failureClass: 'crash', detail: 'connection refused' }, 1_000);
    }
    return { fixToStartMs: starts().at(-1)! - fixAt, starts: starts().map((t) => t - fixAt) };
  }

  test("a fix in the bench's crash loop is restarted within cool-down + checks + max restart backoff, and may by design take more than 30 s", () => {
    // Where in the loop the fix lands decides: at once while the breaker is closed, after the rest of
    // the cool-down and the half-open trial's restart backoff (grown to 8 s, 16 s ...) while it is open.
    const waits = Array.from({ length: 480 }, (_, n) => crashLoopFix(n * 250).fixToStartMs);
    const bound = 20_000 + 2 * 1_000 + 30_000;
    assert.ok(Math.max(...waits) <= bound, `at most ${bound} ms (longest ${Math.max(...waits)} ms)`);
    assert.ok(
      waits.some((w) => w > 30_000),
      'some phases wait more than the 30 s the scenario used to give: its "never" was the configured flap control, not a regression',
    );
    // Neither the host-outage nor the permit-wait branch has a say in this loop: the same starts without them.
    for (const fix of [10_000, 30_000, 45_000, 60_000, 75_000, 90_000])
      assert.deepEqual(crashLoopFix(fix, { ...ALL, hostOutageFree: false, permitWakesOnHealthy: false }).starts, crashLoopFix(fix).starts, `fix at ${fix} ms`);
  });

  test('a pause for a while ends by itself at its deadline', () => {
    const sim = new Sim(spec());
    sim.feed({ kind: 'pause', now: sim.now, forMs: 30_000 });
    sim.wake();
    assert.equal((sim.waiting as { until?: number }).until, T0 + 30_000);
    sim.wait(60_000);
    assert.equal(sim.state.pausedUntil, undefined);
  });

  test('failures within the startup grace are noted and start nothing', () => {
    const sim = new Sim(spec({ startupGrace: '1m' }));
    sim.report({ healthy: false, source: 'watch' });
    assert.match(sim.state.held ?? '', /^startup grace until/);
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.equal(sim.state.stats.recentFailures.length, 1);
  });

  test('recoveries in a row wait out a doubling restart backoff, capped at its max', () => {
    const sim = new Sim(spec({ restartBackoff: { initial: '100ms', max: '300ms' }, breaker: { maxRecoveries: 10 }, relapseWindow: '100ms' }));
    for (let n = 0; n < 5; n++) sim.report({ healthy: false, source: 'watch' }, 1_000);
    assert.deepEqual(
      sim.intents('sleep').map((s) => s.ms),
      [100, 200, 300, 300],
    );
  });

  test('continues as new when its history is long and no recovery runs, carrying its state, reports and the next generation', () => {
    const sim = new Sim(spec());
    sim.report({ healthy: true });
    sim.feed({ kind: 'report', report: { healthy: true, detail: 'ok', checkedAt: iso(sim.now + 5), source: 'sweep' } });
    sim.feed({ kind: 'loop', now: sim.now, historyFull: true });
    const can = sim.waiting;
    assert.equal(can?.kind, 'continue-as-new');
    if (can?.kind !== 'continue-as-new') return;
    assert.equal(can.state.generation, 1);
    assert.equal(can.state.health, 'healthy');
    assert.equal(can.pending.length, 1, 'reports not yet handled go along');
    const next = initialMachine({ spec: can.spec, state: can.state, pending: can.pending }, sim.now);
    assert.deepEqual([next.state.generation, next.inbox.length], [1, 1]);
  });

  test('the pid watch: an exit is a certain failure, no pid file stops watching until a recovery, alive renews it', () => {
    const sim = new Sim(spec());
    sim.report({ healthy: true });
    assert.equal(sim.intents('watch').length, 1, 'a healthy process component is watched');
    sim.feed({ kind: 'watch-ended', seen: { exited: false, detail: 'pid 7 alive', at: iso(sim.now) } });
    assert.equal(sim.m.renewWatch, true);
    sim.wake();
    sim.feed({ kind: 'watch-ended', seen: { exited: true, reason: 'pid-file-missing', detail: 'no process recorded', at: iso(sim.now) } });
    assert.equal(sim.m.watchUnavailable, true);
    const before = sim.intents('watch').length;
    sim.report({ healthy: true });
    assert.equal(sim.intents('watch').length, before, 'no watch while no pid file names a process');
    sim.feed({ kind: 'watch-ended', seen: { exited: true, reason: 'exited', detail: 'pid 7 exited', at: iso(sim.now + 1) } });
    assert.equal(sim.m.inbox.at(-1)?.detail, 'process exited (pid 7 exited)');
    assert.equal(sim.m.inbox.at(-1)?.failureClass, 'crash');
    sim.wake();
    assert.equal(sim.intents('start-recovery').length, 1, 'recovered without confirmation probes');
    assert.equal(sim.intents('confirm').length, 0);
    assert.equal(sim.m.watchUnavailable, false, 'the recovery wrote a pid file: watched again');
  });

  test('watch results recorded before the typed reason existed are read as they always were', () => {
    assert.equal(watchReason({ exited: true, detail: 'no process recorded (pid file missing)', at: iso(T0) }), 'pid-file-missing');
    assert.equal(watchReason({ exited: true, detail: 'pid 7 exited', at: iso(T0) }), 'exited');
    assert.equal(watchReason({ exited: false, detail: 'pid 7 alive', at: iso(T0) }), 'alive');
    assert.equal(
      watchReason({ exited: true, reason: 'exited', detail: 'pid file missing (in the text only)', at: iso(T0) }),
      'exited',
      'the typed reason wins',
    );
  });

  test('it asks for each patch flag where the workflow always called patched(): the loop first, then the failure pass in order', () => {
    const m = initialMachine({ spec: spec() }, T0);
    const asks: Patch[] = [];
    const answerAll = (machine: SupervisorMachine, ev: MachineEvent, patches: Patches) => {
      for (;;) {
        const out = decide(machine, ev, patches);
        if (!out.ask) return out;
        asks.push(out.ask);
        patches[out.ask] = true;
      }
    };
    let out = answerAll(m, { kind: 'loop', now: T0, historyFull: false }, {});
    assert.deepEqual(asks, ['oneTrial']);
    asks.length = 0;
    out = answerAll(out.machine, { kind: 'report', report: { healthy: false, detail: 'exit', checkedAt: iso(T0 + 1), source: 'watch' } }, {});
    out = answerAll(out.machine, { kind: 'woke', now: T0 + 2 }, {});
    assert.deepEqual(asks, ['oneTrial', 'waitOutRuns'], 'the loop tick, then whether runs are waited out');
    assert.equal(waitIntent(out.intents)?.kind, 'find-recovery-run');
    asks.length = 0;
    out = answerAll(out.machine, { kind: 'recovery-run', now: T0 + 3 }, {});
    assert.deepEqual(asks, ['oneTrial', 'inboxEvidence']);
    assert.equal(waitIntent(out.intents)?.kind, 'start-recovery');
    // Intents before an ask come first, so the workflow carries them out before it calls patched().
    const first = decide(out.machine, { kind: 'recovery-started', now: T0 + 4, runId: 'r' }, {});
    assert.equal(first.ask, undefined, 'nothing here depends on a patch');
  });

  test('without the one-trial patch (older supervisors) a half-open breaker lets every recovery through and a recovery counts at its end', () => {
    const legacy: Patches = { oneTrial: false, waitOutRuns: false, holdForDependencies: false, inboxEvidence: false, hostOutage: false, drainApart: false };
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '1h', coolDown: '1s', healthyToClose: '1h' } }), calm, legacy);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.stats.succeeded, 1, 'counted at once');
    assert.equal(sim.state.confirming, undefined);
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.breaker.state, 'open');
    sim.wait(2_000);
    sim.report({ healthy: false, source: 'watch' });
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.state.breaker.state, 'half-open');
    assert.equal(sim.intents('start-recovery').length, 3, 'two recoveries in one half-open period');
    assert.equal(sim.intents('find-recovery-run').length, 0, 'no run lookups before waitOutRuns');
  });

  test('an activity that fails for good gives the permit back, releases the reservation, then fails the workflow', () => {
    const sim = new Sim(spec({}, { maxConcurrentRecoveries: 2 }), calm, { ...ALL, permitWithRunLookup: false });
    sim.feed({ kind: 'report', report: { healthy: false, detail: 'x', checkedAt: iso(T0 + 1), source: 'watch' } });
    sim.feed({ kind: 'woke', now: T0 + 2 });
    assert.equal(waitingFor(sim), 'find-recovery-run');
    sim.feed({ kind: 'recovery-run', now: T0 + 3 });
    assert.equal(waitingFor(sim), 'ask-permit');
    sim.feed({ kind: 'permit-granted', now: T0 + 4 });
    assert.equal(waitingFor(sim), 'start-recovery');
    assert.ok(sim.state.breaker.reservedAt !== undefined);
    sim.feed({ kind: 'failed', now: T0 + 5 });
    assert.equal(waitingFor(sim), 'release-permit');
    sim.feed({ kind: 'permit-released', now: T0 + 6 });
    assert.equal(waitingFor(sim), 'throw');
    assert.equal(sim.state.breaker.reservedAt, undefined);
  });

  test('with a fleet cap the permit is asked for together with the run lookup, then awaited: no second round trip before the start', () => {
    const sim = new Sim(spec({}, { maxConcurrentRecoveries: 2 }));
    sim.report({ healthy: false, source: 'watch' });
    const kinds = sim.seen.map((x) => x.intent.kind).filter((k) => !['log', 'notify'].includes(k));
    assert.deepEqual(kinds.slice(kinds.indexOf('find-run-ask-permit'), kinds.indexOf('start-recovery') + 1), [
      'find-run-ask-permit',
      'await-permit',
      'stop-watch',
      'start-recovery',
    ]);
    assert.equal(sim.intents('find-recovery-run').length, 0, 'no lookup of its own');
    assert.equal(sim.intents('ask-permit').length, 0, 'no permit request of its own');
    assert.equal(sim.intents('find-run-ask-permit')[0]!.permit.max, 2);
    assert.equal(sim.state.stats.attempted, 1);
  });

  test('queued for a permit, a newer healthy report makes the failure moot: the request is withdrawn at once, nothing reserved or counted', () => {
    for (const patches of [ALL, { ...ALL, permitWithRunLookup: false }]) {
      const sim = new Sim(spec({}, { maxConcurrentRecoveries: 1 }), calm, patches);
      sim.feed({ kind: 'report', report: { healthy: false, detail: 'timed out', checkedAt: iso(T0 + 1), source: 'watch' } });
      sim.feed({ kind: 'woke', now: T0 + 2 });
      const lookup = waitingFor(sim);
      sim.feed({ kind: 'recovery-run', now: T0 + 3 });
      const wait = sim.waiting as Extract<WaitIntent, { kind: 'ask-permit' | 'await-permit' }>;
      assert.equal(wait.kind, lookup === 'find-run-ask-permit' ? 'await-permit' : 'ask-permit');
      assert.equal(wait.wakeOnHealthy, true, 'the wait wakes on a healthy report');
      assert.equal(failureMoot(sim.m), false, 'a failure report does not make it moot');
      const changed = spec({ interval: '7s' }, { maxConcurrentRecoveries: 1 });
      sim.feed({ kind: 'report', report: { healthy: false, detail: 'timed out', checkedAt: iso(T0 + 4), source: 'sweep', spec: changed } });
      assert.equal(failureMoot(sim.m), false);
      sim.feed({ kind: 'report', report: { healthy: true, detail: 'ok', checkedAt: iso(T0 + 5), source: 'sweep' } });
      assert.equal(failureMoot(sim.m), true, 'the workflow wakes the permit wait');
      sim.feed({ kind: 'permit-moot', now: T0 + 6 });
      assert.deepEqual(sim.waiting, { kind: 'release-permit', component: 'api' }, 'withdrawn, no outcome to report');
      assert.deepEqual(
        sim.m.inbox.map((r) => r.healthy),
        [true],
        'the failure probed before the healthy report is superseded (taken up, it would queue for a permit again)',
      );
      assert.equal(sim.m.spec.component.supervision.interval, 7_000, 'the config change it carried is taken');
      sim.feed({ kind: 'permit-released', now: T0 + 7 });
      sim.settle();
      assert.equal(waitingFor(sim), 'wait');
      // The healthy report waits in the inbox: the loop wakes on it at once.
      sim.wake();
      assert.deepEqual(
        [sim.state.health, sim.state.held, sim.state.stats.attempted, sim.state.breaker.reservedAt, sim.state.breaker.recoveries],
        ['healthy', undefined, 0, undefined, []],
      );
      assert.equal(sim.intents('start-recovery').length, 0);
      assert.equal(sim.intents('release-permit').length, 1);
    }
  });

  test('a healthy report older than what was known does not wake a permit wait; woken anyway, it goes back to waiting', () => {
    const sim = new Sim(spec({}, { maxConcurrentRecoveries: 1 }));
    sim.feed({ kind: 'report', report: { healthy: false, detail: 'timed out', checkedAt: iso(T0 + 10), source: 'watch' } });
    sim.feed({ kind: 'woke', now: T0 + 11 });
    sim.feed({ kind: 'recovery-run', now: T0 + 12 });
    assert.equal(waitingFor(sim), 'await-permit');
    sim.feed({ kind: 'report', report: { healthy: true, detail: 'ok', checkedAt: iso(T0 + 5), source: 'sweep' } });
    assert.equal(failureMoot(sim.m), false, 'probed before the failure taken up');
    sim.feed({ kind: 'permit-moot', now: T0 + 13 });
    assert.deepEqual(sim.waiting, { kind: 'await-permit', wakeOnHealthy: true }, 'still queued: waits on');
    sim.feed({ kind: 'permit-granted', now: T0 + 14 });
    assert.equal(waitingFor(sim), 'start-recovery');
  });

  test('before permitWakesOnHealthy the permit wait wakes only on the permit (older histories replay)', () => {
    for (const patches of [
      { ...ALL, permitWakesOnHealthy: false },
      { ...ALL, permitWakesOnHealthy: false, permitWithRunLookup: false },
    ]) {
      const sim = new Sim(spec({}, { maxConcurrentRecoveries: 1 }), calm, patches);
      sim.feed({ kind: 'report', report: { healthy: false, detail: 'x', checkedAt: iso(T0 + 1), source: 'watch' } });
      sim.feed({ kind: 'woke', now: T0 + 2 });
      sim.feed({ kind: 'recovery-run', now: T0 + 3 });
      assert.ok(sim.waiting && 'kind' in sim.waiting && (sim.waiting.kind === 'await-permit' || sim.waiting.kind === 'ask-permit'));
      assert.equal((sim.waiting as { wakeOnHealthy?: boolean }).wakeOnHealthy, undefined);
    }
  });

  test('a run found by the lookup that came with the permit request is waited out after the permit goes back; nothing reserved or counted', () => {
    const other: RecoveryRunSeen = {
      runId: 'by-hand',
      startedAt: iso(T0),
      running: false,
      outcome: 'recovered',
      endedAt: iso(T0 + 1_500),
      closedAt: iso(T0 + 1_500),
    };
    const sim = new Sim(spec({}, { maxConcurrentRecoveries: 1 }), { ...calm, recoveryRun: () => other });
    sim.report({ healthy: false, source: 'watch' });
    const kinds = sim.seen.map((x) => x.intent.kind).filter((k) => !['log', 'notify'].includes(k));
    assert.deepEqual(kinds.slice(kinds.indexOf('find-run-ask-permit')), [
      'find-run-ask-permit',
      'release-permit',
      'stop-watch',
      'continue',
      'loop',
      'watch',
      'wait',
    ]);
    const release = sim.intents('release-permit')[0]!;
    assert.equal(release.ok, undefined, 'no recovery ran: no news for the adaptive window');
    assert.equal(sim.intents('start-recovery').length, 0);
    assert.deepEqual(sim.state.breaker.recoveries, []);
    assert.equal(sim.state.breaker.reservedAt, undefined);
    assert.equal(sim.state.stats.attempted, 0);
    assert.equal(sim.state.health, 'healthy', 'the run it waited out recovered it');
  });

  test('a pass held after the lookup (the breaker opens) gives back the permit it asked for with the lookup', () => {
    const noBackoff = { restartBackoff: { initial: '0s', max: '0s' } };
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '1h', coolDown: '1h' }, ...noBackoff }, { maxConcurrentRecoveries: 2 }));
    sim.report({ healthy: false, source: 'watch' });
    assert.equal(sim.intents('start-recovery').length, 1);
    const released = sim.intents('release-permit').length;
    // The breaker is closed when the lookup goes out, and opens when the second recovery in its window is asked of it.
    sim.report({ healthy: false, source: 'watch' }, 10_000);
    assert.equal(sim.intents('find-run-ask-permit').length, 2);
    assert.equal(sim.intents('start-recovery').length, 1, 'the breaker holds the second');
    assert.equal(sim.state.breaker.state, 'open');
    assert.equal(sim.intents('release-permit').length, released + 1, 'the permit asked for with the lookup went back');
    assert.equal(waitingFor(sim), 'wait');
  });

  test('a lookup with the permit request that fails for good gives the queued permit back, then fails the workflow', () => {
    const sim = new Sim(spec({}, { maxConcurrentRecoveries: 2 }));
    sim.feed({ kind: 'report', report: { healthy: false, detail: 'x', checkedAt: iso(T0 + 1), source: 'watch' } });
    sim.feed({ kind: 'woke', now: T0 + 2 });
    assert.equal(waitingFor(sim), 'find-run-ask-permit');
    sim.feed({ kind: 'failed', now: T0 + 3 });
    assert.equal(waitingFor(sim), 'release-permit');
    sim.feed({ kind: 'permit-released', now: T0 + 4 });
    assert.equal(waitingFor(sim), 'throw');
  });

  test('a pid exit that only waited for a fleet permit is recovered without a last look; a failed probe still gets one', () => {
    const pid = new Sim(spec({}, { maxConcurrentRecoveries: 1 }), { ...calm, confirm: () => assert.fail('no probe after a pid exit') });
    pid.permitWaitMs = 5_000;
    pid.report({ healthy: false, source: 'watch' });
    assert.equal(pid.intents('start-recovery').length, 1);
    assert.equal(pid.intents('confirm').length, 0);

    const probed = new Sim(spec({ failuresBeforeRecovery: 1 }, { maxConcurrentRecoveries: 1 }));
    probed.permitWaitMs = 5_000;
    probed.report({ healthy: false, source: 'sweep' });
    const kinds = probed.seen.map((x) => x.intent.kind);
    assert.deepEqual(kinds.slice(kinds.indexOf('await-permit'), kinds.indexOf('start-recovery') + 1), [
      'await-permit',
      'confirm',
      'stop-watch',
      'start-recovery',
    ]);
  });

  test('a pid exit still gets its last look when more than the permit was waited for, or before the patch, or for a destructive strategy', () => {
    const looks = (s: SupervisorSpec, patches: Patches = ALL) => {
      const sim = new Sim(s, calm, patches);
      sim.permitWaitMs = 5_000;
      sim.report({ healthy: false, source: 'watch' });
      assert.equal(sim.intents('start-recovery').length, 1);
      return sim.intents('confirm').length;
    };
    const capped = spec({}, { maxConcurrentRecoveries: 1 });
    assert.equal(looks(capped), 0);
    assert.equal(looks(capped, { ...ALL, pidExitNoLastLook: false }), 1, 'older supervisors look');
    const again = new Sim(spec({ restartBackoff: { initial: '2s', max: '2s' } }, { maxConcurrentRecoveries: 1 }));
    again.permitWaitMs = 5_000;
    again.report({ healthy: false, source: 'watch' });
    assert.equal(again.intents('confirm').length, 0);
    again.report({ healthy: false, source: 'watch' }, 8_000);
    assert.equal(again.intents('sleep').length, 1, 'the second recovery in a row sleeps out its restart backoff');
    assert.equal(again.intents('start-recovery').length, 2);
    assert.equal(again.intents('confirm').length, 1, 'a restart backoff came first: looked again');
    const destructive = spec({}, { maxConcurrentRecoveries: 1 });
    destructive.component = { ...destructive.component, policy: { ...destructive.component.policy, strategy: 'state-recovery' } };
    assert.equal(looks(destructive), 1, 'a destructive run is not started on old evidence');
  });

  test('a failure before anything is held fails the workflow at once', () => {
    const sim = new Sim(spec({ failuresBeforeRecovery: 3 }));
    sim.feed({ kind: 'report', report: { healthy: false, detail: 'x', checkedAt: iso(T0 + 1), source: 'sweep' } });
    sim.feed({ kind: 'woke', now: T0 + 2 });
    assert.equal(waitingFor(sim), 'confirm');
    sim.feed({ kind: 'failed', now: T0 + 3 });
    assert.equal(waitingFor(sim), 'throw');
  });
});

// --- properties ---

type Action =
  | { kind: 'report'; healthy: boolean; source: 'sweep' | 'watch'; failureClass: 'unknown' | 'timeout' | 'auth'; gapMs: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'pause'; forMs?: number }
  | { kind: 'resume' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      healthy: fc.boolean(),
      source: fc.constantFrom('sweep' as const, 'watch' as const),
      failureClass: fc.constantFrom('unknown' as const, 'timeout' as const, 'auth' as const),
      gapMs: fc.integer({ min: 1, max: 20_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), forMs: fc.option(fc.integer({ min: 1_000, max: 60_000 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
);

const configArb = fc.record({
  failuresBeforeRecovery: fc.integer({ min: 1, max: 3 }),
  confirmInterval: fc.integer({ min: 10, max: 500 }).map((ms) => `${ms}ms`),
  startupGrace: fc.integer({ min: 0, max: 30_000 }).map((ms) => `${ms}ms`),
  restartBackoff: fc
    .tuple(fc.integer({ min: 10, max: 2_000 }), fc.integer({ min: 10, max: 5_000 }))
    .map(([initial, max]) => ({ initial: `${initial}ms`, max: `${max}ms` })),
  backoffResetAfter: fc.integer({ min: 1_000, max: 120_000 }).map((ms) => `${ms}ms`),
  relapseWindow: fc.integer({ min: 100, max: 20_000 }).map((ms) => `${ms}ms`),
  cadence: fc.integer({ min: 1_000, max: 60_000 }).map((max) => ({ min: '1s', max: `${max}ms` })),
  breaker: fc.record({
    maxRecoveries: fc.integer({ min: 1, max: 4 }),
    window: fc.integer({ min: 1_000, max: 300_000 }).map((ms) => `${ms}ms`),
    coolDown: fc.integer({ min: 100, max: 60_000 }).map((ms) => `${ms}ms`),
    healthyToClose: fc.integer({ min: 100, max: 30_000 }).map((ms) => `${ms}ms`),
  }),
});

/** The world's answers, drawn in turn from a random list; a friendly world lets most failures through to a recovery. */
function randomWorld(bits: number[], friendly = false): World {
  let n = 0;
  const next = () => bits[n++ % bits.length]!;
  if (friendly) return { ...calm, recovered: () => (next() % 4 === 0 ? { outcome: 'failed' as const, reason: 'no' } : { outcome: 'recovered' as const }) };
  return {
    confirm: () => (next() % 3 === 0 ? { healthy: true } : { healthy: false, failureClass: next() % 5 === 0 ? 'auth' : 'unknown', detail: 'refused' }),
    recoveryRun: (i) => {
      const r = next() % 6;
      if (r > 1) return undefined;
      return {
        runId: `other-${n}`,
        startedAt: iso(T0),
        running: i.waitMs === 0 && r === 0,
        outcome: next() % 2 ? 'recovered' : 'failed',
        endedAt: iso(T0),
        closedAt: iso(T0 + 10 * 3_600_000),
      };
    },
    dependencies: () => (next() % 2 ? [{ id: 'db', reason: 'down' }] : []),
    alreadyRunning: () => next() % 7 === 0,
    recovered: () => (next() % 4 === 0 ? { outcome: 'failed' as const, reason: 'no' } : { outcome: 'recovered' as const }),
  };
}

interface Run {
  sim: Sim;
  violations: string[];
  /** Recoveries started: when, and the breaker state that admitted them. */
  starts: Array<{ at: number; admittedIn: string; period: number }>;
}

/** Plays `actions` against a supervisor, checking at every recovery start that nothing held it. */
function play(config: Record<string, unknown>, actions: Action[], bits: number[], extra: Partial<SupervisorSpec> = {}, friendly = false): Run {
  const sim = new Sim(spec(config, extra), randomWorld(bits, friendly));
  const violations: string[] = [];
  const starts: Run['starts'] = [];
  let period = 0;
  let checked = 0;
  let lastBreaker = sim.state.breaker.state;
  let running = 0;
  const inspect = () => {
    for (; checked < sim.seen.length; checked++) {
      const { intent, machine, at } = sim.seen[checked]!;
      const st = machine.state;
      if (st.breaker.state === 'half-open' && lastBreaker !== 'half-open') period++;
      lastBreaker = st.breaker.state;
      if (intent.kind === 'start-recovery') {
        if (st.pausedUntil !== undefined && at < st.pausedUntil) violations.push(`started while paused at ${at}`);
        if (at < st.graceUntil) violations.push(`started within the startup grace at ${at}`);
        if (st.lastFailureClass === 'auth') violations.push(`started on an auth failure at ${at}`);
        if (st.current) violations.push(`started while ${st.current.runId} runs`);
        if (running > 0) violations.push('two recoveries at once');
      }
      if (intent.kind === 'await-recovery') {
        running++;
        starts.push({ at, admittedIn: st.breaker.trialAt === at ? 'half-open' : 'closed', period });
      }
      if (intent.kind === 'sleep' && intent.ms > sim.spec.component.supervision.restartBackoff.max)
        violations.push(`restart backoff ${intent.ms} over its cap`);
      if (st.detectBackoffMs > sim.spec.component.supervision.cadence.max) violations.push(`detection backoff ${st.detectBackoffMs} over its cap`);
      if (st.current === undefined) running = 0;
    }
  };
  for (const a of actions) {
    if (a.kind === 'report') {
      sim.report({ healthy: a.healthy, source: a.source, failureClass: a.healthy ? undefined : a.failureClass }, a.gapMs);
      if (a.healthy && sim.m.pass === undefined && sim.m.batch.length === 0 && sim.state.lastReportAt === sim.now && sim.state.consecutiveFailures !== 0)
        violations.push('a healthy report left a failure count');
    } else if (a.kind === 'wait') sim.wait(a.ms);
    else if (a.kind === 'pause') sim.feed({ kind: 'pause', now: sim.now, forMs: a.forMs });
    else sim.feed({ kind: 'resume' });
    inspect();
  }
  // A dependency found down ends the pass: nothing is done before the way back to the loop.
  for (const from of sim.dependencyDown) {
    const after = sim.seen.slice(from).map((x) => x.intent.kind);
    const end = after.indexOf('continue');
    if (after.slice(0, end).some((k) => ['sleep', 'ask-permit', 'find-run-ask-permit', 'await-permit', 'start-recovery', 'confirm'].includes(k)))
      violations.push('acted while a dependency was down');
  }
  return { sim, violations, starts };
}

describe('supervisor machine properties (fast-check)', () => {
  const runs = { numRuns: 300 };
  const bitsArb = fc.array(fc.nat(99), { minLength: 1, maxLength: 40 });

  test('a held component (paused, in its grace, on an auth failure, waiting for a dependency) never starts a recovery', () => {
    const db = component('db');
    fc.assert(
      fc.property(configArb, fc.array(actionArb, { maxLength: 60 }), bitsArb, fc.boolean(), (config, actions, bits, withDeps) => {
        const { violations } = play(config, actions, bits, withDeps ? { dependencies: [db] } : {});
        assert.deepEqual(
          violations.filter((v) => !v.includes('backoff') && !v.includes('failure count')),
          [],
        );
      }),
      runs,
    );
  });

  test('never two recoveries at once, and restart and detection backoffs never exceed their caps', () => {
    fc.assert(
      fc.property(configArb, fc.array(actionArb, { maxLength: 60 }), bitsArb, (config, actions, bits) => {
        const { violations, sim } = play(config, actions, bits, { maxConcurrentRecoveries: 2 });
        assert.deepEqual(
          violations.filter((v) => v.includes('at once') || v.includes('runs') || v.includes('backoff')),
          [],
        );
        assert.equal(sim.state.breaker.reservedAt, undefined, 'no reservation outlives its pass');
        // Asked for alone or with the run lookup, every permit goes back once its pass is over.
        const asked = sim.intents('ask-permit').length + sim.intents('find-run-ask-permit').length;
        if (sim.waiting?.kind === 'wait') assert.equal(sim.intents('release-permit').length, asked, 'every permit asked for is given back');
      }),
      runs,
    );
  });

  test('the breaker never lets more than maxRecoveries through within its window while closed, and one per half-open period', () => {
    const stats = { starts: 0, trials: 0 };
    // Mostly crashes seen by the watch and waits, in a world that lets them through to recoveries.
    const crashes = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('report' as const),
          healthy: fc.constant(false),
          source: fc.constant('watch' as const),
          failureClass: fc.constant('unknown' as const),
          gapMs: fc.integer({ min: 1, max: 5_000 }),
        }),
      },
      { weight: 1, arbitrary: actionArb },
    );
    fc.assert(
      fc.property(configArb, fc.array(crashes, { maxLength: 80 }), bitsArb, (config, actions, bits) => {
        const { starts, sim } = play({ ...config, startupGrace: '0s' }, actions, bits, {}, true);
        const { maxRecoveries, window } = sim.spec.component.supervision.breaker;
        for (const x of starts.filter((k) => k.admittedIn === 'closed')) {
          const within = starts.filter((k) => k.at > x.at - window && k.at <= x.at);
          assert.ok(within.length <= maxRecoveries, `${within.length} recoveries within ${window}ms (max ${maxRecoveries})`);
        }
        const perPeriod = new Map<number, number>();
        stats.starts += starts.length;
        stats.trials += starts.filter((x) => x.admittedIn === 'half-open').length;
        for (const k of starts.filter((x) => x.admittedIn === 'half-open')) perPeriod.set(k.period, (perPeriod.get(k.period) ?? 0) + 1);
        assert.ok(
          [...perPeriod.values()].every((n) => n <= 1),
          'one trial per half-open period',
        );
      }),
      runs,
    );
    assert.ok(stats.starts > runs.numRuns && stats.trials > 20, `the runs reach recoveries (${stats.starts}) and half-open trials (${stats.trials})`);
  });

  test('recoveries after host returns never open the breaker nor take a slot, however many outages come within its window', () => {
    const outageArb = fc.record({
      awayMs: fc.integer({ min: 1_000, max: 120_000 }),
      // Failure reports after the return (the sweep fired at once, then its interval), and how long it stays up after.
      failures: fc.integer({ min: 1, max: 3 }),
      gapMs: fc.integer({ min: 1, max: 5_000 }),
      source: fc.constantFrom('sweep' as const, 'watch' as const),
      upMs: fc.integer({ min: 0, max: 60_000 }),
    });
    let recovered = 0;
    fc.assert(
      fc.property(configArb, fc.array(outageArb, { minLength: 1, maxLength: 12 }), fc.boolean(), (config, outages, withDeps) => {
        const sim = new Sim(spec({ ...config, startupGrace: '0s' }, withDeps ? { dependencies: [component('db')] } : {}));
        sim.report({ healthy: true });
        for (const o of outages) {
          sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: false });
          sim.wait(o.awayMs);
          sim.feed({ kind: 'host-status', now: sim.now, host: 'edge', reachable: true });
          sim.wake();
          const started = sim.intents('start-recovery').length;
          sim.report({ healthy: false, source: o.source }, 1);
          for (let n = 1; n < o.failures && sim.state.health !== 'healthy'; n++) sim.report({ healthy: false, source: o.source }, o.gapMs);
          assert.equal(sim.state.health, 'healthy', 'recovered after the return');
          assert.equal(sim.intents('start-recovery').length, started + 1, 'by one recovery');
          recovered++;
          sim.wait(o.upMs);
        }
        assert.deepEqual([sim.state.breaker.state, sim.state.breaker.recoveries, sim.state.stats.breakerOpened], ['closed', [], 0]);
        assert.equal(sim.notified('breaker-open'), 0);
        assert.equal(sim.intents('sleep').length, 0, 'no restart backoff');
      }),
      runs,
    );
    assert.ok(recovered > runs.numRuns, `the runs recover after returns (${recovered})`);
  });

  test('a healthy report clears the failure count', () => {
    fc.assert(
      fc.property(configArb, fc.array(actionArb, { maxLength: 60 }), bitsArb, (config, actions, bits) => {
        const { violations } = play(config, actions, bits);
        assert.deepEqual(
          violations.filter((v) => v.includes('failure count')),
          [],
        );
      }),
      runs,
    );
  });
});

describe('the pid watch armed to restart in place (watchRestarts)', () => {
  const WR: Patches = { ...ALL, watchRestarts: true };
  const restart = (sim: Sim, healthy = true): RecordedWatchOutcome => ({
    exited: true,
    reason: 'exited',
    detail: 'pid 7 exited: killed by SIGKILL',
    at: iso(sim.now),
    restart: {
      exitAt: iso(sim.now),
      exitDetail: 'pid 7 exited: killed by SIGKILL',
      steps: [
        { name: 'stop', status: 'ok', startedAt: iso(sim.now), endedAt: iso(sim.now + 5), durationMs: 5, detail: 'not running' },
        { name: 'start', status: 'ok', startedAt: iso(sim.now + 5), endedAt: iso(sim.now + 60), durationMs: 55, detail: 'started pid 8' },
        { name: 'validate', status: healthy ? 'ok' : 'failed', startedAt: iso(sim.now + 60), endedAt: iso(sim.now + 200), durationMs: 140, detail: 'probe' },
      ],
      healthy,
      backoffMs: 0,
      waitedMs: 0,
      endedAt: iso(sim.now + 200),
    },
  });
  const lastWatch = (sim: Sim) => sim.intents('watch').at(-1);

  test('a healthy immediate process component without dependencies is watched with the authorization; a strict cap, a destructive strategy or dependencies keep the plain watch', () => {
    const sim = new Sim(spec(), calm, WR);
    sim.report({ healthy: true });
    assert.ok(lastWatch(sim)?.restart, 'armed to restart in place');
    assert.equal(lastWatch(sim)!.restart!.backoffMs, 0);
    const strict = new Sim(spec({}, { maxConcurrentRecoveries: 5 }), calm, WR);
    strict.report({ healthy: true });
    assert.equal(lastWatch(strict)?.restart, undefined, 'the strict fleet cap keeps its round trip');
    const adaptive = new Sim(spec({}, { maxConcurrentRecoveries: 5, adaptive: { ceiling: 16, slowMs: 10_000 } }), calm, WR);
    adaptive.report({ healthy: true });
    assert.deepEqual(lastWatch(adaptive)?.restart?.window, { ceiling: 16, slowMs: 10_000, floor: 5 }, "cheap recoveries: the host's window");
    const deps = new Sim(spec({}, { dependencies: [component('db')] }), calm, WR);
    deps.report({ healthy: true });
    assert.equal(lastWatch(deps)?.restart, undefined);
    const destructive = new Sim(
      { ...spec(), component: { ...component('api'), policy: { ...component('api').policy, strategy: 'state-recovery' } } },
      calm,
      WR,
    );
    destructive.report({ healthy: true });
    assert.equal(lastWatch(destructive)?.restart, undefined);
  });

  test('a restart the watch did is recorded by one adopting run: counted by the breaker and the statistics, then the watch is armed again', () => {
    const sim = new Sim(spec(), calm, WR);
    sim.report({ healthy: true });
    sim.feed({ kind: 'watch-ended', seen: restart(sim) });
    sim.wake();
    const starts = sim.intents('start-recovery');
    assert.equal(starts.length, 1, 'one run records it');
    assert.equal(starts[0]!.workflowType, 'immediateRestart');
    assert.equal(starts[0]!.input.adopted?.steps.length, 3, 'the run gets what the watch did');
    assert.equal(sim.intents('confirm').length + sim.intents('find-run-ask-permit').length + sim.intents('ask-permit').length, 0, 'nothing asked first');
    assert.equal(sim.state.breaker.recoveries.length, 1, 'the breaker counts it');
    assert.deepEqual([sim.state.stats.attempted, sim.state.health], [1, 'healthy']);
    assert.ok(sim.state.confirming, 'awaiting its relapse window, as any recovery');
    assert.ok(lastWatch(sim)?.restart, 'armed again');
    assert.ok(sim.seen.findIndex((x) => x.intent.kind === 'watch' && x.intent.restart) < sim.seen.findIndex((x) => x.intent.kind === 'start-recovery'));
  });

  test('a pause or drain disarms the watch at once and the loop re-arms it without the authorization; a resume arms it again', () => {
    for (const pause of [
      { kind: 'pause' as const, by: 'alice' },
      { kind: 'pause' as const, by: 'bob', host: 'local' },
    ]) {
      const sim = new Sim(spec(), calm, WR);
      sim.report({ healthy: true });
      const before = sim.intents('stop-watch').length;
      sim.feed({ ...pause, now: sim.now });
      assert.equal(sim.intents('stop-watch').length, before + 1, 'the armed watch is cancelled in the same step');
      assert.equal(sim.m.renewWatch, true, 'the loop wakes to re-arm');
      sim.wake();
      assert.equal(lastWatch(sim)?.restart, undefined, 'watched without the authorization while held');
      sim.feed(pause.host ? { kind: 'resume', host: pause.host } : { kind: 'resume' });
      sim.wake();
      assert.ok(lastWatch(sim)?.restart, 'armed again');
    }
  });

  test('a sweep failure while armed disarms the watch first (waiting for its outcome unless the process hangs); a restart it did is the news, not a second one', () => {
    const sim = new Sim(spec({ failuresBeforeRecovery: 1 }), calm, WR);
    sim.report({ healthy: true });
    sim.disarmedSeen = restart(sim);
    sim.report({ healthy: false, failureClass: 'network', detail: 'connection refused' });
    const [disarm] = sim.intents('disarm-watch');
    assert.equal(disarm?.wait, true, 'an exit may be being restarted: its outcome is waited for');
    const starts = sim.intents('start-recovery');
    assert.equal(starts.length, 1, 'one run');
    assert.ok(starts[0]!.input.adopted, 'which adopts the watch restart');
    const hung = new Sim(spec({ failuresBeforeRecovery: 1 }), calm, WR);
    hung.report({ healthy: true });
    hung.report({ healthy: false, failureClass: 'timeout', detail: 'timed out' });
    assert.equal(hung.intents('disarm-watch')[0]?.wait, false, 'a hung process is alive: not waited for');
    assert.equal(hung.intents('start-recovery').length, 1);
    assert.equal(hung.intents('start-recovery')[0]!.input.adopted, undefined, 'its own recovery');
  });

  test('a tripped breaker is armed without the authorization', () => {
    const sim = new Sim(spec({ breaker: { maxRecoveries: 1, window: '1h' } }), calm, WR);
    sim.report({ healthy: true });
    sim.feed({ kind: 'watch-ended', seen: restart(sim) });
    sim.wake();
    assert.equal(sim.state.breaker.recoveries.length, 1);
    assert.equal(lastWatch(sim)?.restart, undefined, 'no slot left: the next exit goes the supervisor way');
  });
});
