/**
 * The circuit breaker's pure rules (core/breaker.ts): examples of each move, and fast-check
 * properties over random sequences of failures, waits, started and unused recoveries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  advance,
  afterRecovery,
  commitReservation,
  onConfirmedFailure,
  releaseReservation,
  reserveRecovery,
  type BreakerConfig,
  type BreakerStatus,
} from '../core/breaker';
import { heldByRecoveryRun, initialState, relapsedWithin, settleRecovery } from '../core/supervision';
import { SupervisionSchema } from '../core/schemas';

const cfg: BreakerConfig = { maxRecoveries: 2, window: 60_000, coolDown: 30_000, healthyToClose: 10_000 };
const closed: BreakerStatus = { state: 'closed', recoveries: [] };

/** Admits and starts a recovery at `now`; fails the test when it is not admitted. */
function start(b: BreakerStatus, now: number): BreakerStatus {
  const d = reserveRecovery(b, cfg, now);
  assert.equal(d.allow, true, `admitted at ${now}`);
  return commitReservation(d.breaker, cfg, now);
}

describe('circuit breaker rules', () => {
  test('admits maxRecoveries within the window, then opens; a reservation counts until it is committed or released', () => {
    let b = start(closed, 0);
    const held = reserveRecovery(b, cfg, 1_000);
    assert.equal(held.allow, true);
    assert.equal(reserveRecovery(held.breaker, cfg, 1_001).allow, false, 'one reservation at a time');
    assert.deepEqual(held.breaker.recoveries, [0], 'a reservation is not a recovery');
    b = releaseReservation(held.breaker);
    assert.deepEqual(b, { state: 'closed', recoveries: [0] }, 'released: nothing recorded');
    b = start(b, 2_000);
    const third = reserveRecovery(b, cfg, 3_000);
    assert.equal(third.allow, false);
    assert.equal(third.opened, true);
    assert.equal(third.breaker.state, 'open');
    assert.equal(third.breaker.halfOpenAt, 33_000);
  });

  test('half-open admits one trial; a relapse before healthyToClose reopens it without a restart', () => {
    const open: BreakerStatus = { state: 'open', recoveries: [0, 1_000], openedAt: 2_000, halfOpenAt: 32_000 };
    assert.equal(advance(open, cfg, 31_999, undefined).state, 'open');
    const half = advance(open, cfg, 32_000, undefined);
    assert.equal(half.state, 'half-open');
    const trial = start(half, 32_500);
    assert.equal(trial.trialAt, 32_500);
    const ended = afterRecovery(trial, cfg, 33_000, true);
    assert.equal(ended.opened, false);
    assert.equal(ended.breaker.state, 'half-open');
    // The trial "recovered", the component dies a second later: no second trial, the breaker reopens.
    const again = reserveRecovery(ended.breaker, cfg, 34_000);
    assert.equal(again.allow, false);
    assert.equal(again.opened, true);
    const relapse = onConfirmedFailure(ended.breaker, cfg, 34_000);
    assert.equal(relapse.opened, true);
    assert.equal(relapse.breaker.state, 'open');
    assert.equal(relapse.breaker.halfOpenAt, 64_000);
    assert.match(relapse.breaker.reason ?? '', /relapsed/);
    assert.equal(relapse.breaker.trialAt, undefined);
  });

  test('a failed trial reopens; a trial that holds for healthyToClose closes, keeping the recoveries in the window', () => {
    const half: BreakerStatus = { state: 'half-open', recoveries: [0, 1_000], openedAt: 2_000 };
    const trial = start(half, 32_000);
    const failed = afterRecovery(trial, cfg, 40_000, false);
    assert.equal(failed.opened, true);
    assert.equal(failed.breaker.state, 'open');
    assert.equal(failed.breaker.halfOpenAt, 70_000);
    assert.equal(advance(trial, cfg, 49_999, 40_000).state, 'half-open');
    const shut = advance(trial, cfg, 50_000, 40_000);
    assert.equal(shut.state, 'closed');
    assert.deepEqual(shut.recoveries, [0, 1_000, 32_000], 'closing forgets no recovery still within the window');
    assert.equal(onConfirmedFailure(shut, cfg, 50_001).opened, false, 'closed: a failure is no relapse');
    assert.equal(reserveRecovery(shut, cfg, 50_001).opened, true, 'more than maxRecoveries within the window already');
    assert.equal(reserveRecovery(shut, cfg, 61_000).allow, true, 'once the first two aged out');
  });

  test('a half-open breaker whose reservation was released still has its one trial', () => {
    const half: BreakerStatus = { state: 'half-open', recoveries: [], openedAt: 0 };
    const unused = releaseReservation(reserveRecovery(half, cfg, 40_000).breaker);
    assert.equal(unused.trialAt, undefined);
    assert.equal(reserveRecovery(unused, cfg, 41_000).allow, true);
  });
});

