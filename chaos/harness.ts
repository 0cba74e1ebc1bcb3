/**
 * The chaos harness: mend recovering real demo services and replaying a backlog while faults are
 * injected at random, then invariants checked after a quiet period.
 *
 * It runs its OWN Temporal dev server on a file database (restarted on that same file as a fault),
 * a worker child process, supervised demo services (health schedule + supervisors, `immediate`
 * policy), unsupervised demo services recovered by manual `immediateRestart` runs started under
 * unique workflow ids, and a backlog spool replayed to `demo/sink.js` (FAIL_RATE, DEDUPE=off).
 *
 * Faults: worker SIGKILL + restart, dev-server stop + restart on the same database, SIGKILL of a
 * supervised service, sink down for a while (on top of its constant FAIL_RATE).
 *
 * Faults come from two lanes running side by side, so a long batch is dense:
 * - the fast lane, every `gapMs` (1–2 s): a service SIGKILL or a sink outage on a rotating target.
 *   A target is never hit again before its previous fault's recovery was seen: a killed service
 *   answering again from a new process started by its supervisor (no recovery still open); a sink
 *   that was down storing items again (or its spool empty). Each kill's and each outage's recovery
 *   is recorded, and one not seen by the end of the quiet period is a violation.
 * - the slow lane, every `slowGapMs`: worker and agent SIGKILLs, server and PostgreSQL restarts,
 *   each waited out (restarted) before the next. Every slow kind comes once first, and the fast
 *   lane leaves room for those that have not come yet, so a short run covers every kind.
 * One injection is one fault event. The checks below cover all of them together.
 *
 * What is counted, precisely:
 * - runs: every manual run id the harness started, and every execution of `mend/recover/<c>` of a
 *   supervised component (visibility). A run is completed when its one execution closed as
 *   COMPLETED with a result; lost when it did not (still running, failed, terminated, not found);
 *   a manual id with more than one execution counts as duplicated.
 * - duplicated actions: process starts of a component (its state file's `starts`, written by each
 *   demo process as it starts) beyond the distinct pids that the harness's initial start and the
 *   runs' start steps account for ("started pid N" / "already running as pid N"). A start activity
 *   that ran twice spawns a process no run reports, and shows up here.
 * - backlog: every spooled id at the sink exactly once, or in failed/ with a reason; never both.
 * - supervisors: attempted/succeeded/failed/breakerOpened sampled all along the faults (about every
 *   2 s) and each sample compared with the one before: they never decrease.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { withHomeDefaults } from '../core/config';
import { processAdapter, readPidFile, isAlive, startProcess, stopProcess } from '../domain/adapters/process';
import { listFailed, writeItem } from '../domain/backlog/spool';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { backlogWorkflowId, fleetLimiterWorkflowId, recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { STRATEGY_WORKFLOW, type RecoveryInput, type RecoveryResult } from '../core/run';
import type { Component, Config } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { healthy } from '../bench/lib/util';
import { ensureTemporal } from '../scripts/ensure-temporal';
import { freePort } from '../scripts/ports';
import { startProdTemporal, type ProdTemporal } from '../scripts/prod-temporal';
import { startDevServer, type DevServer } from '../scripts/temporal-server';
import { quietLogger } from '../scripts/quiet-logger';
import { TS_HOOK_ARGS } from '../workers/node-args';

const ROOT = path.resolve(__dirname, '..');
const QUEUE = 'chaos';

export type FaultKind = 'worker-kill' | 'server-restart' | 'postgres-restart' | 'agent-kill' | 'service-kill' | 'sink-down';
export const FAULT_KINDS: readonly FaultKind[] = ['worker-kill', 'server-restart', 'postgres-restart', 'agent-kill', 'service-kill', 'sink-down'];

/**
 * Where Temporal runs: `dev`, the dev server on a SQLite file (a server fault stops it and starts it
 * on the same file); `prod`, the real server on PostgreSQL (scripts/prod-temporal.ts: a server fault
 * is a SIGKILL and a start on the same database; PostgreSQL itself is restarted as a fault too).
 */
export type Topology = 'dev' | 'prod';

/** The host the agent serves: with `agent`, the last supervised and the last manual service live there. */
export const AGENT_HOST = 'edge';

export interface ChaosOptions {
  /** Fault injections to make. */
  faults: number;
  /**
   * Epoch ms after which no fault is injected: the batch goes on to its quiet period and checks with
   * the faults made by then (counted as they are), so a soak's last batch ends on time and is recorded.
   */
  injectUntil?: number;
  /** Temporal's topology; `dev` by default. */
  topology?: Topology;
  /** Run an agent for host `edge` (some services on it) and SIGKILL it as a fault. */
  agent?: boolean;
  /** Working folder (database, config, logs, spool); created if missing. */
  dir: string;
  /** Supervised demo services (killed as faults, recovered by their supervisors). */
  supervised?: number;
  /** Unsupervised demo services recovered by manual runs in a loop. */
  manual?: number;
  /** Sinks, each with its own spool and backlog entity (taken down in turn as faults); 1 by default. */
  sinks?: number;
  /** Backlog items are spooled in bursts while the faults go on, at least this many. */
  minItems?: number;
  /** Random pause between the fast lane's faults (service kills, sink outages), ms; [1000, 2000] by default. */
  gapMs?: [number, number];
  /** Random pause between the slow lane's faults (worker/agent kills, server/PostgreSQL restarts), ms; [15000, 30000] by default (each of these stalls recoveries while it lasts). */
  slowGapMs?: [number, number];
  /** FAIL_RATE of the sink. */
  sinkFailRate?: number;
  /** Weights of the fault kinds. */
  weights?: Partial<Record<FaultKind, number>>;
  /** Aborting ends the fault loop and the waits; everything started is cleaned up, and runChaos rejects. */
  signal?: AbortSignal;
  /** An already bundled workflow file (the test runner's); bundled here when omitted. */
  workflowBundle?: string;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  faults: Record<FaultKind, number> & { total: number };
  runs: {
    attempted: number;
    completed: number;
    recovered: number;
    failedOutcome: number;
    lost: number;
    duplicated: number;
    manual: number;
    supervisor: number;
  };
  actions: { processStarts: number; accountedStarts: number; duplicated: number; unexplained: string[] };
  backlog: {
    spooled: number;
    delivered: number;
    deadLettered: number;
    sinkWrites: number;
    duplicated: number;
    lost: number;
    bothDeliveredAndFailed: number;
    withoutReason: number;
    injectedSinkFailures: number;
  };
  /** longestUnansweredMs: the longest stretch without a counter sample (all supervisors answering within 5 s). */
  supervisors: { counterChecks: number; decreased: string[]; longestUnansweredMs: number; attempted: number; succeeded: number; failed: number };
  /**
   * Each fast-lane fault's own outcome: a killed service back from a new process (recovery time from
   * the kill to its answer); a sink outage that refused requests while down (felt) and stored items
   * again after it (recovered).
   */
  outcomes: {
    serviceKills: { total: number; recovered: number; medianRecoveryMs: number; maxRecoveryMs: number };
    sinkOutages: { total: number; felt: number; recovered: number };
  };
  unexpectedWorkerExits: number;
  durationMs: number;
  violations: string[];
  ok: boolean;
}

