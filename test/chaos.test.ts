/**
 * The chaos suite, short: chaos/harness.ts with its own dev server on a file database (it restarts
 * it), a worker, supervised and manual demo services and a backlog spool to a flaky sink, through
 * a dozen faults of every kind. The full run is `npm run chaos` (200 faults).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { accountBacklog, accountStarts, runChaos } from '../chaos/harness';
import { tempDir } from './helpers';

describe('chaos accounting', () => {
  test('a process start no run accounts for is a duplicated action; fewer starts than pids is reported', () => {
    const ok = accountStarts([{ component: 'a', starts: 3, pids: new Set([10, 11, 12]) }]);
    assert.deepEqual([ok.duplicated, ok.unexplained], [0, []]);
    const dup = accountStarts([
      { component: 'a', starts: 4, pids: new Set([10, 11, 12]) },
      { component: 'b', starts: 1, pids: new Set([20]) },
    ]);
    assert.equal(dup.duplicated, 1);
    assert.equal(dup.processStarts, 5);
    assert.equal(dup.accountedStarts, 4);
    assert.match(dup.unexplained[0]!, /a: 4 starts, 3 accounted for/);
    const short = accountStarts([{ component: 'c', starts: 1, pids: new Set([1, 2]) }]);
    assert.equal(short.duplicated, 0);
    assert.match(short.unexplained[0]!, /only 1 starts/);
  });

  test('backlog: a second write is a duplicate, a missing id is lost, delivered and dead is both', () => {
    const failed = [
      { file: '001763888400000-c.json', reason: { reason: '3 failed attempts' } },
      { file: '001763888400001-d.json', reason: { reason: '3 failed attempts' } },
      { file: '001763888400002-e.json' },
    ];
    const { backlog, strangers } = accountBacklog(['a', 'b', 'c', 'd', 'e', 'f'], ['a', 'b', 'a', 'd', 'x'], failed, 7);
    assert.equal(backlog.duplicated, 1, 'a written twice');
    assert.equal(backlog.lost, 1, 'f is nowhere');
    assert.equal(backlog.bothDeliveredAndFailed, 1, 'd delivered and dead-lettered');
    assert.equal(backlog.withoutReason, 1, 'e has no reason file');
    assert.deepEqual(strangers, ['x']);
    assert.equal(backlog.deadLettered, 3);
  });
});

describe('chaos, short', () => {
  test('12 faults (worker SIGKILLs, dev-server restarts, service SIGKILLs, sink outages): every run completes once, no action twice, no item lost or doubled, counters kept', { timeout: 600_000 }, async () => {
    const dir = tempDir('chaos');
    const summary = await runChaos({
      faults: 12,
      dir,
      minItems: 50,
      gapMs: [200, 800],
      workflowBundle: process.env.MEND_WORKFLOW_BUNDLE,
      log: (line) => console.log(`# ${line}`),
    });
    const f = summary.faults;
    console.log(
      `# chaos: ${f.total} faults (${f['worker-kill']} worker kills, ${f['server-restart']} server restarts, ${f['service-kill']} service kills, ${f['sink-down']} sink outages) in ${(summary.durationMs / 1000).toFixed(0)}s; ` +
        `${summary.runs.attempted} runs, ${summary.runs.completed} completed, ${summary.actions.duplicated} duplicated actions, ${summary.backlog.lost} lost items, ${summary.backlog.injectedSinkFailures} injected sink failures`,
    );
    assert.deepEqual(summary.violations, []);
    assert.equal(f.total, 12);
    for (const kind of ['worker-kill', 'server-restart', 'service-kill', 'sink-down'] as const) assert.ok(f[kind] >= 1, `at least one ${kind}`);
    assert.ok(summary.runs.manual >= 5, 'manual runs went on during the faults');
    assert.ok(summary.runs.supervisor >= 1, 'supervisors recovered killed services');
    assert.equal(summary.runs.completed, summary.runs.attempted);
    assert.equal(summary.runs.lost, 0);
    assert.equal(summary.actions.duplicated, 0);
    assert.equal(summary.actions.processStarts, summary.actions.accountedStarts);
    assert.ok(summary.backlog.spooled >= 50);
    assert.equal(summary.backlog.lost, 0);
    assert.equal(summary.backlog.duplicated, 0);
    assert.equal(summary.backlog.delivered + summary.backlog.deadLettered, summary.backlog.spooled);
    assert.ok(summary.backlog.injectedSinkFailures > 0, 'the sink really failed requests');
    assert.equal(summary.supervisors.counterChecks, 12);
    assert.deepEqual(summary.supervisors.decreased, []);
    rmSync(dir, { recursive: true, force: true });
  });
});
