/**
 * Crash, hang and crash-loop trials against one peer, measured from this process's clock:
 * the fault is injected here and "recovered" is the first healthy answer seen here.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { summarize, type Summary } from '../lib/stats';
import { firstHealthy, log, now, servicePid, sleep, steadyHealthy } from '../lib/util';
import type { TimelinePoint } from '../lib/timeline';
import { healthUrl, type BenchService, type Peer } from '../peers/types';

export interface FaultResult {
  /** Seconds from fault to the first healthy answer, per trial that recovered. */
  seconds: number[];
  summary: Summary;
  /** Trials in which nothing recovered within the deadline. */
  notRecovered: number;
  trials: number;
  /** When these trials ran (ISO). */
  measuredAt?: string;
  /** Where the peer's time went, per recovered trial, in seconds (peers that record their runs: mend). */
  stages?: Record<StageName, number[]>;
}

/**
 * A recovery's stages, from the fault to the first healthy answer: `detect` (fault → recovery begun:
 * its run started, or the pid watch's restart in place; the failure seen, confirmed and decided on), `prepare` (begun → the start action
 * running: the run's first steps, the stop), `start` (the start action: spawn, pid file; on the short
 * path, the start step of the run's one activity), `boot`
 * (start action done → first healthy answer: the service's own start-up).
 */
export const STAGES = ['detect', 'prepare', 'start', 'boot'] as const;
export type StageName = (typeof STAGES)[number];

/** Splits one trial by the peer's own record of its last recovery run; undefined when the record does not cover the trial. */
export function recoveryStages(points: TimelinePoint[], faultAt: number, healthyAt: number): Record<StageName, number> | undefined {
  const at = (what: string) => points.find((p) => p.what === what)?.at;
  // One activity per step, or the short path's one activity, whose start step the run's result times.
  const [runStarted, startBegan, startDone] = [
    at('run started'),
    at('startComponent started') ?? at('step start started'),
    at('startComponent closed') ?? at('step start ended'),
  ];
  if (runStarted === undefined || startBegan === undefined || startDone === undefined) return undefined;
  // A restart the pid watch did in place is recorded by a run started after it (it adopts the
  // watch's steps, with their times): the recovery began at the watch's stop step, not at the run.
  const begun = runStarted > startBegan ? (at('step stop started') ?? startBegan) : runStarted;
  if (begun < faultAt || startDone > healthyAt) return undefined;
  return {
    detect: (begun - faultAt) / 1000,
    prepare: (startBegan - begun) / 1000,
    start: (startDone - startBegan) / 1000,
    boot: (healthyAt - startDone) / 1000,
  };
}

function starts(stateFile: string): number {
  try {
    return (JSON.parse(readFileSync(stateFile, 'utf8')) as { starts: number }).starts;
  } catch {
    return 0;
  }
}

/**
 * SIGKILL (crash) or SIGSTOP (hang) the service `trials` times; a hang not recovered in `deadlineMs` is SIGCONTed.
 * Each fault lands at a random point of the peer's check cycle (a random wait of up to `cycleMs`
 * after the service settled): without it, a trial's settle time, which starts when the previous
 * recovery ended, locks every fault to the same phase of the cycle, and the median then says
 * where that phase happened to fall rather than what the peer does on average.
 */
