/**
 * `npm run chaos`: the chaos soak. Runs chaos/harness.ts in batches against the dev server or the
 * production topology (the real Temporal server on PostgreSQL), each batch on a fresh stack with its
 * own checks, appends one line per checked batch to bench/results/chaos-runs.jsonl and prints the
 * running total of that file. Exits 1 when an invariant failed.
 *
 *   npm run chaos -- [--topology dev|prod] [--injections N | --minutes M] [--batch B]
 *                    [--supervised S] [--manual M] [--sinks K] [--no-agent] [--results FILE] [--keep]
 *
 * Without --injections it runs batches for --minutes (default 50; a batch is not started when the
 * last one's pace says it would end past that, and a batch stops injecting 6 minutes before it, then
 * runs its checks and is recorded with the injections made), so a default run ends within about an hour.
 *
 * A batch is dense (see chaos/harness.ts): service kills and sink outages every 1–2 s on rotating
 * targets (S supervised services, K sinks), worker/agent kills and server/PostgreSQL restarts every
 * 15–30 s; batches of a few hundred injections amortize the stack's start and the checks.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, runChaos, type ChaosSummary, type FaultKind, type Topology } from './harness';

const ROOT = path.resolve(__dirname, '..');
export const RESULTS_FILE = path.join(ROOT, 'bench/results/chaos-runs.jsonl');

/** One line of the results file: one batch, checked. */
export interface ChaosRunLine {
  date: string;
  commit: string;
  topology: Topology;
  injections: Record<FaultKind, number> & { total: number };
  runs: number;
  lost: number;
  duplicatedRuns: number;
  duplicatedActions: number;
  processStarts: number;
  backlog: { spooled: number; delivered: number; deadLettered: number; lost: number; doubled: number };
  durationS: number;
  /** The fast lane's faults, each with its own outcome (lines written before it have none). */
  outcomes?: ChaosSummary['outcomes'];
  /** The longest stretch without a supervisor counter sample, s (reported; the next sample compares across it). */
  longestUnansweredS?: number;
  /** The batch's shape: supervised and manual services, sinks (lines written before it have none). */
  shape?: { supervised: number; manual: number; sinks: number };
  /** 1-minute load average at the batch's start and end, and the machine's cores. */
  load: { start: number; end: number; cores: number };
  ok: boolean;
  violations: string[];
}

export function resultLine(s: ChaosSummary, topology: Topology, commit: string, load: ChaosRunLine['load'], shape?: ChaosRunLine['shape']): ChaosRunLine {
  return {
    date: new Date().toISOString(),
    commit,
    topology,
    injections: s.faults,
    runs: s.runs.attempted,
    lost: s.runs.lost,
    duplicatedRuns: s.runs.duplicated,
    duplicatedActions: s.actions.duplicated,
    processStarts: s.actions.processStarts,
    backlog: {
      spooled: s.backlog.spooled,
      delivered: s.backlog.delivered,
      deadLettered: s.backlog.deadLettered,
      lost: s.backlog.lost,
      doubled: s.backlog.duplicated,
    },
    durationS: Math.round(s.durationMs / 1000),
    outcomes: s.outcomes,
    longestUnansweredS: Math.round(s.supervisors.longestUnansweredMs / 1000),
    ...(shape ? { shape } : {}),
    load,
    ok: s.ok,
    violations: s.violations,
  };
}

export interface ChaosTotals {
  lines: number;
  injections: Record<FaultKind, number> & { total: number };
  byTopology: Record<string, number>;
  runs: number;
  lost: number;
  duplicated: number;
  backlogSpooled: number;
  backlogLost: number;
  backlogDoubled: number;
  failedBatches: number;
}

/** Sums the results file's lines (a missing file is an empty total). */
export function totals(lines: ChaosRunLine[]): ChaosTotals {
  const t: ChaosTotals = {
    lines: lines.length,
    injections: Object.fromEntries([...FAULT_KINDS.map((k) => [k, 0]), ['total', 0]]) as ChaosTotals['injections'],
    byTopology: {},
    runs: 0,
    lost: 0,
    duplicated: 0,
    backlogSpooled: 0,
    backlogLost: 0,
    backlogDoubled: 0,
    failedBatches: 0,
  };
  for (const l of lines) {
    for (const k of FAULT_KINDS) t.injections[k] += l.injections[k] ?? 0;
    t.injections.total += l.injections.total;
    t.byTopology[l.topology] = (t.byTopology[l.topology] ?? 0) + l.injections.total;
    t.runs += l.runs;
    t.lost += l.lost;
    t.duplicated += l.duplicatedRuns + l.duplicatedActions;
    t.backlogSpooled += l.backlog.spooled;
    t.backlogLost += l.backlog.lost;
    t.backlogDoubled += l.backlog.doubled;
    if (!l.ok) t.failedBatches++;
  }
  return t;
}

export function readResults(file: string): ChaosRunLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ChaosRunLine);
}

export function formatTotals(t: ChaosTotals): string {
  const kinds = FAULT_KINDS.filter((k) => t.injections[k] > 0)
    .map((k) => `${t.injections[k]} ${k}`)
    .join(', ');
  const topo = Object.entries(t.byTopology)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return (
    `chaos total over ${t.lines} recorded batch${t.lines === 1 ? '' : 'es'}: ${t.injections.total} injections (${topo || 'none'}; ${kinds || 'none'}); ` +
    `${t.runs} runs, ${t.lost} lost, ${t.duplicated} duplicated; backlog ${t.backlogSpooled} items, ${t.backlogLost} lost, ${t.backlogDoubled} doubled` +
    (t.failedBatches ? `; ${t.failedBatches} batch(es) FAILED` : '')
  );
}