interface Worker {
  proc: ChildProcess;
  exited: Promise<void>;
  killedOnPurpose: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const between = ([lo, hi]: [number, number]) => lo + Math.floor(Math.random() * (hi - lo + 1));

let aborted: AbortSignal | undefined;

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false, pollMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    aborted?.throwIfAborted();
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(pollMs);
  }
  throw new Error(`chaos: timed out after ${timeoutMs}ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const t0 = Date.now();
  const print = opts.log ?? ((line: string) => console.log(line));
  const log = (line: string) => print(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const home = path.join(dir, '.mend');
  const nSup = opts.supervised ?? 3;
  const nMan = opts.manual ?? 2;
  const minItems = opts.minItems ?? 50;
  const gap = opts.gapMs ?? [1_000, 2_000];
  const slowGap = opts.slowGapMs ?? [15_000, 30_000];
  const nSinks = opts.sinks ?? 1;
  const topology = opts.topology ?? 'dev';
  const weights: Record<FaultKind, number> = {
    'worker-kill': 3,
    'server-restart': 2,
    'postgres-restart': topology === 'prod' ? 2 : 0,
    'agent-kill': opts.agent ? 2 : 0,
    'service-kill': 4,
    'sink-down': 2,
    ...opts.weights,
  };
  if (topology !== 'prod') weights['postgres-restart'] = 0;
  if (!opts.agent) weights['agent-kill'] = 0;
  aborted = opts.signal;
  const violations: string[] = [];
  const faults = Object.fromEntries([...FAULT_KINDS.map((k) => [k, 0]), ['total', 0]]) as ChaosSummary['faults'];

  const binary = await ensureTemporal();
  let bundlePath = opts.workflowBundle;
  if (!bundlePath) {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
    bundlePath = path.join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, code);
  }

  // Sinks first: the spool config needs their URLs. Spool `chaos-<k>` replays to sink k.
  const sinks: Sink[] = [];
  for (let k = 1; k <= nSinks; k++) {
    const port = await freePort();
    const proc = spawn(process.execPath, [path.join(ROOT, 'demo/sink.js')], {
      env: {
        ...process.env,
        PORT: String(port),
        STORE_FILE: path.join(dir, `sink-store-${k}.json`),
        DEDUPE: 'off',
        FAIL_RATE: String(opts.sinkFailRate ?? 0.1),
      },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    sinks.push({ spool: `chaos-${k}`, port, url: `http://127.0.0.1:${port}`, proc, exited: new Promise<void>((r) => proc.once('exit', () => r())) });
  }

  let server: TemporalUnderTest | undefined;

  let worker: Worker | undefined;
  let unexpectedWorkerExits = 0;
  let client: MendClient | undefined;
  let config: Config | undefined;
  let stopping = false;
  let faultsDone = false;
  /** Errors of the load loops (manual runs, producer), rethrown once they are awaited. */
  const loadErrors: Error[] = [];
  const loads: Array<Promise<unknown>> = [];
  const settle = (p: Promise<unknown>) => {
    const settled = p.catch((err: Error) => void loadErrors.push(err));
    loads.push(settled);
    return settled;
  };
  const workerLog = path.join(dir, 'worker.log');

  const startWorker = async (): Promise<Worker> => {
    const proc = spawn(process.execPath, [...TS_HOOK_ARGS, path.join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        MEND_TEMPORAL_ADDRESS: server!.address,
        MEND_TASK_QUEUE: QUEUE,
        MEND_HOME: home,
        MEND_WORKFLOW_BUNDLE: bundlePath,
        MEND_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w: Worker = { proc, exited: new Promise<void>((r) => proc.once('exit', () => r())), killedOnPurpose: false };
    let polling = false;
    const lines: string[] = [];
    for (const stream of [proc.stdout!, proc.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        if (line.includes('worker polling')) polling = true;
        lines.push(line);
        if (lines.length > 200) lines.shift();
      });
    }
    void w.exited.then(() => {
      writeFileSync(workerLog, `--- worker ${proc.pid} exited (${proc.exitCode ?? proc.signalCode})\n${lines.join('\n')}\n`, { flag: 'a' });
      // A worker that dies by itself (not one of our kills) is restarted and counted.
      if (!w.killedOnPurpose && !stopping && worker === w) {
        unexpectedWorkerExits++;
        log(`chaos: worker ${proc.pid} exited by itself (${proc.exitCode ?? proc.signalCode}); restarting`);
        void restartWorker();
      }
    });
    await until(
      'worker to poll',
      60_000,
      () => polling || (proc.exitCode !== null && Promise.reject(new Error(`worker exited: ${lines.slice(-5).join(' | ')}`))),
    ).catch(async (err: Error) => {
      // One that never polled is not left behind: the next attempt starts a fresh one.
      w.killedOnPurpose = true;
      proc.kill('SIGKILL');
      await w.exited;
      throw err;
    });
    return w;
  };
  let restarting: Promise<void> | undefined;
  const restartWorker = (): Promise<void> => {
    restarting ??= (async () => {
      while (!stopping && !opts.signal?.aborted) {
        try {
          worker = await startWorker();
          return;
        } catch (err) {
          log(`chaos: worker start failed (${(err as Error).message}); retrying`);
          await sleep(1_000);
        }
      }
    })().finally(() => (restarting = undefined));
    return restarting;
  };

  // The agent of host `edge`: an activities-only worker on `<queue>/host/edge`, same MEND_HOME.
  let agent: Worker | undefined;
  let unexpectedAgentExits = 0;
  const startAgent = async (): Promise<Worker> => {
    const proc = spawn(process.execPath, [...TS_HOOK_ARGS, path.join(ROOT, 'workers/agent.ts'), '--host', AGENT_HOST], {
      cwd: ROOT,
      env: { ...process.env, MEND_TEMPORAL_ADDRESS: server!.address, MEND_TASK_QUEUE: QUEUE, MEND_HOME: home, MEND_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const a: Worker = { proc, exited: new Promise<void>((r) => proc.once('exit', () => r())), killedOnPurpose: false };
    let polling = false;
    const lines: string[] = [];
    for (const stream of [proc.stdout!, proc.stderr!])
      readline.createInterface({ input: stream }).on('line', (line) => {
        if (line.includes('agent polling')) polling = true;
        lines.push(line);
        if (lines.length > 200) lines.shift();
      });
    void a.exited.then(() => {
      writeFileSync(path.join(dir, 'agent.log'), `--- agent ${proc.pid} exited (${proc.exitCode ?? proc.signalCode})\n${lines.join('\n')}\n`, { flag: 'a' });
      if (!a.killedOnPurpose && !stopping && agent === a) {
        unexpectedAgentExits++;
        log(`chaos: agent ${proc.pid} exited by itself (${proc.exitCode ?? proc.signalCode}); restarting`);
        void restartAgent();
      }
    });
    await until(
      'agent to poll',
      60_000,
      () => polling || (proc.exitCode !== null && Promise.reject(new Error(`agent exited: ${lines.slice(-5).join(' | ')}`))),
    ).catch(async (err: Error) => {
      a.killedOnPurpose = true;
      proc.kill('SIGKILL');
      await a.exited;
      throw err;
    });
    return a;
  };
  let agentRestarting: Promise<void> | undefined;
  const restartAgent = (): Promise<void> => {
    agentRestarting ??= (async () => {
      while (!stopping && !opts.signal?.aborted) {
        try {
          agent = await startAgent();
          return;
        } catch (err) {
          log(`chaos: agent start failed (${(err as Error).message}); retrying`);
          await sleep(1_000);
        }
      }
    })().finally(() => (agentRestarting = undefined));
    return agentRestarting;
  };

  const componentsOf = (prefix: string) => config!.components.filter((c) => c.id.startsWith(prefix));
  const manualIds: string[] = [];
  const initialPid = new Map<string, number>();

  try {
    for (const k of sinks) await until(`sink ${k.url} to answer`, 15_000, () => healthy(`${k.url}/healthz`, 1_000));
    server =
      topology === 'prod'
        ? await prodTemporal(dir, print)
        : await devTemporal(
            binary.path,
            dir,
            sinks.map((k) => k.port),
          );
    log(`chaos: ${server.describe}, sinks ${sinks.map((k) => k.url).join(' ')}`);

    config = loadConfigFile(await writeConfig(dir, nSup, nMan, sinks, opts.agent ?? false), { stateDir: home });
    for (const c of config.components) {
      const started = await startProcess(processAdapter(withHomeDefaults(c, home)));
      initialPid.set(c.id, started.pid);
    }
    for (const c of config.components) await until(`${c.id} healthy`, 30_000, () => healthy(probeUrl(c), 1_000));

    worker = await startWorker();
    if (opts.agent) agent = await startAgent();
    client = await MendClient.connect({ address: server.address, taskQueue: QUEUE });
    const mend = client;
    await reconcileSchedules(mend, config);
    for (const c of componentsOf('sup-'))
      await until(`supervisor of ${c.id} healthy`, 120_000, async () => (await supervisorState(mend, c.id))?.health === 'healthy');
    for (const spool of config.spools) await new BacklogControl(mend).ensure(spool);
    const spoolOf = (k: Sink) => config!.spools.find((s) => s.name === k.spool)!;
    log(`chaos: ${nSup} supervised + ${nMan} manual services up, ${nSinks} sink(s) with their backlog entities running; injecting ${opts.faults} faults`);

    // Retry a client call across server restarts.
    const retrying = async <T>(what: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          return await fn();
        } catch (err) {
          opts.signal?.throwIfAborted();
          if (Date.now() > deadline) throw new Error(`chaos: ${what}: ${(err as Error).message}`);
          await sleep(300);
        }
      }
    };

    // --- Load: manual runs in a loop per manual service, and a producer spooling items.
    const manualLoops = componentsOf('man-').map((c) =>
      settle(
        (async () => {
          let n = 0;
          while (!faultsDone) {
            n++;
            const workflowId = `chaos/manual/${c.id}/${n}`;
            const input: RecoveryInput = { component: c, trigger: 'manual', requestedBy: 'chaos', reason: `chaos run ${n}`, related: [] };
            await retrying(`start ${workflowId}`, async () => {
              try {
                await mend.temporal.workflow.start(STRATEGY_WORKFLOW.immediate, {
                  workflowId,
                  taskQueue: QUEUE,
                  args: [input],
                  staticSummary: `chaos: recover ${c.id} (run ${n})`,
                });
              } catch (err) {
                // A start whose answer was lost to a restart: the unique id makes the retry see it.
                if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
              }
            });
            manualIds.push(workflowId);
            await retrying(
              `${workflowId} to close`,
              async () => {
                const d = await mend.temporal.workflow.getHandle(workflowId).describe();
                if (d.status.name === 'RUNNING') throw new Error('still running');
              },
              300_000,
            ).catch((err: Error) => log(err.message));
            await sleep(between([200, 1_000]));
          }
        })(),
      ),
    );

    const spooled = new Map<string, string[]>(sinks.map((k) => [k.spool, []]));
    const spooledTotal = () => [...spooled.values()].reduce((n, ids) => n + ids.length, 0);
    let itemNo = 0;
    const spoolBurst = async (k: Sink) => {
      for (let burst = between([1, 10]); burst > 0; burst--) {
        const i = itemNo++;
        const id = `${randomUUID().slice(0, 8)}-${i}`;
        await writeItem(spoolOf(k).dir, { id, createdAt: new Date(), payload: { n: i } });
        spooled.get(k.spool)!.push(id);
      }
    };
    // Bursts of items for as long as the faults go on (and at least minItems), as a producer
    // would spool them while its sink fails; each burst to one spool, at random.
    const producer = settle(
      (async () => {
        while (!faultsDone || spooledTotal() < minItems) {
          await spoolBurst(sinks[Math.floor(Math.random() * sinks.length)]!);
          await sleep(between([200, 1_200]));
        }
      })(),
    );

    // --- Faults.
    const snapshot = async (): Promise<Map<string, SupervisorState['stats']> | undefined> => {
      try {
        const out = new Map<string, SupervisorState['stats']>();
        for (const c of componentsOf('sup-')) {
          const s = await mend.connection.withDeadline(Date.now() + 5_000, () => supervisorState(mend, c.id));
          if (s) out.set(c.id, s.stats);
        }
        return out;
      } catch {
        return undefined;
      }
    };
    let counterChecks = 0;
    const decreased: string[] = [];
    const compare = (before: Map<string, SupervisorState['stats']>, after: Map<string, SupervisorState['stats']>, fault: string) => {
      counterChecks++;
      for (const [id, b] of before) {
        const a = after.get(id);
        if (!a) {
          decreased.push(`${id}: no state after ${fault}`);
          continue;
        }
        for (const key of ['attempted', 'succeeded', 'failed', 'breakerOpened'] as const) {
          if (a[key] < b[key]) decreased.push(`${id}.${key} ${b[key]} → ${a[key]} across ${fault}`);
        }
      }
    };

    const kinds = Object.entries(weights).filter(([, w]) => w > 0) as Array<[FaultKind, number]>;
    const fastKinds = kinds.filter(([k]) => FAST_KINDS.has(k));
    const slowKinds = kinds.filter(([k]) => !FAST_KINDS.has(k));
    const weighted = (of: Array<[FaultKind, number]>): FaultKind => {
      let r = Math.random() * of.reduce((s, [, w]) => s + w, 0);
      for (const [k, w] of of) if ((r -= w) < 0) return k;
      return of[0]![0];
    };
    // Every kind once first (in random order), so a short run covers them all; then by weight.
    const shuffled = (of: Array<[FaultKind, number]>) => of.map(([k]) => k).sort(() => Math.random() - 0.5);
    const fastFirsts = shuffled(fastKinds);
    const slowFirsts = shuffled(slowKinds);
    /** Injections claimed so far, by either lane (the budget is opts.faults). */
    let injectionsClaimed = 0;
    const budgetLeft = () => (Date.now() >= (opts.injectUntil ?? Infinity) ? 0 : opts.faults - injectionsClaimed);
    const lanesFailed = () => loadErrors.length > 0;
    const count = (kind: FaultKind, detail: string, every: number) => {
      faults[kind]++;
      faults.total++;
      if (faults.total % every === 0 || opts.faults <= 20) log(`chaos: fault ${faults.total}/${opts.faults} ${kind}${detail ? ` (${detail})` : ''}`);
    };
    /** Sleeps `ms`, or less once the budget is spent or a lane failed. */
    const nap = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end && budgetLeft() > 0 && !lanesFailed()) await sleep(Math.min(250, end - Date.now()));
    };

    // Supervisor counters, sampled all along the faults, each sample against the one before.
    let lanesDone = false;
    let lastSample = await until('supervisor state', 120_000, () => snapshot());
    let lastSampleAt = Date.now();
    let longestUnansweredMs = 0;
    const sampler = settle(
      (async () => {
        while (!lanesDone) {
          await sleep(2_000);
          const sample = await snapshot();
          if (!sample) {
            // The server or the worker is down, or too slow to answer in 5 s under load: the next
            // sample that answers (at the latest the one after the quiet period) compares across it.
            // How long that took is reported, not a violation: no counter goes unchecked.
            longestUnansweredMs = Math.max(longestUnansweredMs, Date.now() - lastSampleAt);
            continue;
          }
          compare(lastSample, sample, `the sample at ${((Date.now() - t0) / 1000).toFixed(0)}s`);
          lastSample = sample;
          lastSampleAt = Date.now();
        }
      })(),
    );

    // --- The fast lane: service kills and sink outages on rotating targets.
    const kills: KillRecord[] = [];
    const openKills = new Map<string, KillRecord>();
    const outages: OutageRecord[] = [];
    const openOutages = new Map<string, OutageRecord>();
    const outagesUnderway: Array<Promise<unknown>> = [];
    const sinkStats = async (k: Sink) =>
      (await (await fetch(`${k.url}/admin/stats`, { signal: AbortSignal.timeout(5_000) })).json()) as {
        items: number;
        refusedWhileDown: number;
        injectedFailures: number;
      };
    /**
     * A kill is recovered once the service answers from a new live process and its supervisor has
     * recorded a recovery run started after the kill and ended (a restart by the pid watch is recorded
     * by the run that adopts it, which comes after the restart itself: a worker killed in between
     * delays the record, not the service).
     */
    const killRecovered = async (k: KillRecord): Promise<boolean> => {
      const c = componentsOf('sup-').find((x) => x.id === k.component)!;
      const record = await readPidFile(processAdapter(withHomeDefaults(c, home)).pidFile!);
      if (!record || record.pid === k.pid || !isAlive(record) || (await servicePid(probeUrl(c))) !== record.pid) return false;
      const s = await mend.connection.withDeadline(Date.now() + 5_000, () => supervisorState(mend, c.id)).catch(() => undefined);
      return !!s && !s.current && s.stats.recent.some((r) => r.endedAt !== undefined && Date.parse(r.startedAt) >= k.at - CLOCK_SLACK_MS);
    };
    /** An outage is recovered once it is over and its sink stored items again (or its spool has none left). */
    const outageRecovered = async (o: OutageRecord): Promise<boolean> => {
      if (o.upAt === undefined) return false;
      const sink = sinks.find((k) => k.spool === o.sink)!;
      return (await sinkStats(sink)).items > o.itemsAtUp! || pendingCount(spoolOf(sink).dir) === 0;
    };
    /** Looks at every open target at once, and frees those whose recovery is seen. */
    const refreshOpen = async () => {
      await Promise.all([
        ...[...openKills].map(async ([id, k]) => {
          if (!(await killRecovered(k).catch(() => false))) return;
          k.recoveredMs = Date.now() - k.at;
          openKills.delete(id);
        }),
        ...[...openOutages].map(async ([name, o]) => {
          if (!(await outageRecovered(o).catch(() => false))) return;
          o.recovered = true;
          openOutages.delete(name);
        }),
      ]);
    };
    // The watcher runs beside the fast lane, so slow answers under load never hold up an injection.
    const watcher = settle(
      (async () => {
        while (!lanesDone) {
          await refreshOpen();
          await sleep(300);
        }
      })(),
    );
    const killService = async (): Promise<string | undefined> => {
      const candidates = componentsOf('sup-')
        .filter((c) => !openKills.has(c.id))
        .sort(() => Math.random() - 0.5);
      for (const c of candidates) {
        const record = await readPidFile(processAdapter(withHomeDefaults(c, home)).pidFile!);
        // Only one that answers with its pid: a process killed before it ran its first line
        // would not have counted its start, and the accounting would miss it.
        if (!record || !isAlive(record) || (await servicePid(probeUrl(c))) !== record.pid) continue;
        process.kill(record.pid, 'SIGKILL');
        const k: KillRecord = { component: c.id, pid: record.pid, at: Date.now() };
        kills.push(k);
        openKills.set(c.id, k);
        return `${c.id} pid ${record.pid}`;
      }
      return undefined;
    };
    const takeSinkDown = async (): Promise<string | undefined> => {
      const free = sinks.filter((k) => !openOutages.has(k.spool));
      const k = free[Math.floor(Math.random() * free.length)];
      if (!k) return undefined;
      const refusedBefore = (await sinkStats(k)).refusedWhileDown;
      await fetch(`${k.url}/admin/down`, { method: 'POST' }).then((r) => r.body?.cancel());
      // Items arrive while it is down, as they would from a producer: its replay meets the outage.
      await spoolBurst(k);
      const o: OutageRecord = { sink: k.spool, felt: false, recovered: false };
      outages.push(o);
      openOutages.set(k.spool, o);
      const ms = between([800, 2_500]);
      outagesUnderway.push(
        settle(
          (async () => {
            await sleep(ms);
            await fetch(`${k.url}/admin/up`, { method: 'POST' }).then((r) => r.body?.cancel());
            const after = await sinkStats(k);
            o.felt = after.refusedWhileDown > refusedBefore;
            o.itemsAtUp = after.items;
            o.upAt = Date.now();
          })(),
        ),
      );
      return `${k.spool} for ${ms}ms`;
    };
    const fastLane = settle(
      (async () => {
        if (fastKinds.length === 0) return;
        while (budgetLeft() > 0 && !lanesFailed()) {
          opts.signal?.throwIfAborted();
          await nap(between(gap));
          // Room is left for the slow kinds that have not come yet.
          if (budgetLeft() <= slowFirsts.length) continue;
          const first = fastFirsts[0];
          const want = first ?? weighted(fastKinds);
          const order = want === 'service-kill' ? (['service-kill', 'sink-down'] as const) : (['sink-down', 'service-kill'] as const);
          for (const kind of order) {
            if (!fastKinds.some(([k]) => k === kind)) continue;
            // Claimed before the injection's await, given back if there was nothing to hit: claimed
            // after it, the slow lane could take the last of the budget meanwhile (13 faults of 12).
            // Checked again here: the other kind's try may have awaited.
            if (budgetLeft() <= slowFirsts.length) break;
            injectionsClaimed++;
            // A free target only: not hit again before its last fault's recovery was seen.
            const detail = kind === 'service-kill' ? await killService() : await takeSinkDown();
            if (detail === undefined) {
              injectionsClaimed--;
              continue;
            }
            if (fastFirsts[0] === kind) fastFirsts.shift();
            count(kind, detail, 25);
            break;
          }
        }
      })(),
    );

    // --- The slow lane: worker and agent kills, server and PostgreSQL restarts, one at a time.
    const slowLane = settle(
      (async () => {
        if (slowKinds.length === 0) return;
        while (!lanesFailed()) {
          opts.signal?.throwIfAborted();
          await nap(between(slowGap));
          if (budgetLeft() <= 0 || lanesFailed()) break;
          const kind = slowFirsts.shift() ?? weighted(slowKinds);
          injectionsClaimed++;
          const detail = await inject(kind);
          count(kind, detail, 1);
        }
      })(),
    );

    async function inject(kind: FaultKind): Promise<string> {
      switch (kind) {
        case 'worker-kill': {
          const w = worker!;
          w.killedOnPurpose = true;
          w.proc.kill('SIGKILL');
          await w.exited;
          await sleep(between([0, 1_000]));
          await restartWorker();
          return `pid ${w.proc.pid}`;
        }
        case 'server-restart': {
          const t = Date.now();
          await server!.restartServer(() => sleep(between([0, 1_500])));
          return `down ${((Date.now() - t) / 1000).toFixed(1)}s`;
        }
        case 'postgres-restart': {
          const t = Date.now();
          const mode = Math.random() < 0.5 ? 'immediate' : 'fast';
          await server!.restartPostgres!(mode);
          return `${mode}, down ${((Date.now() - t) / 1000).toFixed(1)}s`;
        }
        case 'agent-kill': {
          if (agentRestarting) await agentRestarting;
          const a = agent!;
          a.killedOnPurpose = true;
          a.proc.kill('SIGKILL');
          await a.exited;
          await sleep(between([0, 1_000]));
          await restartAgent();
          return `pid ${a.proc.pid}`;
        }
        case 'service-kill':
        case 'sink-down':
          throw new Error(`chaos: ${kind} is the fast lane's`);
      }
    }
    await Promise.all([fastLane, slowLane]);
    await Promise.all(outagesUnderway);
    lanesDone = true;
    await sampler;
    await watcher;
    faultsDone = true;
    log(`chaos: ${faults.total} faults injected; quiet period`);

    // --- Quiet period: everything settles.
    await producer;
    await Promise.all(manualLoops);
    if (loadErrors.length) throw loadErrors[0]!;
    if (restarting) await restarting;
    if (agentRestarting) await agentRestarting;
    await until(
      'supervised services healthy with no recovery running',
      300_000,
      async () => {
        for (const c of componentsOf('sup-')) {
          const s = await supervisorState(mend, c.id);
          if (!s || s.current || s.health !== 'healthy' || !(await healthy(probeUrl(c), 1_000))) return false;
        }
        return true;
      },
      500,
    );
    await until('the spools to drain', 600_000, () => config!.spools.every((s) => pendingCount(s.dir) === 0), 500);
    // Every fast-lane fault's own recovery, looked at until seen (or a minute): a kill's restart by a
    // pid watch whose worker was killed is recorded once the watch's retry has run (its heartbeat
    // timeout later); an outage's spool has drained.
    await until(
      'every kill and outage seen recovered',
      60_000,
      async () => {
        await refreshOpen();
        return openKills.size === 0 && openOutages.size === 0;
      },
      500,
    ).catch(() => undefined);
    const finalSample = await until('supervisor state after the quiet period', 120_000, () => snapshot());
    longestUnansweredMs = Math.max(longestUnansweredMs, Date.now() - lastSampleAt);
    compare(lastSample, finalSample, 'the quiet period');
    for (const k of openKills.values()) violations.push(`service kill of ${k.component} pid ${k.pid}: no recovery seen`);
    for (const o of openOutages.values()) violations.push(`outage of sink ${o.sink}: no recovery seen`);
    const recoveryMs = kills
      .map((k) => k.recoveredMs)
      .filter((ms): ms is number => ms !== undefined)
      .sort((x, y) => x - y);
    const outcomes: ChaosSummary['outcomes'] = {
      serviceKills: {
        total: kills.length,
        recovered: recoveryMs.length,
        medianRecoveryMs: recoveryMs[Math.floor(recoveryMs.length / 2)] ?? 0,
        maxRecoveryMs: recoveryMs.at(-1) ?? 0,
      },
      sinkOutages: { total: outages.length, felt: outages.filter((o) => o.felt).length, recovered: outages.filter((o) => o.recovered).length },
    };
    await until(
      'no recovery run still open',
      120_000,
      async () => {
        const open = await mend.temporal.workflow.count(
          `ExecutionStatus = "Running" AND TaskQueue = "${QUEUE}" AND WorkflowType = "${STRATEGY_WORKFLOW.immediate}"`,
        );
        return open.count === 0;
      },
      500,
    );

    // --- Checks.
    const runs: ChaosSummary['runs'] = {
      attempted: 0,
      completed: 0,
      recovered: 0,
      failedOutcome: 0,
      lost: 0,
      duplicated: 0,
      manual: manualIds.length,
      supervisor: 0,
    };
    const claimed = new Map<string, Array<{ at: string; pid: number }>>(config.components.map((c) => [c.id, []]));
    const account = (component: string, result: RecoveryResult) => {
      for (const step of result.steps) {
        if (step.name !== 'start' || step.component !== component) continue;
        const m = /(?:started pid|already running as pid) (\d+)/.exec(step.detail ?? '');
        if (m) claimed.get(component)!.push({ at: step.startedAt, pid: Number(m[1]) });
      }
    };
    const checkRun = async (workflowId: string, component: string, executions: Array<{ runId: string; status: string }>) => {
      for (const e of executions) {
        runs.attempted++;
        if (e.status !== 'COMPLETED') {
          runs.lost++;
          violations.push(`run ${workflowId} (${e.runId}) ended ${e.status}`);
          continue;
        }
        const result = (await mend.temporal.workflow.getHandle(workflowId, e.runId).result()) as RecoveryResult;
        runs.completed++;
        if (result.outcome === 'recovered') runs.recovered++;
        else runs.failedOutcome++;
        account(component, result);
      }
    };
    const listExecutions = async (workflowId: string) => {
      const out: Array<{ runId: string; status: string }> = [];
      for await (const w of mend.temporal.workflow.list({ query: `WorkflowId = ${JSON.stringify(workflowId)}` }))
        out.push({ runId: w.runId, status: w.status.name });
      return out;
    };
    /**
     * The executions of an id as visibility lists them, once visibility has caught up: at least
     * `atLeast` of them and none still shown running. The SQL visibility store of the real server is
     * written asynchronously after the execution itself (the dev server's lags less), so a run that
     * closed a moment ago can still be listed as running, or a just-started one not at all. Waits up
     * to a minute; then the listing is taken as it is (and a run still open counts as lost).
     */
    const executionsOf = async (workflowId: string, atLeast = 1) =>
      until(
        `visibility of ${workflowId}`,
        60_000,
        async () => {
          const out = await listExecutions(workflowId);
          return out.length >= atLeast && out.every((e) => e.status !== 'RUNNING') && out;
        },
        500,
      ).catch(() => listExecutions(workflowId));
    for (const id of manualIds) {
      const component = id.split('/')[2]!;
      const executions = await executionsOf(id);
      if (executions.length === 0) {
        runs.attempted++;
        runs.lost++;
        violations.push(`manual run ${id} not found`);
        continue;
      }
      if (executions.length > 1) {
        runs.duplicated += executions.length - 1;
        violations.push(`manual run ${id} has ${executions.length} executions`);
      }
      await checkRun(id, component, executions);
    }
    const supTotals = { attempted: 0, succeeded: 0, failed: 0 };
    for (const c of componentsOf('sup-')) {
      const counted = (await supervisorState(mend, c.id))?.stats.attempted ?? 0;
      const executions = await executionsOf(recoveryWorkflowId(c.id), counted);
      runs.supervisor += executions.length;
      await checkRun(recoveryWorkflowId(c.id), c.id, executions);
      const s = (await supervisorState(mend, c.id))!;
      supTotals.attempted += s.stats.attempted;
      supTotals.succeeded += s.stats.succeeded;
      supTotals.failed += s.stats.failed;
      if (s.stats.attempted !== executions.length)
        violations.push(`supervisor of ${c.id} counted ${s.stats.attempted} recoveries, ${executions.length} runs exist`);
      // A recovery that ended recovered counts as succeeded or relapsed once its relapse window is over.
      const settled = s.stats.succeeded + s.stats.failed + (s.stats.relapsed ?? 0) + (s.stats.interrupted ?? 0) + (s.confirming ? 1 : 0);
      if (settled !== s.stats.attempted)
        violations.push(
          `supervisor of ${c.id}: ${s.stats.succeeded} succeeded + ${s.stats.failed} failed + ${s.stats.relapsed ?? 0} relapsed + ${s.stats.interrupted ?? 0} interrupted by a host outage + ${s.confirming ? 1 : 0} awaiting confirmation != ${s.stats.attempted} attempted`,
        );
    }
    if (runs.lost > 0) violations.push(`${runs.lost} run(s) lost`);

    const actions = accountStarts(
      config.components.map((c) => ({ component: c.id, starts: stateStarts(dir, c.id), processes: countProcesses(initialPid.get(c.id)!, claimed.get(c.id)!) })),
    );
    if (actions.duplicated > 0) violations.push(`${actions.duplicated} duplicated action(s): ${actions.unexplained.join('; ')}`);
    else if (actions.unexplained.length > 0) violations.push(`start accounting inconsistent: ${actions.unexplained.join('; ')}`);

    // Each sink against its own spool: an item at another spool's sink is a stranger there and lost here.
    let backlog: ChaosSummary['backlog'] | undefined;
    const strangers: string[] = [];
    for (const k of sinks) {
      const sinkItems = ((await (await fetch(`${k.url}/items`)).json()) as { items: Array<{ id: string }> }).items.map((i) => i.id);
      const failed = await listFailed(spoolOf(k).dir);
      const one = accountBacklog(spooled.get(k.spool)!, sinkItems, failed, (await sinkStats(k)).injectedFailures);
      strangers.push(...one.strangers);
      backlog = backlog ? sumBacklog(backlog, one.backlog) : one.backlog;
    }
    if (!backlog) throw new Error('chaos: no sinks');
    if (backlog.duplicated) violations.push(`${backlog.duplicated} backlog item(s) written to the sink twice`);
    if (backlog.lost) violations.push(`${backlog.lost} backlog item(s) lost`);
    if (backlog.bothDeliveredAndFailed) violations.push(`${backlog.bothDeliveredAndFailed} item(s) both delivered and dead-lettered`);
    if (backlog.withoutReason) violations.push(`${backlog.withoutReason} dead letter(s) without a reason`);
    if (strangers.length) violations.push(`${strangers.length} item(s) at the sink that were never spooled`);

    if (decreased.length) violations.push(...decreased.map((d) => `supervisor counter: ${d}`));
    if (unexpectedWorkerExits) violations.push(`${unexpectedWorkerExits} unexpected worker exit(s) (see ${workerLog})`);
    if (unexpectedAgentExits) violations.push(`${unexpectedAgentExits} unexpected agent exit(s) (see ${path.join(dir, 'agent.log')})`);

    return {
      faults,
      runs,
      actions,
      backlog,
      supervisors: { counterChecks, decreased, longestUnansweredMs, ...supTotals },
      outcomes,
      unexpectedWorkerExits,
      durationMs: Date.now() - t0,
      violations,
      ok: violations.length === 0,
    };
  } finally {
    stopping = true;
    faultsDone = true;
    // The load loops use the client: let them end before it closes.
    await Promise.all(loads);
    if (client && config) {
      const mend = client;
      await deleteHealthSchedules(mend, QUEUE).catch(() => undefined);
      for (const c of config.components)
        await mend.temporal.workflow
          .getHandle(supervisorWorkflowId(c.id))
          .terminate('chaos over')
          .catch(() => undefined);
      for (const s of config.spools)
        await mend.temporal.workflow
          .getHandle(backlogWorkflowId(s.name))
          .terminate('chaos over')
          .catch(() => undefined);
      await mend.temporal.workflow
        .getHandle(fleetLimiterWorkflowId(QUEUE))
        .terminate('chaos over')
        .catch(() => undefined);
      await mend.close().catch(() => undefined);
    }
    if (restarting) await restarting.catch(() => undefined);
    if (agentRestarting) await agentRestarting.catch(() => undefined);
    for (const w of [worker, agent]) {
      if (!w) continue;
      w.killedOnPurpose = true;
      w.proc.kill('SIGTERM');
      const timer = setTimeout(() => w.proc.kill('SIGKILL'), 15_000);
      await w.exited;
      clearTimeout(timer);
    }
    for (const c of config?.components ?? []) await stopProcess(processAdapter(withHomeDefaults(c, home))).catch(() => undefined);
    for (const k of sinks) k.proc.kill('SIGTERM');
    await Promise.all(sinks.map((k) => k.exited));
    await server?.stop();
  }
}

