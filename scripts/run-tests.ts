/**
 * `npm test`'s runner: finds or builds the Temporal CLI, starts ONE dev server on free ports and
 * bundles the workflows ONCE, then runs test/*.test.ts with node's test runner, sharing both.
 * Each test uses its own task queue, ids, ports and folders, so files run several at a time
 * (the concurrent lane); files marked `// test-lane: heavy` (whole stacks of their own) run two at a
 * time in a lane of their own, beside it (see scripts/test-lanes.ts). Both lanes start their
 * slowest files first. The server is stopped at the end, whatever happened.
 *
 *   node --import tsx scripts/run-tests.ts [--checks] [--concurrency N] [name-substring ...]
 *
 * --prod runs the tests against the production topology instead of the dev server: the real Temporal
 * server on PostgreSQL that scripts/prod-temporal.ts starts (`npm run test:prod`, with the files of
 * PROD_LANE below when no names are given).
 *
 * --checks also runs the typecheck and lint, as child processes alongside the tests (`npm test`
 * passes it); their failure fails the run. The last lines printed are the spec reporter's
 * counters (`ℹ tests N`, `ℹ pass N`, `ℹ fail N`, ...) for all lanes together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { bundleCacheDirOf, cachedWorkflowBundle } from '../workers/bundle-cache';
import { checksCacheDir, eslintCacheFile } from './check-cache';
import { ensureTemporal } from './ensure-temporal';
import { startProdTemporal } from './prod-temporal';
import { startDevServer } from './temporal-server';
import { TS_HOOK_ARGS } from '../workers/node-args';
import {
  addSummaries,
  discoverTestFiles,
  durationsFile,
  fileDurations,
  formatSummary,
  groupScript,
  loadDurations,
  packFiles,
  readSummaryLine,
  saveDurations,
  slowestFirst,
  type Summary,
  type TestFile,
} from './test-lanes';

const ROOT = path.resolve(__dirname, '..');

/**
 * Processes (each running its files one after another) at a time in the concurrent lane. Most of a
 * test's time is spent waiting (on the server, on a process coming up, on a timer), so more files
 * than cores keeps the machine busy; 9 at a time was no faster than 6, only busier (424 s and 688 CPU-s, against 366-426 s at 6).
 */
const DEFAULT_CONCURRENCY = 6;

/**
 * The concurrent lane's files share concurrency × this many processes: fewer means less start-up CPU,
 * more means an error in the measured durations leaves less of the lane running alone at its end.
 */
const PROCESSES_PER_SLOT = 2;

/**
 * Files at a time in the heavy lane. Its three files (chaos ~2.5 min, the two dev-stack files ~1
 * min each) one at a time made it the run's critical path; two at a time it ends before the concurrent lane.
 */
const HEAVY_CONCURRENCY = 2;

/**
 * The end-to-end files `npm run test:prod` runs against the real server: every strategy, supervision,
 * the backlog, the API and the CLI over it, the agents (host-bound work) and the visibility queries
 * behind `mend runs` (and the server's allowance for them). Left out: files that start dev servers of their own, pure unit files, and the
 * browser and chaos files (they run in `npm test` / `npm run chaos`).
 */
export const PROD_LANE = [
  'immediate-recovery',
  'progressive-recovery',
  'dependency-aware-recovery',
  'state-recovery',
  'saga',
  'escalation',
  'supervisor',
  'supervisor-breaker',
  'supervisor-controls',
  'supervisor-fleet-cap',
  'backlog-replay',
  'api',
  'api-runs',
  'api-sagas',
  'api-hosts',
  'cli',
  'host-loss',
  'host-drain',
  'health-schedules',
  'visibility-rate',
];

/**
 * How each test file's node is started (see runLane): as mend's own processes (TS_HOOK_ARGS, esbuild
 * with a compile cache on disk, lighter than tsx for the ~1,000 modules each file loads), with the
 * hook's path made absolute: node --test passes it on to every file's process, whatever its folder.
 */
