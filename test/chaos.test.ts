// test-lane: heavy — its own dev server, restarted under a dozen timed faults, and its own worker and services
/**
 * The chaos suite, short: chaos/harness.ts with its own dev server on a file database (it restarts
 * it), a worker, supervised and manual demo services and a backlog spool to a flaky sink, through
 * a dozen faults of every kind. The soak is `npm run chaos` (dense batches of hundreds of faults).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { accountBacklog, accountStarts, countProcesses, runChaos, sumBacklog, type ChaosSummary } from '../chaos/harness';
import { formatTotals, resultLine, totals } from '../chaos/run';
import { tempDir } from './helpers';

describe('chaos accounting', () => {
  test('a process start no run accounts for is a duplicated action; fewer starts than processes is reported', () => {
    const ok = accountStarts([{ component: 'a', starts: 3, processes: 3 }]);
    assert.deepEqual([ok.duplicated, ok.unexplained], [0, []]);
    const dup = accountStarts([
      { component: 'a', starts: 4, processes: 3 },
      { component: 'b', starts: 1, processes: 1 },
    ]);
    assert.equal(dup.duplicated, 1);
    assert.equal(dup.processStarts, 5);
    assert.equal(dup.accountedStarts, 4);
    assert.match(dup.unexplained[0]!, /a: 4 starts, 3 accounted for/);
    const short = accountStarts([{ component: 'c', starts: 1, processes: 2 }]);
    assert.equal(short.duplicated, 0);
    assert.match(short.unexplained[0]!, /only 1 starts/);
  });

  test('processes are counted by pid changes in step order, so a reused pid is a new process', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 18, 0, s)).toISOString();
    // 10 (initial) → 11 → 11 again (an "already running" after a retried start) → 12 → 10 (pid reused)
    const claims = [
      { at: at(4), pid: 12 },
      { at: at(1), pid: 11 },
      { at: at(2), pid: 11 },
      { at: at(6), pid: 10 },
    ];
    assert.equal(countProcesses(10, claims), 4);
    assert.equal(countProcesses(10, []), 1);
    assert.equal(countProcesses(10, [{ at: at(1), pid: 10 }]), 1, 'a run that found the first process running started nothing');
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

  test('backlog of several spools: each accounted against its own sink, then added; an item at the wrong sink is lost there', () => {
    const one = accountBacklog(['a', 'b'], ['a', 'b'], [], 1).backlog;
    const two = accountBacklog(['c', 'd'], ['c', 'a'], [], 2);
    assert.deepEqual(two.strangers, ['a']);
    const sum = sumBacklog(one, two.backlog);
    assert.deepEqual([sum.spooled, sum.delivered, sum.lost, sum.injectedSinkFailures], [4, 4, 1, 3]);
  });
});

describe('chaos results file', () => {
  const summary = (over: { lost?: number; dupActions?: number; ok?: boolean; kinds: Partial<ChaosSummary['faults']> }): ChaosSummary => {
    const faults = {
      'worker-kill': 0,
      'server-restart': 0,
      'postgres-restart': 0,
      'agent-kill': 0,
      'service-kill': 0,
      'sink-down': 0,
      total: 0,
      ...over.kinds,
    };
    faults.total = Object.entries(faults).reduce((n, [k, v]) => (k === 'total' ? n : n + v), 0);
    return {
      faults,
      runs: { attempted: 10, completed: 10 - (over.lost ?? 0), recovered: 10, failedOutcome: 0, lost: over.lost ?? 0, duplicated: 0, manual: 8, supervisor: 2 },
      actions: { processStarts: 12, accountedStarts: 12, duplicated: over.dupActions ?? 0, unexplained: [] },
      backlog: {
        spooled: 50,
        delivered: 49,
        deadLettered: 1,
        sinkWrites: 49,
        duplicated: 0,
        lost: 0,
        bothDeliveredAndFailed: 0,
        withoutReason: 0,
        injectedSinkFailures: 5,
      },
      supervisors: { counterChecks: 3, decreased: [], longestUnansweredMs: 0, attempted: 2, succeeded: 2, failed: 0 },
      outcomes: {
        serviceKills: { total: 3, recovered: 3, medianRecoveryMs: 2_000, maxRecoveryMs: 4_000 },
        sinkOutages: { total: 2, felt: 2, recovered: 2 },
      },
      unexpectedWorkerExits: 0,
      durationMs: 61_000,
      violations: over.ok === false ? ['1 run(s) lost'] : [],
      ok: over.ok ?? true,
    };
  };

  test('the running total adds every line: injections by kind and topology, lost and duplicated, failed batches', () => {
    const load = { start: 1, end: 2, cores: 2 };
    const lines = [
      resultLine(summary({ kinds: { 'server-restart': 2, 'postgres-restart': 3 } }), 'prod', 'abc', load),
      resultLine(summary({ kinds: { 'worker-kill': 4 }, lost: 1, dupActions: 2, ok: false }), 'dev', 'def', load),
    ];
    assert.equal(lines[0]!.durationS, 61);
    assert.deepEqual(lines[0]!.backlog, { spooled: 50, delivered: 49, deadLettered: 1, lost: 0, doubled: 0 });
    const t = totals(JSON.parse(JSON.stringify(lines)));
    assert.equal(t.injections.total, 9);
    assert.deepEqual(t.byTopology, { prod: 5, dev: 4 });
    assert.equal(t.injections['postgres-restart'], 3);
    assert.deepEqual([t.runs, t.lost, t.duplicated, t.failedBatches], [20, 1, 2, 1]);
    assert.match(
      formatTotals(t),
      /2 recorded batches: 9 injections \(5 prod, 4 dev; 4 worker-kill, 2 server-restart, 3 postgres-restart\); 20 runs, 1 lost, 2 duplicated; .*1 batch\(es\) FAILED/,
    );
  });
});

describe('chaos, short', () => {
  test(
    '12 faults (worker SIGKILLs, dev-server restarts, service SIGKILLs, sink outages): every run completes once, no action twice, no item lost or doubled, counters kept',
    { timeout: 600_000 },
    async () => {
      const dir = tempDir('chaos');
      const summary = await runChaos({
        faults: 12,
        dir,
        minItems: 50,
        gapMs: [200, 800],
        slowGapMs: [2_000, 5_000],
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
      // Few under heavy load: each worker kill or server restart holds them up while it lasts.
      assert.ok(summary.runs.manual >= 2, 'manual runs went on during the faults');
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
      assert.ok(summary.supervisors.counterChecks >= 1, 'supervisor counters were sampled');
      const { serviceKills, sinkOutages } = summary.outcomes;
      assert.equal(serviceKills.total, f['service-kill']);
      assert.equal(serviceKills.recovered, serviceKills.total, 'every killed service seen back from a new process');
      assert.equal(sinkOutages.total, f['sink-down']);
      assert.equal(sinkOutages.recovered, sinkOutages.total, 'every sink outage seen over');
      assert.deepEqual(summary.supervisors.decreased, []);
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