/** The fast lane's faults: each hits one rotating target and its recovery is seen before the next on it. */
const FAST_KINDS: ReadonlySet<FaultKind> = new Set(['service-kill', 'sink-down']);

/** A demo sink and the spool that replays to it. */
interface Sink {
  spool: string;
  port: number;
  url: string;
  proc: ChildProcess;
  exited: Promise<void>;
}

/** One service SIGKILL: which process, when, and how long until its recovery was seen. */
/** How far a run's recorded start (workflow time, from the server) may read before the harness's own clock did. */
const CLOCK_SLACK_MS = 50;

interface KillRecord {
  component: string;
  pid: number;
  at: number;
  recoveredMs?: number;
}

/** One sink outage: whether the spool's replay hit it (felt) and whether the sink stored items again after it. */
interface OutageRecord {
  sink: string;
  felt: boolean;
  recovered: boolean;
  upAt?: number;
  itemsAtUp?: number;
}

/** The backlog accounts of two spools, added. */
export function sumBacklog(a: ChaosSummary['backlog'], b: ChaosSummary['backlog']): ChaosSummary['backlog'] {
  const out = { ...a };
  for (const key of Object.keys(out) as Array<keyof ChaosSummary['backlog']>) out[key] += b[key];
  return out;
}

/**
 * The processes the runs account for: a component runs one process at a time and its runs never
 * overlap, so in step order each change of the reported pid is one more process. (Not distinct
 * pids: over a long run the kernel reuses pids, pid_max is 32768 here.)
 */
