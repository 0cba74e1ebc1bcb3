/**
 * The adaptive window of cheap recoveries (core/aimd.ts) and how the fleet limiter's grant rule
 * uses it (pickGrants): properties over random sequences of outcomes and queues.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { admits, initialWindow, nextWindow, type AimdOutcome } from '../core/aimd';
import { pickGrants, releasedWindow, windowFor, type PermitQueue, type PermitRequest } from '../core/supervision';

const settingsArb = fc.record({ ceiling: fc.integer({ min: 1, max: 200 }), slowMs: fc.integer({ min: 1, max: 60_000 }) });
const outcomeArb: fc.Arbitrary<AimdOutcome> = fc.record({
  ok: fc.option(fc.boolean(), { nil: undefined }),
  durationMs: fc.integer({ min: 0, max: 120_000 }),
});

describe('AIMD window', () => {
  test('never above its ceiling nor below 1, whatever the outcomes', () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 1, max: 50 }), fc.array(outcomeArb, { maxLength: 200 }), (settings, start, outcomes) => {
        let size = initialWindow(start, settings.ceiling);
        for (const o of outcomes) {
          size = nextWindow(size, o, settings);
          assert.ok(size >= 1 && size <= settings.ceiling, `window ${size} within [1, ${settings.ceiling}]`);
          const n = admits(size, settings.ceiling);
          assert.ok(Number.isInteger(n) && n >= 1 && n <= settings.ceiling);
        }
      }),
    );
  });

  test('a failed or slow recovery halves the window (never below 1)', () => {
    fc.assert(
      fc.property(settingsArb, fc.double({ min: 1, max: 200, noNaN: true }), fc.integer({ min: 0, max: 120_000 }), (settings, raw, durationMs) => {
        const size = Math.min(raw, settings.ceiling);
        const failed = nextWindow(size, { ok: false, durationMs }, settings);
        assert.equal(failed, Math.max(1, size / 2));
        if (size > 1) assert.ok(failed < size);
        const slow = nextWindow(size, { ok: true, durationMs: settings.slowMs + 1 + durationMs }, settings);
        assert.equal(slow, Math.max(1, size / 2));
      }),
    );
  });

  test('a quick success adds one, up to the ceiling', () => {
    fc.assert(
      fc.property(settingsArb, fc.double({ min: 1, max: 200, noNaN: true }), (settings, raw) => {
        const size = Math.min(raw, settings.ceiling);
        const next = nextWindow(size, { ok: true, durationMs: settings.slowMs }, settings);
        assert.equal(next, Math.min(settings.ceiling, size + 1));
        assert.ok(next >= size);
      }),
    );
  });

  test('no news (a permit given back without a recovery) leaves the window as it was', () => {
    fc.assert(
      fc.property(settingsArb, fc.double({ min: 1, max: 200, noNaN: true }), fc.nat(), (settings, raw, durationMs) => {
        const size = Math.min(raw, settings.ceiling);
        assert.equal(nextWindow(size, { durationMs }, settings), size);
      }),
    );
  });

  test('quick successes take a window from the strict cap to its ceiling in ceiling - cap steps', () => {
    const settings = { ceiling: 16, slowMs: 10_000 };
    let size = initialWindow(5, settings.ceiling);
    const seen = [admits(size, settings.ceiling)];
    for (let i = 0; i < 12; i++) seen.push(admits((size = nextWindow(size, { ok: true, durationMs: 400 }, settings)), settings.ceiling));
    assert.deepEqual(seen, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16]);
    assert.equal(admits(nextWindow(size, { ok: false, durationMs: 400 }, settings), settings.ceiling), 8);
  });
});

const cheap = (component: string, at: number, host = 'local'): PermitRequest & { at: number } => ({
  component,
  supervisorId: `mend/supervisor/${component}`,
  max: 2,
  adaptive: { ceiling: 12, slowMs: 10_000 },
  host,
  at,
});
const destructive = (component: string, at: number): PermitRequest & { at: number } => ({
  component,
  supervisorId: `mend/supervisor/${component}`,
  max: 2,
  destructive: true,
  maxDestructivePerMinute: 100,
  at,
});

describe('fleet limiter grants with adaptive windows', () => {
  test('cheap recoveries go past the strict cap as their window grows; destructive ones stay at the cap', () => {
    const waiting = [...Array.from({ length: 12 }, (_, i) => cheap(`c${i}`, i)), ...Array.from({ length: 4 }, (_, i) => destructive(`d${i}`, 20 + i))];
    let window = windowFor(undefined, { ceiling: 12, slowMs: 10_000 }, 2);
    for (let i = 0; i < 8; i++) window = releasedWindow(window, { ok: true, durationMs: 300 });
    const queue: PermitQueue = { max: 2, maxDestructivePerMinute: 100, holders: [], waiting, destructiveGrants: [], windows: { local: window } };
    const { grant } = pickGrants(queue, 1_000, true);
    assert.equal(grant.filter((g) => g.adaptive).length, 10, 'cheap: the window (2 + 8 quick successes)');
    assert.deepEqual(
      grant.filter((g) => g.destructive).map((g) => g.component),
      ['d0', 'd1'],
      'destructive: the strict cap of 2',
    );
  });

  test('before the patch every request counts against the one cap, as it always did', () => {
    const queue: PermitQueue = {
      max: 2,
      holders: [],
      waiting: [cheap('c0', 0), cheap('c1', 1), cheap('c2', 2)],
      destructiveGrants: [],
      windows: { local: { ceiling: 12, slowMs: 10_000, size: 12 } },
    };
    assert.deepEqual(
      pickGrants(queue, 1_000, false).grant.map((g) => g.component),
      ['c0', 'c1'],
    );
  });

  test("a host's full window holds back no other host's cheap recoveries", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 10 }), (sizeA, queuedA, queuedB) => {
        const holders = Array.from({ length: sizeA }, (_, i) => ({ component: `a-held${i}`, supervisorId: 's', since: 0, cheap: true, host: 'a' }));
        const waiting = [
          ...Array.from({ length: queuedA }, (_, i) => cheap(`a${i}`, i, 'a')),
          ...Array.from({ length: queuedB }, (_, i) => cheap(`b${i}`, 100 + i, 'b')),
        ];
        const queue: PermitQueue = {
          max: 2,
          holders,
          waiting,
          destructiveGrants: [],
          windows: { a: { ceiling: 12, slowMs: 10_000, size: sizeA }, b: { ceiling: 12, slowMs: 10_000, size: 2 } },
        };
        const { grant } = pickGrants(queue, 0, true);
        assert.equal(grant.filter((g) => g.host === 'a').length, 0, 'host a is full');
        assert.equal(grant.filter((g) => g.host === 'b').length, Math.min(queuedB, 2), 'host b admits its own window');
      }),
    );
  });

  test('with slow start a new window admits half its ceiling at once (at least the strict cap); without, the strict cap', () => {
    const waiting = Array.from({ length: 30 }, (_, i) => cheap(`c${i}`, i));
    const queue: PermitQueue = { max: 2, holders: [], waiting, destructiveGrants: [] };
    assert.equal(pickGrants(queue, 1_000, true).grant.length, 2, 'no slow start: the strict cap');
    assert.equal(pickGrants(queue, 1_000, true, true).grant.length, 6, 'slow start: half of 12');
    assert.equal(windowFor(undefined, { ceiling: 12, slowMs: 10_000 }, 2, true).size, 6);
    assert.equal(windowFor(undefined, { ceiling: 12, slowMs: 10_000 }, 8, true).size, 8, 'never below the strict cap');
    assert.equal(windowFor(undefined, { ceiling: 3, slowMs: 10_000 }, 5, true).size, 3, 'never above the ceiling');
    // A window that already exists keeps its size: the patch changes only where new ones start.
    assert.equal(windowFor({ ceiling: 12, slowMs: 10_000, size: 1 }, { ceiling: 12, slowMs: 10_000 }, 2, true).size, 1);
  });

  test('a slow-start window still halves on a slow or failed recovery and grows by one on a quick one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 256 }), (strict, ceiling) => {
        const w = windowFor(undefined, { ceiling, slowMs: 1_000 }, strict, true);
        assert.equal(w.size, Math.min(ceiling, Math.max(strict, Math.floor(ceiling / 2))));
        assert.equal(releasedWindow(w, { ok: false, durationMs: 10 }).size, Math.max(1, w.size / 2));
        assert.equal(releasedWindow(w, { ok: true, durationMs: 5_000 }).size, Math.max(1, w.size / 2));
        assert.equal(releasedWindow(w, { ok: true, durationMs: 10 }).size, Math.min(ceiling, w.size + 1));
      }),
    );
  });

  test('slow recoveries in a row take a window without a floor below the strict cap (to 1); with the floor it stays at the cap', () => {
    // A mass outage on a loaded host: every recovery holds its permit past slowAfter, mostly waiting its turn.
    const cap = { ceiling: 16, slowMs: 10_000 };
    const slow = { ok: true, durationMs: 12_000 };
    let [unfloored, floored] = [windowFor(undefined, cap, 5, true), windowFor(undefined, cap, 5, true, true)];
    assert.deepEqual([unfloored.size, floored.size], [8, 8]);
    for (let i = 0; i < 6; i++) [unfloored, floored] = [releasedWindow(unfloored, slow), releasedWindow(floored, slow)];
    assert.equal(unfloored.size, 1, 'without the floor: one at a time, below the strict cap of 5');
    assert.equal(floored.size, 5, 'with the floor: the strict cap');
    const waiting = Array.from({ length: 30 }, (_, i) => cheap(`c${i}`, i));
    const queue = (window: typeof floored): PermitQueue => ({ max: 5, holders: [], waiting, destructiveGrants: [], windows: { local: window } });
    assert.equal(pickGrants(queue(unfloored), 1_000, true, true).grant.length, 1);
    assert.equal(pickGrants(queue(floored), 1_000, true, true).grant.length, 5, 'admits the strict cap at once');
    // Quick successes still grow it from there.
    assert.equal(releasedWindow(floored, { ok: true, durationMs: 300 }).size, 6);
  });

  test('a floored window stays within [min(cap, ceiling), ceiling] whatever the outcomes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), settingsArb, fc.array(outcomeArb, { maxLength: 100 }), (strict, settings, outcomes) => {
        let w = windowFor(undefined, settings, strict, true, true);
        const floor = Math.min(strict, settings.ceiling);
        for (const o of outcomes) {
          w = releasedWindow(w, o);
          assert.ok(w.size >= floor && w.size <= settings.ceiling, `window ${w.size} within [${floor}, ${settings.ceiling}]`);
        }
        // An existing window below the cap (from a run before the patch) is raised to it.
        assert.equal(windowFor({ ...settings, size: 1 }, settings, strict, true, true).size, floor);
      }),
    );
  });
});
