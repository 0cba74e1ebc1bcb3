/**
 * `npm run chaos [-- --faults N] [--quick] [--keep]`: the chaos harness (chaos/harness.ts) with
 * its own dev server, worker and demo fleet; prints the summary, writes bench/results/chaos.json
 * and chaos.md, and exits 1 when an invariant failed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos, type ChaosSummary } from './harness';

const RESULTS = path.resolve(__dirname, '../bench/results');

function markdown(s: ChaosSummary, when: string): string {
  const f = s.faults;
  return [
    `## Chaos run (${when})`,
    '',
    `${f.total} fault injections in ${(s.durationMs / 60_000).toFixed(1)} min: ${f['worker-kill']} worker SIGKILLs, ${f['server-restart']} dev-server restarts on the same database, ${f['service-kill']} service SIGKILLs, ${f['sink-down']} sink outages (sink FAIL_RATE on throughout).`,
    '',
    '| check | figure |',
    '| --- | --- |',
    `| recovery runs attempted | ${s.runs.attempted} (${s.runs.manual} manual, ${s.runs.supervisor} by supervisors) |`,
    `| runs completed | ${s.runs.completed} (${s.runs.recovered} recovered, ${s.runs.failedOutcome} ended failed) |`,
    `| lost runs | ${s.runs.lost} |`,
    `| duplicated runs | ${s.runs.duplicated} |`,
    `| process starts / accounted for by runs | ${s.actions.processStarts} / ${s.actions.accountedStarts} |`,
    `| duplicated actions | ${s.actions.duplicated} |`,
    `| backlog items spooled / delivered / dead-lettered | ${s.backlog.spooled} / ${s.backlog.delivered} / ${s.backlog.deadLettered} |`,
    `| backlog items lost / duplicated at the sink | ${s.backlog.lost} / ${s.backlog.duplicated} |`,
    `| injected sink failures | ${s.backlog.injectedSinkFailures} |`,
    `| supervisor counter checks / decreases | ${s.supervisors.counterChecks} / ${s.supervisors.decreased.length} |`,
    `| unexpected worker exits | ${s.unexpectedWorkerExits} |`,
    `| result | ${s.ok ? 'all invariants held' : `FAILED: ${s.violations.join('; ')}`} |`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      faults: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      dir: { type: 'string' },
    },
  });
  const faults = values.faults ? Number(values.faults) : values.quick ? 15 : 200;
  if (!Number.isInteger(faults) || faults < 1) throw new Error(`--faults: expected a positive integer, got ${values.faults}`);
  const dir = values.dir ? path.resolve(values.dir) : mkdtempSync(path.join(os.tmpdir(), 'mend-chaos-'));
  console.log(`chaos: ${faults} faults, working in ${dir}`);
  // Ctrl-C / SIGTERM: the harness stops injecting and cleans up what it started before exiting.
  const abort = new AbortController();
  const onSignal = (signal: string) => {
    console.error(`chaos: ${signal}, cleaning up`);
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let summary: ChaosSummary;
  try {
    summary = await runChaos({ faults, dir, signal: abort.signal });
  } catch (err) {
    console.error(`chaos: ${(err as Error).message} (files kept in ${dir})`);
    return 1;
  }
  console.log(JSON.stringify(summary, null, 2));
  const when = new Date().toISOString();
  mkdirSync(RESULTS, { recursive: true });
  if (!values.quick) {
    writeFileSync(path.join(RESULTS, 'chaos.json'), JSON.stringify({ at: when, ...summary }, null, 2) + '\n');
    writeFileSync(path.join(RESULTS, 'chaos.md'), markdown(summary, when));
  }
  console.log(markdown(summary, when));
  if (summary.ok && !values.keep && !values.dir) rmSync(dir, { recursive: true, force: true });
  else console.log(`chaos: files kept in ${dir}`);
  return summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`chaos: ${err.message}`);
    process.exit(1);
  },
);