const TEST_NODE_ARGS = TS_HOOK_ARGS.map((arg) => (arg.startsWith('./') ? path.join(ROOT, arg) : arg));

interface Options {
  prod: boolean;
  checks: boolean;
  concurrency: number;
  filter: string[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { prod: false, checks: false, concurrency: Number(process.env.MEND_TEST_CONCURRENCY) || DEFAULT_CONCURRENCY, filter: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--checks') opts.checks = true;
    else if (arg === '--prod') opts.prod = true;
    else if (arg === '--concurrency') opts.concurrency = Number(argv[++i]);
    else if (arg.startsWith('--concurrency=')) opts.concurrency = Number(arg.slice('--concurrency='.length));
    else opts.filter.push(arg);
  }
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('--concurrency: expected a whole number of at least 1');
  return opts;
}

interface CheckResult {
  name: string;
  ok: boolean;
}

/** Runs a check (typecheck, lint) as a child process; prints its output in one block when it ends. */
function runCheck(name: string, bin: string, args: string[]): Promise<CheckResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin', bin), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const done = (ok: boolean, detail: string) => {
      console.log(`${name}: ${ok ? 'ok' : `FAILED (${detail})`} in ${((Date.now() - t0) / 1000).toFixed(1)}s${output.trim() ? `\n${output.trimEnd()}` : ''}`);
      resolve({ name, ok });
    };
    child.once('error', (err) => done(false, err.message));
    child.once('exit', (code, signal) => done(code === 0, `exit ${code ?? signal}`));
  });
}

function startChecks(): Promise<CheckResult>[] {
  const cache = checksCacheDir(ROOT);
  const eslintCache = eslintCacheFile(ROOT);
  return [
    runCheck('typecheck', 'tsc', ['--noEmit', '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', path.join(cache, 'tsc.tsbuildinfo')]),
    runCheck('lint', 'eslint', [...(eslintCache ? ['--cache', '--cache-strategy', 'content', '--cache-location', eslintCache] : []), '.']),
    runCheck('format', 'prettier', [
      '--check',
      '--log-level',
      'warn',
      '--cache',
      '--cache-strategy',
      'content',
      '--cache-location',
      path.join(cache, 'prettier'),
      '.',
    ]),
  ];
}

interface Lane {
  name: string;
  files: TestFile[];
  concurrency: number;
  /** Files share this many processes (packFiles); unset: a process per file. */
  processes?: number;
}

/** The `node --test` children still running, each the leader of its own process group. */
const lanesRunning = new Set<ChildProcess>();

/**
 * Stops every running lane with its test files: SIGTERM to each lane's process group, SIGKILL to
 * what is left after a grace period. Before the server goes: a test cut off from its server would
 * only hang until its timeout.
 */
async function stopLanes(graceMs = 10_000): Promise<void> {
  const signalGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* the group is gone already */
    }
  };
  await Promise.all(
    [...lanesRunning].map(async (child) => {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup(child, 'SIGKILL'); // its files' own children, if any outlived it
    }),
  );
}

interface LaneResult {
  code: number;
  summary: Partial<Summary>;
  durations: Record<string, number>;
}

/**
 * What the lane's `node --test` runs: its files, or, where they share processes, one script per
 * group in `work` that loads the group's files (a group of one is its file).
 */
function laneEntries(lane: Lane, work: string, durations: Record<string, number>): string[] {
  if (!lane.processes) return lane.files.map((f) => f.path);
  return packFiles(lane.files, durations, lane.processes).map((group, i) => {
    if (group.length === 1) return group[0]!.path;
    const script = path.join(work, `${lane.name}-${String(i + 1).padStart(2, '0')}.test.cjs`);
    writeFileSync(script, groupScript(group.map((f) => path.join(ROOT, f.path))));
    return script;
  });
}

/**
 * One `node --test` over the lane's files; its counters are kept. Its spec output passes through
 * as it comes (`live`), or in one block at the end, so that two lanes' lines do not interleave.
 */