function commitOf(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }).toString().trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      topology: { type: 'string', default: 'dev' },
      injections: { type: 'string' },
      faults: { type: 'string' }, // the old name of --injections
      minutes: { type: 'string' },
      batch: { type: 'string', default: '400' },
      supervised: { type: 'string', default: '8' },
      manual: { type: 'string', default: '2' },
      sinks: { type: 'string', default: '4' },
      'no-agent': { type: 'boolean', default: false },
      results: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const topology = values.topology as Topology;
  if (topology !== 'dev' && topology !== 'prod') throw new Error(`--topology: expected dev or prod, got ${values.topology}`);
  const whole = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a whole number of at least 1, got ${raw}`);
    return n;
  };
  const injections = whole('injections', values.injections ?? values.faults);
  const minutes = whole('minutes', values.minutes) ?? (injections === undefined ? 50 : undefined);
  const batch = whole('batch', values.batch)!;
  const shape = { supervised: whole('supervised', values.supervised)!, manual: whole('manual', values.manual)!, sinks: whole('sinks', values.sinks)! };
  const resultsFile = values.results ? path.resolve(values.results) : RESULTS_FILE;
  const budgetMs = minutes === undefined ? Infinity : minutes * 60_000;

  const abort = new AbortController();
  const onSignal = (signal: string) => {
    console.error(`chaos: ${signal}: stopping the batch and cleaning up (an unfinished batch is not recorded)`);
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const t0 = Date.now();
  const commit = commitOf(); // what this run runs: edits made while it goes on are not in it
  console.log(
    `chaos: ${topology} topology, ${injections !== undefined ? `${injections} injections` : `${minutes} minutes`}, batches of ${batch}, results appended to ${path.relative(ROOT, resultsFile)}`,
  );
  console.log(formatTotals(totals(readResults(resultsFile))));
  let done = 0;
  let failed = false;
  let lastBatchMs = 0;
  for (let n = 1; ; n++) {
    const left = injections === undefined ? batch : Math.min(batch, injections - done);
    if (left <= 0) break;
    const elapsed = Date.now() - t0;
    if (elapsed + lastBatchMs * (left / batch) > budgetMs && n > 1) break;
    // Injections stop early enough for the quiet period and checks to end within the budget.
    const injectUntil = budgetMs === Infinity ? undefined : t0 + budgetMs - CHECKS_ALLOWANCE_MS;
    // A stack takes a minute or two to start under load: a batch with less time left would inject nothing.
    if (injectUntil !== undefined && Date.now() + 3 * 60_000 >= injectUntil) break;
    const dir = mkdtempSync(path.join(os.tmpdir(), `mend-chaos-${topology}-`));
    const load0 = os.loadavg()[0]!;
    console.log(`chaos: batch ${n}: ${left} injections on ${topology} (${(elapsed / 60_000).toFixed(1)} min in, load ${load0.toFixed(2)}), files in ${dir}`);
    let summary: ChaosSummary;
    try {
      summary = await runChaos({
        faults: left,
        injectUntil,
        dir,
        topology,
        agent: !values['no-agent'],
        ...shape,
        signal: abort.signal,
        log: (l) => console.log(`  ${l}`),
      });
    } catch (err) {
      console.error(`chaos: batch ${n} did not finish: ${(err as Error).message} (files kept in ${dir})`);
      return 1;
    }
    lastBatchMs = summary.durationMs;
    const line = resultLine(summary, topology, commit, { start: round2(load0), end: round2(os.loadavg()[0]!), cores: os.cpus().length }, shape);
    mkdirSync(path.dirname(resultsFile), { recursive: true });
    appendFileSync(resultsFile, JSON.stringify(line) + '\n');
    done += summary.faults.total;
    const f = summary.faults;
    console.log(
      `chaos: batch ${n} ${summary.ok ? 'ok' : 'FAILED'} in ${(summary.durationMs / 60_000).toFixed(1)} min: ` +
        `${FAULT_KINDS.filter((k) => f[k] > 0)
          .map((k) => `${f[k]} ${k}`)
          .join(', ')}; ${summary.runs.attempted} runs, ${summary.runs.lost} lost, ${summary.runs.duplicated} duplicated runs, ` +
        `${summary.actions.duplicated} duplicated actions (${summary.actions.processStarts} starts); backlog ${summary.backlog.spooled} items, ${summary.backlog.lost} lost, ${summary.backlog.duplicated} doubled; ` +
        `${summary.outcomes.serviceKills.recovered}/${summary.outcomes.serviceKills.total} kills recovered (median ${(summary.outcomes.serviceKills.medianRecoveryMs / 1000).toFixed(1)} s, max ${(summary.outcomes.serviceKills.maxRecoveryMs / 1000).toFixed(1)} s), ` +
        `${summary.outcomes.sinkOutages.recovered}/${summary.outcomes.sinkOutages.total} outages recovered (${summary.outcomes.sinkOutages.felt} felt); ` +
        `${(summary.faults.total / (summary.durationMs / 60_000)).toFixed(1)} injections/min`,
    );
    if (!summary.ok) {
      failed = true;
      console.log(`chaos: violations: ${summary.violations.join('; ')}`);
    }
    console.log(formatTotals(totals(readResults(resultsFile))));
    if (summary.ok && !values.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`chaos: files kept in ${dir}`);
  }
  console.log(`chaos: ${done} injections in ${((Date.now() - t0) / 60_000).toFixed(1)} min${failed ? ', with FAILED batches' : ', every invariant held'}`);
  return failed ? 1 : 0;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
/** What a batch's quiet period and checks are given at the end of --minutes. */
const CHECKS_ALLOWANCE_MS = 6 * 60_000;

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`chaos: ${err.message}`);
      process.exit(err.message.startsWith('--') ? 2 : 1);
    },
  );
}