type Step =
  { kind: 'wait'; ms: number } | { kind: 'healthy' } | { kind: 'failure'; use: 'start' | 'unused'; waitMs: number; runMs: number; recovered: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  fc.record({ kind: fc.constant('healthy' as const) }),
  fc.record({
    kind: fc.constant('failure' as const),
    use: fc.constantFrom('start' as const, 'unused' as const),
    waitMs: fc.integer({ min: 0, max: 5_000 }),
    runMs: fc.integer({ min: 1, max: 5_000 }),
    recovered: fc.boolean(),
  }),
);
const cfgArb: fc.Arbitrary<BreakerConfig> = fc.record({
  maxRecoveries: fc.integer({ min: 1, max: 5 }),
  window: fc.integer({ min: 1_000, max: 120_000 }),
  coolDown: fc.integer({ min: 100, max: 60_000 }),
  healthyToClose: fc.integer({ min: 100, max: 30_000 }),
});

interface Commit {
  at: number;
  /** The state the breaker admitted it in. */
  admittedIn: 'closed' | 'half-open';
  /** Which half-open period it was admitted in (counting from 1), when half-open. */
  period: number;
}

/** Drives the breaker as a supervisor does: tick, then on a confirmed failure the relapse check, a reservation, and a run or not. */
function simulate(c: BreakerConfig, steps: Step[]): { commits: Commit[]; breaker: BreakerStatus; now: number; violations: string[] } {
  let b: BreakerStatus = { state: 'closed', recoveries: [] };
  let now = 0;
  let healthySince: number | undefined = 0;
  let period = 0;
  const commits: Commit[] = [];
  const violations: string[] = [];
  const tick = () => {
    const before = b.state;
    b = advance(b, c, now, healthySince);
    if (before !== 'half-open' && b.state === 'half-open') period++;
  };
  for (const step of steps) {
    tick();
    if (step.kind === 'wait') now += step.ms;
    else if (step.kind === 'healthy') healthySince ??= now;
    else {
      healthySince = undefined;
      const relapse = onConfirmedFailure(b, c, now);
      b = relapse.breaker;
      if (relapse.opened) continue;
      tick();
      const d = reserveRecovery(b, c, now);
      b = d.breaker;
      if (!d.allow) continue;
      const admittedIn = b.state as Commit['admittedIn'];
      now += step.waitMs;
      if (step.use === 'unused') {
        b = releaseReservation(b);
        continue;
      }
      b = commitReservation(b, c, now);
      commits.push({ at: now, admittedIn, period });
      now += step.runMs;
      b = afterRecovery(b, c, now, step.recovered).breaker;
      if (step.recovered) healthySince = now;
    }
    if (b.reservedAt !== undefined) violations.push(`reservation left at ${now}`);
  }
  tick();
  return { commits, breaker: b, now, violations };
}