function runLane(lane: Lane, env: NodeJS.ProcessEnv, work: string, live: boolean, durations: Record<string, number>): Promise<LaneResult> {
  const entries = laneEntries(lane, work, durations);
  const files = `${lane.files.length} file${lane.files.length === 1 ? '' : 's'}`;
  const processes = entries.length === lane.files.length ? '' : ` in ${entries.length} processes`;
  const heading = `test harness: ${lane.name} lane, ${files}${processes}, ${lane.concurrency} at a time`;
  console.log(live ? heading : `${heading} (its output follows when it ends)`);
  const held: string[] = [];
  const timings = path.join(work, `timings-${lane.name}.jsonl`);
  // A CommonJS hook only (mend is CommonJS, nothing imports TypeScript with import()): node --test
  // passes it on to every test file's process, which `--import tsx` would give an ESM loader thread
  // of its own as well, some 0.2 CPU-s per file for nothing.
  const args = [...TEST_NODE_ARGS, '--test', `--test-concurrency=${lane.concurrency}`];
  args.push(
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(__dirname, 'test-timing-reporter.mjs')}`,
    `--test-reporter-destination=${timings}`,
  );
  args.push(...entries);
  // Its own process group, so that a signal to the harness stops it and every test file it runs (see stopLanes).
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  lanesRunning.add(child);
  child.once('exit', () => lanesRunning.delete(child));
  const summary: Partial<Summary> = {};
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    readSummaryLine(line, summary);
    if (live) console.log(line);
    else held.push(line);
  });
  return new Promise((resolve) => {
    // 'close', not 'exit': every line of its output has been read by then.
    child.once('close', (code, signal) => {
      if (!live) console.log(`${heading}:\n${held.join('\n')}`);
      let durations: Record<string, number> = {};
      try {
        durations = fileDurations(ROOT, readFileSync(timings, 'utf8'));
      } catch {
        /* no timings: the lane died early, its exit code says so */
      }
      resolve({ code: code ?? (signal ? 1 : 0), summary, durations });
    });
  });
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  // PROD_LANE names whole files (a substring such as 'api.test' would also pick api-openapi.test.ts).
  const files =
    opts.filter.length === 0 && opts.prod
      ? discoverTestFiles(ROOT, []).filter((f) => PROD_LANE.includes(path.basename(f.path, '.test.ts')))
      : discoverTestFiles(ROOT, opts.filter);
  if (files.length === 0) {
    console.error(`no test files match ${opts.filter.join(' ')}`);
    return 2;
  }

  const t0 = Date.now();
  // The checks need neither the server nor the bundle: they run meanwhile, and beside the tests.
  // Warm, they reuse their caches (scripts/check-cache.ts): tsc's build info, prettier's per-file
  // cache, and eslint's for an unchanged source tree only.
  const checks = opts.checks ? startChecks() : [];
  const binary = await ensureTemporal();
  const work = mkdtempSync(path.join(os.tmpdir(), 'mend-test-'));
  let keepWork = false;
  // The bundle is made while the server starts; neither needs the other. The worker's own bundle cache
  // (this checkout's, under ~/.cache/mend): rebuilt only when a file it was made from changed, so a
  // warm run skips webpack. Copied into the run's folder: a run beside this one that rebuilds it
  // (sources changed meanwhile) removes the old file.
  const bundlePath = path.join(work, 'workflow-bundle.js');
  const bundled = cachedWorkflowBundle([], bundleCacheDirOf(checksCacheDir(ROOT)), { inProcess: true }).then(({ codePath }) =>
    copyFileSync(codePath, bundlePath),
  );
  bundled.catch(() => undefined); // awaited below, once the server is up (and stopped whatever happens)
  const server = opts.prod
    ? await startProdTemporal({ fast: true }) // its own temporary folder, which the postgres user can reach
    : // In memory, not a file (even WAL with synchronous=OFF): nothing reads the database after the run,
      // and the server spent some 13% more CPU on the file (a 1 s health schedule, 30 s: 1.74-1.87 CPU-s
      // on the file, 1.50-1.63 in memory), about a fifth of the suite's CPU being the server's.
      await startDevServer({ binary: binary.path, uiPort: false, logFile: path.join(work, 'temporal.log') });
  const stopServer = () => server.stop();
  // The lanes run in process groups of their own (a terminal's Ctrl-C does not reach them): stop them, then the server.
  const onSignal = (code: number) => () =>
    void stopLanes()
      .then(stopServer)
      .finally(() => process.exit(code));
  process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
  try {
    await bundled;
    const what = 'serverVersion' in server ? `the Temporal server ${server.serverVersion} on PostgreSQL` : `Temporal ${binary.version} (${binary.source})`;
    console.log(`test harness: ${what} at ${server.address}, workflows bundled, ready in ${Date.now() - t0}ms`);

    // A file per port a test process hands out (scripts/ports.ts): no two pick the same one.
    const testPorts = path.join(work, 'ports');
    mkdirSync(testPorts);
    const env = {
      ...process.env,
      MEND_TEST_TEMPORAL_ADDRESS: server.address,
      MEND_WORKFLOW_BUNDLE: bundlePath,
      TEMPORAL_CLI_PATH: binary.path,
      MEND_TEST_WORK: work,
      MEND_TEST_PORTS: testPorts,
    };
    const known = loadDurations(durationsFile());
    const lanes: Lane[] = [
      {
        name: 'concurrent',
        files: slowestFirst(
          files.filter((f) => !f.heavy),
          known,
        ),
        concurrency: opts.concurrency,
        processes: opts.concurrency * PROCESSES_PER_SLOT,
      },
      {
        name: 'heavy',
        files: slowestFirst(
          files.filter((f) => f.heavy),
          known,
        ),
        concurrency: HEAVY_CONCURRENCY,
      },
    ].filter((lane) => lane.files.length > 0);
    const lanesStart = Date.now();
    const results = await Promise.all(lanes.map((lane, i) => runLane(lane, env, work, i === 0, known)));
    const checked = await Promise.all(checks);

    const measured = Object.assign({}, ...results.map((r) => r.durations)) as Record<string, number>;
    if (!opts.prod) saveDurations(durationsFile(), measured); // the dev server's timings order `npm test`
    const slowest = Object.entries(measured)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 10);
    console.log(`\ntest harness: slowest files\n${slowest.map(([file, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)}s  ${file}`).join('\n')}`);
    for (const [i, r] of results.entries()) if (r.code !== 0) console.log(`test harness: ${lanes[i]!.name} lane failed (exit ${r.code})`);
    for (const c of checked) if (!c.ok) console.log(`test harness: ${c.name} failed (its output is above)`);
    // The tests' own folders (test/helpers.ts tempDir) are in `work`: kept when a test failed, to look into.
    keepWork = results.some((r) => r.code !== 0);
    if (keepWork) console.log(`test harness: the run's folder (every test's files, the server's log) is kept: ${work}`);
    console.log(`test harness: ${((Date.now() - t0) / 1000).toFixed(1)}s in all`);
    // Last: the counters of all lanes together, in the spec reporter's own format.
    for (const line of formatSummary(
      addSummaries(
        results.map((r) => r.summary),
        Date.now() - lanesStart,
      ),
    ))
      console.log(line);
    return results.some((r) => r.code !== 0) || checked.some((c) => !c.ok) ? 1 : 0;
  } finally {
    await stopServer();
    // A process a test left behind may still be writing in it: a few tries, and a failure is only said.
    if (!keepWork)
      try {
        rmSync(work, { recursive: true, force: true, maxRetries: 3 });
      } catch (err) {
        console.error(`test harness: could not remove ${work}: ${(err as Error).message}`);
      }
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`test harness: ${err.message}`);
    process.exit(1);
  },
);