export function countProcesses(initialPid: number, claims: Array<{ at: string; pid: number }>): number {
  let count = 1;
  let last = initialPid;
  for (const claim of [...claims].sort((a, b) => a.at.localeCompare(b.at))) {
    if (claim.pid === last) continue;
    count++;
    last = claim.pid;
  }
  return count;
}

/**
 * Duplicated actions: a component's process starts (its state file) beyond the processes the
 * initial start and the runs' start steps account for. Fewer starts than that is inconsistent too.
 */
export function accountStarts(rows: Array<{ component: string; starts: number; processes: number }>): ChaosSummary['actions'] {
  const actions: ChaosSummary['actions'] = { processStarts: 0, accountedStarts: 0, duplicated: 0, unexplained: [] };
  for (const { component, starts, processes } of rows) {
    actions.processStarts += starts;
    actions.accountedStarts += Math.min(starts, processes);
    if (starts > processes) {
      actions.duplicated += starts - processes;
      actions.unexplained.push(`${component}: ${starts} starts, ${processes} accounted for`);
    } else if (starts < processes) {
      actions.unexplained.push(`${component}: runs report ${processes} processes but only ${starts} starts`);
    }
  }
  return actions;
}

/** Backlog: each spooled id at the sink once, or dead-lettered with a reason, never both, never neither. */
export function accountBacklog(
  spooled: string[],
  sinkWrites: string[],
  failed: Array<{ file: string; reason?: { reason?: string } }>,
  injectedSinkFailures: number,
): { backlog: ChaosSummary['backlog']; strangers: string[] } {
  const failedIds = new Set(failed.map((f) => f.file.replace(/^\d{15}-|\.json$/g, '')));
  const delivered = new Set(sinkWrites);
  const wanted = new Set(spooled);
  return {
    backlog: {
      spooled: spooled.length,
      delivered: delivered.size,
      deadLettered: failedIds.size,
      sinkWrites: sinkWrites.length,
      duplicated: sinkWrites.length - delivered.size,
      lost: spooled.filter((id) => !delivered.has(id) && !failedIds.has(id)).length,
      bothDeliveredAndFailed: [...failedIds].filter((id) => delivered.has(id)).length,
      withoutReason: failed.filter((f) => !f.reason?.reason).length,
      injectedSinkFailures,
    },
    strangers: [...delivered].filter((id) => !wanted.has(id)),
  };
}

