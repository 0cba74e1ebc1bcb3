/** The pure rules of supervision: config defaults and errors, breaker, detection and restart backoff, percentiles, stats. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../core/config';
import { ValidationError } from '../core/errors';
import { SupervisionSchema } from '../core/schemas';
import { renderSupervisionMetrics } from '../client/supervision-metrics';
import {
  advanceBreaker,
  afterTrial,
  breakerDecision,
  fleetStats,
  initialState,
  nextDetectBackoff,
  percentile,
  pickGrants,
  restartDelay,
  type PermitQueue,
  type BreakerStatus,
} from '../core/supervision';

const opts = { baseDir: '/srv/app', stateDir: '/srv/app/.mend' };
const component = (extra = '') => `
version: 1
components:
  - id: api
    adapter: { type: process, command: [node, server.js] }
    probe: { type: http, url: "http://127.0.0.1:1/healthz" }${extra}`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'mend.config.yaml', opts);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.problems;
  }
  assert.fail('config was accepted');
}

const sup = SupervisionSchema.parse({
  interval: '2s',
  breaker: { maxRecoveries: 2, window: '1m', coolDown: '30s', healthyToClose: '10s' },
  restartBackoff: { initial: '1s', max: '8s' },
  cadence: { min: '1s', max: '5m' },
});

describe('supervision config', () => {
  test('a config without supervision gets every default', () => {
    const config = parseConfig(component(), 'mend.config.yaml', opts);
    const s = config.components[0]!.supervision;
    assert.equal(s.enabled, true);
    assert.equal(s.group, 'default');
    assert.equal(s.interval, 5_000);
    assert.equal(s.failuresBeforeRecovery, 3);
    assert.equal(s.confirmInterval, 100);
    assert.equal(s.restartInPlace, true);
    assert.equal(s.backoffResetAfter, 600_000);
    assert.equal(s.relapseWindow, 5_000);
    assert.deepEqual(s.cadence, { min: 1_000, max: 300_000 });
    assert.deepEqual(s.breaker, { maxRecoveries: 3, window: 600_000, coolDown: 300_000, healthyToClose: 60_000 });
    assert.deepEqual(config.supervision, {
      maxDestructivePerMinute: 2,
      adaptiveRecoveries: { enabled: true, perCore: 8, slowAfter: 10_000 },
      notify: { timeout: 5_000 },
    });
  });

  test('bad supervision values are named by their path', () => {
    assert.deepEqual(problemsOf(component('\n    supervision: { interval: 500ms }')), [
      'components[0].supervision.interval: expected at least 1s (schedules fire at most once a second)',
    ]);
    assert.match(problemsOf(component('\n    supervision: { group: "Bad Group" }'))[0]!, /^components\[0\]\.supervision\.group: expected a group name/);
    assert.match(problemsOf(component('\n    supervision: { breaker: { maxRecoveries: 0 } }'))[0]!, /^components\[0\]\.supervision\.breaker\.maxRecoveries: /);
    assert.match(problemsOf(component('\n    supervision: { intervall: 5s }'))[0]!, /^components\[0\]\.supervision: .*intervall/);
    assert.match(problemsOf(component() + '\nsupervision: { notify: { webhook: "ftp://x" } }')[0]!, /^supervision\.notify\.webhook: expected an http\(s\) URL/);
  });
});

describe('circuit breaker', () => {
  const closed: BreakerStatus = { state: 'closed', recoveries: [] };

  test('allows maxRecoveries within the window, then opens with a cool-down', () => {
    let b = closed;
    for (const t of [0, 1_000]) {
      const d = breakerDecision(b, sup, t);
      assert.equal(d.allow, true);
      b = d.breaker;
    }
    const third = breakerDecision(b, sup, 2_000);
    assert.equal(third.allow, false);
    assert.equal(third.opened, true);
    assert.equal(third.breaker.state, 'open');
    assert.equal(third.breaker.halfOpenAt, 32_000);
    assert.equal(breakerDecision(third.breaker, sup, 3_000).allow, false, 'open stays shut');
  });

  test('recoveries older than the window do not count', () => {
    const b: BreakerStatus = { state: 'closed', recoveries: [0, 1_000] };
    assert.equal(breakerDecision(b, sup, 61_001).allow, true);
  });

  test('half-open after the cool-down; one failed trial opens it again; a healthy period closes it', () => {
    const open: BreakerStatus = { state: 'open', recoveries: [0, 1_000], openedAt: 2_000, halfOpenAt: 32_000 };
    assert.equal(advanceBreaker(open, sup, 31_999, undefined).state, 'open');
    const half = advanceBreaker(open, sup, 32_000, undefined);
    assert.equal(half.state, 'half-open');
    const trial = breakerDecision(half, sup, 32_500);
    assert.equal(trial.allow, true);
    const failed = afterTrial(trial.breaker, sup, 40_000, false);
    assert.equal(failed.opened, true);
    assert.equal(failed.breaker.state, 'open');
    assert.equal(failed.breaker.halfOpenAt, 70_000);
    assert.equal(afterTrial(trial.breaker, sup, 40_000, true).breaker.state, 'half-open');
    assert.equal(advanceBreaker(trial.breaker, sup, 49_999, 40_000).state, 'half-open');
    assert.deepEqual(advanceBreaker(trial.breaker, sup, 50_000, 40_000), { state: 'closed', recoveries: [], reason: 'healthy for 10000ms' });
  });
});

describe('backoff', () => {
  test('detection backoff starts at the larger of interval and cadence.min, doubles, and stops at cadence.max', () => {
    const seq: number[] = [];
    let b = 0;
    for (let i = 0; i < 10; i++) seq.push((b = nextDetectBackoff(b, sup)));
    assert.deepEqual(seq, [2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
  });

  test('restart backoff: none for the first recovery, then initial doubling up to max', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => restartDelay(n, sup)),
      [0, 1_000, 2_000, 4_000, 8_000, 8_000],
    );
  });
});

describe('statistics', () => {
  test('nearest-rank percentiles', () => {
    assert.equal(percentile([], 50), undefined);
    assert.equal(percentile([7], 95), 7);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 95), 95);
    assert.equal(percentile(hundred, 100), 100);
  });

  test('fleet stats add up the components and pool their MTTRs', () => {
    const a = initialState('a', sup, 0);
    a.stats = { ...a.stats, attempted: 3, succeeded: 2, failed: 1, mttrs: [100, 300] };
    const b = initialState('b', sup, 0);
    b.stats = { ...b.stats, attempted: 1, succeeded: 1, mttrs: [200] };
    b.breaker = { state: 'open', recoveries: [] };
    const stats = fleetStats([a, b], ['c']);
    assert.deepEqual(stats.fleet, {
      supervised: 2,
      attempted: 4,
      succeeded: 3,
      failed: 1,
      relapsed: 0,
      interrupted: 0,
      successRate: 0.75,
      mttrP50Ms: 200,
      mttrP95Ms: 300,
      breakersOpen: 1,
    });
    assert.equal(stats.components[0]!.successRate, 2 / 3);
    assert.deepEqual(stats.unsupervised, ['c']);
  });

  test('relapses are counted apart and are not successes', () => {
    const a = initialState('a', sup, 0);
    a.stats = { ...a.stats, attempted: 4, succeeded: 1, failed: 0, relapsed: 3, mttrs: [100] };
    const stats = fleetStats([a], []);
    assert.equal(stats.components[0]!.relapsed, 3);
    assert.equal(stats.components[0]!.successRate, 0.25);
    assert.deepEqual([stats.fleet.relapsed, stats.fleet.successRate], [3, 0.25]);
    const old = initialState('old', sup, 0);
    old.stats = { ...old.stats, attempted: 1, succeeded: 1 };
    delete old.stats.relapsed;
    assert.equal(fleetStats([old], []).components[0]!.relapsed, 0, 'a state from before relapses were counted');
  });
});

describe('metrics', () => {
  test('supervision statistics render as Prometheus text', async () => {
    const a = initialState('api', sup, 0);
    a.health = 'healthy';
    a.stats = { ...a.stats, attempted: 4, succeeded: 2, failed: 1, relapsed: 1, mttrs: [1_500, 500] };
    const b = initialState('store', sup, 0);
    b.breaker = { state: 'open', recoveries: [] };
    const text = await renderSupervisionMetrics(fleetStats([a, b], []));
    const lines = text.trimEnd().split('\n');
    assert.ok(lines.includes('# TYPE mend_recoveries_total counter'));
    assert.ok(lines.includes('mend_recoveries_started_total{component="api"} 4'));
    assert.ok(lines.includes('mend_recoveries_total{component="api",strategy="unknown",outcome="failed"} 1'));
    assert.ok(lines.includes('mend_recoveries_total{component="api",strategy="unknown",outcome="relapsed"} 1'));
    assert.ok(lines.includes('# TYPE mend_recovery_duration_seconds histogram'));
    assert.ok(lines.includes('mend_recovery_duration_seconds_bucket{component="api",le="0.5"} 1'));
    assert.ok(lines.includes('mend_recovery_duration_seconds_bucket{component="api",le="+Inf"} 2'));
    assert.ok(lines.includes('mend_recovery_duration_seconds_count{component="api"} 2'));
    assert.ok(lines.includes('mend_recovery_mttr_seconds{component="api",quantile="0.5"} 0.5'));
    assert.ok(lines.includes('mend_recovery_mttr_seconds{component="api",quantile="0.95"} 1.5'));
    assert.ok(lines.includes('mend_recovery_mttr_seconds_sum{component="api"} 2'), 'a summary has its sum');
    assert.ok(lines.includes('mend_recovery_mttr_seconds_count{component="api"} 2'), 'a summary has its count');
    assert.ok(!lines.some((l) => l.startsWith('mend_recovery_mttr_seconds{component="store"')), 'no MTTR without recoveries');
    assert.ok(lines.includes('mend_breaker_state{component="store",state="open"} 1'));
    assert.ok(lines.includes('mend_breaker_state{component="store",state="closed"} 0'));
    assert.ok(lines.includes('mend_breaker_open{component="store"} 1'));
    assert.ok(lines.includes('mend_breaker_open{component="api"} 0'));
    assert.ok(lines.includes('mend_component_up{component="api"} 1'));
    assert.ok(lines.includes('mend_component_up{component="store"} 0'));
    // Every sample line is `name{labels} number` (blank lines between families are allowed by the format).
    for (const line of lines.filter((l) => l !== '' && !l.startsWith('#'))) assert.match(line, /^mend_[a-z_]+\{[^}]*\} -?\d+(\.\d+)?(e-?\d+)?$/);
  });
});

describe('fleet permits', () => {
  const req = (component: string, at: number, destructive = false) => ({ component, supervisorId: `mend/supervisor/${component}`, max: 2, destructive, at });

  test('grant oldest first while fewer than max are held', () => {
    const queue: PermitQueue = {
      max: 2,
      holders: [{ component: 'a', supervisorId: 'x', since: 0 }],
      waiting: [req('b', 1), req('c', 2)],
      destructiveGrants: [],
    };
    assert.deepEqual(
      pickGrants(queue, 10).grant.map((g) => g.component),
      ['b'],
    );
    assert.deepEqual(
      pickGrants({ ...queue, holders: [] }, 10).grant.map((g) => g.component),
      ['b', 'c'],
    );
  });

  test('destructive recoveries are held back past the per-minute limit without holding back the others', () => {
    const queue: PermitQueue = {
      max: 10,
      maxDestructivePerMinute: 2,
      holders: [],
      waiting: [req('d1', 1, true), req('d2', 2, true), req('d3', 3, true), req('plain', 4)],
      destructiveGrants: [],
    };
    const first = pickGrants(queue, 1_000);
    assert.deepEqual(
      first.grant.map((g) => g.component),
      ['d1', 'd2', 'plain'],
    );
    assert.equal(first.wakeAt, 61_000, 'd3 may go a minute after the first destructive grant');
    const later: PermitQueue = { ...queue, waiting: [req('d3', 3, true)], destructiveGrants: [1_000, 1_000] };
    assert.deepEqual(pickGrants(later, 60_999).grant, []);
    assert.deepEqual(
      pickGrants(later, 61_000).grant.map((g) => g.component),
      ['d3'],
    );
  });
});
