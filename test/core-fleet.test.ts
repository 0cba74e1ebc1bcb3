/** The fleet page's recoveries-per-hour chart: counts per hour of the last 24, oldest first. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hourlyCounts } from '../core/api';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

test('a recovery is counted in the hour it started: the last hour is the last bucket, older than a day or in the future not at all', () => {
  const counts = hourlyCounts([iso(0), iso(59 * 60_000), iso(60 * 60_000), iso(23.5 * 3_600_000), iso(24 * 3_600_000), iso(-1_000), 'not a time'], NOW);
  assert.equal(counts.length, 24);
  assert.equal(counts[23], 2);
  assert.equal(counts[22], 1);
  assert.equal(counts[0], 1);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    4,
  );
});

test('every start within the last 24 hours is counted once', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 24 * 3_600_000 - 1 }), { maxLength: 50 }), (agos) => {
      const counts = hourlyCounts(agos.map(iso), NOW);
      return counts.length === 24 && counts.reduce((a, b) => a + b, 0) === agos.length;
    }),
  );
});