describe('circuit breaker properties (fast-check)', () => {
  test('while closed it never admits more than maxRecoveries within its window', () => {
    fc.assert(
      fc.property(cfgArb, fc.array(stepArb, { maxLength: 80 }), (c, steps) => {
        const { commits } = simulate(c, steps);
        for (const x of commits.filter((k) => k.admittedIn === 'closed')) {
          const within = commits.filter((k) => k.at > x.at - c.window && k.at <= x.at);
          if (within.length > c.maxRecoveries) return false;
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  test('it never admits more than one recovery per half-open period', () => {
    fc.assert(
      fc.property(cfgArb, fc.array(stepArb, { maxLength: 80 }), (c, steps) => {
        const { commits } = simulate(c, steps);
        const perPeriod = new Map<number, number>();
        for (const k of commits.filter((x) => x.admittedIn === 'half-open')) perPeriod.set(k.period, (perPeriod.get(k.period) ?? 0) + 1);
        return [...perPeriod.values()].every((n) => n <= 1);
      }),
      { numRuns: 500 },
    );
  });

  test('it records exactly the recoveries that started (a released reservation is not counted) and holds no reservation between failures', () => {
    fc.assert(
      fc.property(cfgArb, fc.array(stepArb, { maxLength: 80 }), (c, steps) => {
        const { commits, breaker, now, violations } = simulate(c, steps);
        assert.deepEqual(violations, []);
        assert.deepEqual(
          breaker.recoveries,
          commits.map((k) => k.at).filter((t) => now - t < c.window),
        );
        assert.equal(breaker.reservedAt, undefined);
      }),
      { numRuns: 500 },
    );
  });
});

describe('what a supervisor counts', () => {
  const sup = SupervisionSchema.parse({});

  test('the relapse window defaults to 5s', () => assert.equal(sup.relapseWindow, 5_000));

  test('a recovery is a success once it holds for the relapse window, a relapse if it fails sooner', () => {
    const state = initialState('api', sup, 0);
    state.stats.attempted = 1;
    state.stats.recent = [{ workflowId: 'mend/recover/api', runId: 'r1', strategy: 'immediate', startedAt: new Date(0).toISOString(), outcome: 'recovered' }];
    state.confirming = { runId: 'r1', endedAt: 1_000, until: 6_000, mttrMs: 900 };
    assert.equal(relapsedWithin(state.confirming, 5_999), true);
    assert.equal(relapsedWithin(state.confirming, 6_000), false);
    const relapsed = settleRecovery(state, 'relapsed', 2_000);
    assert.deepEqual([relapsed.succeeded, relapsed.relapsed, relapsed.mttrs], [0, 1, []]);
    assert.equal(relapsed.recent[0]!.relapsedAt, new Date(2_000).toISOString());
    const held = settleRecovery(state, 'succeeded', 6_000);
    assert.deepEqual([held.succeeded, held.relapsed ?? 0, held.mttrs, held.meanMttrMs], [1, 0, [900], 900]);
  });

  test('a failure is a recovery run’s own doing only while a run it did not start goes, or just ended', () => {
    const seen = { failedAt: 10_000, ownRunIds: ['own'], slackMs: 1_000 };
    const at = (ms: number) => new Date(ms).toISOString();
    assert.equal(heldByRecoveryRun({ runId: 'manual', running: true }, seen), true);
    assert.equal(heldByRecoveryRun({ runId: 'own', running: true }, seen), false, 'its own run');
    assert.equal(heldByRecoveryRun({ runId: 'manual', running: true }, { ...seen, waitedOutRunId: 'manual' }), false, 'already waited out');
    assert.equal(heldByRecoveryRun({ runId: 'manual', running: false, closedAt: at(9_500) }, seen), true, 'its stop noticed a moment late');
    assert.equal(heldByRecoveryRun({ runId: 'manual', running: false, closedAt: at(8_000) }, seen), false, 'a failure after the run');
  });
});
