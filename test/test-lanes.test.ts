/**
 * How `npm test` packs the concurrent lane's files into shared processes (scripts/test-lanes.ts):
 * every file once, groups of about equal length by the last timings, a file marked alone in a
 * process of its own, and a group's script that loads its files in turn and names one that fails to load.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { groupScript, packFiles, type TestFile } from '../scripts/test-lanes';
import { tempDir } from './helpers';

const file = (name: string, alone = false): TestFile => ({ path: `test/${name}.test.ts`, heavy: false, alone });

describe('packing test files into shared processes', () => {
  test('every file lands in exactly one group, at most the number of processes asked for (plus alone files)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ms: fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }), alone: fc.boolean() }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (specs, processes) => {
          const files = specs.map((s, i) => file(`f${i}`, s.alone));
          const durations = Object.fromEntries(specs.flatMap((s, i) => (s.ms === undefined ? [] : [[files[i]!.path, s.ms]])));
          const groups = packFiles(files, durations, processes);
          assert.deepEqual(
            groups
              .flat()
              .map((f) => f.path)
              .sort(),
            files.map((f) => f.path).sort(),
          );
          const aloneCount = files.filter((f) => f.alone).length;
          assert.ok(groups.length <= processes + aloneCount);
          for (const g of groups) if (g.some((f) => f.alone)) assert.equal(g.length, 1, 'an alone file shares its process with no other');
          assert.ok(groups.every((g) => g.length > 0));
        },
      ),
    );
  });

  test('groups come out about equal: none longer than the ideal share plus the longest file', () => {
    const ms = [90, 80, 70, 60, 50, 40, 30, 20, 10, 10, 5, 5, 5, 1];
    const files = ms.map((_, i) => file(`g${i}`));
    const durations = Object.fromEntries(files.map((f, i) => [f.path, ms[i]!]));
    const groups = packFiles(files, durations, 4);
    const lengths = groups.map((g) => g.reduce((sum, f) => sum + durations[f.path]!, 0));
    assert.equal(groups.length, 4);
    const share = ms.reduce((a, b) => a + b, 0) / 4;
    for (const l of lengths) assert.ok(l <= share + Math.max(...ms), `${l} against a share of ${share}`);
    assert.deepEqual(
      lengths,
      [...lengths].sort((a, b) => b - a),
      'slowest group first',
    );
  });

  test("a group's script runs its files' tests in one process, and a file that does not load fails as a test named for it while the others still run", () => {
    const dir = tempDir('test-lanes');
    writeFileSync(path.join(dir, 'a.test.js'), "require('node:test').test('a passes', () => {});\n");
    writeFileSync(path.join(dir, 'b.test.js'), "throw new Error('b does not load');\n");
    writeFileSync(path.join(dir, 'c.test.js'), "require('node:test').test('c passes', () => {});\n");
    const script = path.join(dir, 'group.test.cjs');
    writeFileSync(script, groupScript(['a', 'b', 'c'].map((n) => path.join(dir, `${n}.test.js`))));
    // Without the runner's NODE_TEST_CONTEXT: this child reports to its own runner, here a TAP stream.
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_TEST_CONTEXT: undefined },
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^ok \d+ - a passes$/m);
    assert.match(run.stdout, /^ok \d+ - c passes$/m);
    assert.match(run.stdout, new RegExp(`^not ok \\d+ - ${path.join(dir, 'b.test.js').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} loads$`, 'm'));
    assert.match(run.stdout, /b does not load/);
  });
});