export async function faultTrials(
  peer: Peer,
  service: BenchService,
  fault: 'crash' | 'hang',
  trials: number,
  deadlineMs: number,
  cycleMs: number,
): Promise<FaultResult> {
  const url = healthUrl(service);
  const seconds: number[] = [];
  const measuredAt = new Date().toISOString();
  const stages = peer.timeline ? (Object.fromEntries(STAGES.map((k) => [k, []])) as unknown as Record<StageName, number[]>) : undefined;
  let notRecovered = 0;
  for (let i = 1; i <= trials; i++) {
    // Settled first. A crash: healthy for 1.5 s (supervisord counts a start after 1 s up). A hang:
    // 4 s, so that every peer has checked the restarted service and found it healthy (monit holds
    // connection tests for its 2-s start timeout; without a passing check in between it still
    // counts the previous trial's failures and acts on the first new one).
    await steadyHealthy(url, fault === 'hang' ? 4_000 : 1_500, 60_000);
    await sleep(Math.random() * cycleMs);
    const pid = await servicePid(url);
    if (!pid) throw new Error(`bench: ${service.name} did not report its pid`);
    const t0 = now();
    // The wall clock too, to place the fault among the times the peer's own records carry.
    const wall0 = Date.now();
    process.kill(pid, fault === 'crash' ? 'SIGKILL' : 'SIGSTOP');
    const t1 = await firstHealthy(url, deadlineMs);
    if (t1 === undefined) {
      notRecovered++;
      if (fault === 'hang') process.kill(pid, 'SIGCONT');
      // One miss says it; do not spend the whole budget proving it again.
      if (notRecovered >= 3 && seconds.length === 0) {
        log(`${peer.name} ${fault}: not recovered in ${deadlineMs / 1000}s three times in a row; stopping this scenario`);
        return { seconds, summary: summarize(seconds), notRecovered, trials: i, measuredAt };
      }
      continue;
    }
    seconds.push((t1 - t0) / 1000);
    if (stages && peer.timeline) {
      const split = recoveryStages(await peer.timeline(service.name).catch(() => []), wall0, wall0 + (t1 - t0));
      if (split) for (const k of STAGES) stages[k].push(split[k]);
    }
    if (i % 10 === 0) log(`${peer.name} ${fault}: ${i}/${trials}, median so far ${summarize(seconds).median}s`);
  }
  return { seconds, summary: summarize(seconds), notRecovered, trials, measuredAt, ...(stages ? { stages } : {}) };
}

export interface CrashLoopResult {
  windowSeconds: number;
  restarts: number;
  alerted: boolean;
  stateAtFix: string;
  /** Seconds from the fix to a healthy answer; undefined when it never came within the deadline. */
  fixToHealthySeconds?: number;
  /** How long the fix was given: for mend, the worst case of its configured flap control (see flapControlBoundMs). */
  deadlineSeconds?: number;
}

/**
 * A service that dies `crashAfterMs` after each start, left to the peer for `windowMs`; then the
 * fix is "deployed" (its FIXED_FILE created) and the time until it answers healthy is measured,
 * within `deadlineMs`. A peer that holds restarts back (mend's breaker and restart backoff) may by
 * design wait its whole cool-down and backoff after the fix, depending on where in its cycle the fix
 * lands: its deadline must cover that, or the scenario says "never" for a peer doing what it was
 * configured to do. The state at the fix says where in the cycle it was.
 */
export async function crashLoop(peer: Peer, service: BenchService, windowMs: number, deadlineMs: number): Promise<CrashLoopResult> {
  const fixedFile = service.env?.FIXED_FILE;
  if (!fixedFile) throw new Error('bench: crash loop needs FIXED_FILE in the service env');
  const before = starts(service.stateFile);
  const t0 = now();
  while (now() - t0 < windowMs) await sleep(250);
  const restarts = starts(service.stateFile) - before;
  const stateAtFix = (await peer.state?.(service.name)) ?? 'unknown';
  const alerted = (await peer.alerted?.(service.name)) ?? false;
  writeFileSync(fixedFile, 'fixed\n');
  const fixedAt = now();
  const healthyAt = await firstHealthy(healthUrl(service), deadlineMs, 50);
  // A fleeting healthy answer before the next crash does not count: it must stay up.
  const steady =
    healthyAt !== undefined &&
    (await steadyHealthy(healthUrl(service), 1_000, 5_000).then(
      () => true,
      () => false,
    ));
  log(
    `${peer.name} crash loop: ${restarts} starts in ${windowMs / 1000}s, state ${stateAtFix}, ${steady ? `healthy ${((healthyAt! - fixedAt) / 1000).toFixed(2)}s after the fix` : `not healthy within ${deadlineMs / 1000}s of the fix`}`,
  );
  return {
    windowSeconds: windowMs / 1000,
    restarts,
    alerted,
    stateAtFix,
    fixToHealthySeconds: steady ? (healthyAt! - fixedAt) / 1000 : undefined,
    deadlineSeconds: deadlineMs / 1000,
  };
}

export function crashLoopService(dir: string, name: string, port: number): BenchService {
  const fixedFile = path.join(dir, `${name}.fixed`);
  if (existsSync(fixedFile)) throw new Error(`bench: ${fixedFile} exists already`);
  return { name, port, stateFile: path.join(dir, `${name}.json`), env: { CRASH_AFTER_MS: '500', FIXED_FILE: fixedFile } };
}