async function servicePid(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}

function probeUrl(c: Component): string {
  return c.probe.type === 'http' ? c.probe.url : '';
}

function stateStarts(dir: string, id: string): number {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'state', `${id}.json`), 'utf8')) as { starts: number }).starts;
  } catch {
    return 0;
  }
}

function pendingCount(spoolDir: string): number {
  try {
    return readdirSync(path.join(spoolDir, 'pending')).filter((f) => f.endsWith('.json') && !f.startsWith('.')).length;
  } catch {
    return 0;
  }
}

/** The chaos config: `sup-<n>` supervised (1-s sweep, pid watch), `man-<n>` recovered on request only, one spool. */
async function writeConfig(dir: string, nSup: number, nMan: number, sinks: Sink[], agent: boolean): Promise<string> {
  const supervision = {
    group: 'chaos',
    interval: '1s',
    failuresBeforeRecovery: 3,
    confirmInterval: '250ms',
    startupGrace: '0s',
    restartBackoff: { initial: '100ms', max: '1s' },
    backoffResetAfter: '5s',
    breaker: { maxRecoveries: 1000, window: '1m' },
  };
  const lines = ['version: 1', 'components:'];
  const ids = [...Array.from({ length: nSup }, (_, i) => `sup-${i + 1}`), ...Array.from({ length: nMan }, (_, i) => `man-${i + 1}`)];
  // With an agent, the last of each kind is on its host: the agent's kill hits supervised and manual runs.
  const onAgent = new Set(agent ? [`sup-${nSup}`, `man-${nMan}`] : []);
  for (const id of ids) {
    const port = await freePort();
    lines.push(
      `  - id: ${id}`,
      ...(onAgent.has(id) ? [`    host: ${AGENT_HOST}`] : []),
      `    adapter: { type: process, command: ${JSON.stringify([process.execPath, path.join(ROOT, 'demo/service.js')])}, env: ${JSON.stringify({ MEND_DEMO_NAME: id, PORT: String(port), STATE_FILE: path.join(dir, 'state', `${id}.json`) })}, stopTimeout: 2s }`,
      `    probe: { type: http, url: "http://127.0.0.1:${port}/healthz", timeout: 1s }`,
      `    policy: { strategy: immediate, timeout: 30s, validateInterval: 100ms }`,
      `    supervision: ${JSON.stringify(id.startsWith('sup-') ? supervision : { enabled: false })}`,
    );
  }
  lines.push('spools:');
  for (const k of sinks) {
    const spool = {
      name: k.spool,
      dir: `spool/${k.spool}`,
      sink: { url: k.url, timeout: '1s' },
      batchSize: 10,
      maxBatchesPerCycle: 1000,
      intervals: { busy: '200ms', some: '300ms', idle: '500ms' },
      maxBackoff: '1s',
    };
    lines.push(`  - ${JSON.stringify(spool)}`);
  }
  if (agent) lines.push('hosts:', `  - { id: ${AGENT_HOST} }`);
  const file = path.join(dir, 'mend.config.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The Temporal the harness runs, and the faults it can inject into it. */
interface TemporalUnderTest {
  address: string;
  describe: string;
  /** Takes the server down (dev: stop; prod: SIGKILL), waits `pause`, starts it on the same database. */
  restartServer(pause: () => Promise<void>): Promise<void>;
  restartPostgres?(mode: 'immediate' | 'fast'): Promise<void>;
  stop(): Promise<void>;
}

async function devTemporal(binary: string, dir: string, sinkPorts: number[]): Promise<TemporalUnderTest> {
  const dbFile = path.join(dir, 'temporal.db');
  const port = await freePort();
  const start = () => startDevServer({ binary, port, uiPort: false, dbFile, fastSqlite: true, logFile: path.join(dir, 'temporal.log'), avoidPorts: sinkPorts });
  let server: DevServer = await start();
  return {
    address: server.address,
    describe: `dev server ${server.address} on ${dbFile}`,
    async restartServer(pause) {
      await server.stop();
      await pause();
      server = await retry('dev server restart', 180_000, start);
    },
    stop: () => server.stop(),
  };
}

async function prodTemporal(dir: string, log: (line: string) => void): Promise<TemporalUnderTest> {
  // Kept on disk (dir/prod) while the harness runs; fsync off, commits synchronous (see crashSafe).
  // As root PostgreSQL runs as the postgres user, which must be able to walk into dir (mkdtemp makes it 0700).
  chmodSync(dir, 0o755);
  const stack: ProdTemporal = await startProdTemporal({
    dataDir: path.join(dir, 'prod'),
    fast: true,
    crashSafe: true,
    log: (l) => log(`[prod-temporal] ${l}`),
  });
  return {
    address: stack.address,
    describe: `Temporal server ${stack.serverVersion} ${stack.address} on PostgreSQL 127.0.0.1:${stack.postgresPort} (${stack.dataDir})`,
    async restartServer(pause) {
      await stack.killServer();
      await pause();
      await retry('Temporal server start', 300_000, () => stack.startServer());
    },
    restartPostgres: (mode) => retry('PostgreSQL restart', 180_000, () => stack.restartPostgres(mode)),
    stop: () => stack.stop(),
  };
}

async function retry<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`chaos: ${what}: ${(err as Error).message}`);
      await sleep(1_000);
    }
  }
}
