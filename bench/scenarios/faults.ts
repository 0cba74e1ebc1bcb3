/**
 * Crash, hang and crash-loop trials against one peer, measured from this process's clock:
 * the fault is injected here and "recovered" is the first healthy answer seen here.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { summarize, type Summary } from '../lib/stats';
import { firstHealthy, log, now, servicePid, sleep, steadyHealthy } from '../lib/util';
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
}

function starts(stateFile: string): number {
  try {
    return (JSON.parse(readFileSync(stateFile, 'utf8')) as { starts: number }).starts;
  } catch {
    return 0;
  }
}

/** SIGKILL (crash) or SIGSTOP (hang) the service `trials` times; a hang not recovered in `deadlineMs` is SIGCONTed. */
export async function faultTrials(peer: Peer, service: BenchService, fault: 'crash' | 'hang', trials: number, deadlineMs: number): Promise<FaultResult> {
  const url = healthUrl(service);
  const seconds: number[] = [];
  const measuredAt = new Date().toISOString();
  let notRecovered = 0;
  for (let i = 1; i <= trials; i++) {
    // Settled first. A crash: healthy for 1.5 s (supervisord counts a start after 1 s up). A hang:
    // 4 s, so that every peer has checked the restarted service and found it healthy (monit holds
    // connection tests for its 2-s start timeout; without a passing check in between it still
    // counts the previous trial's failures and acts on the first new one).
    await steadyHealthy(url, fault === 'hang' ? 4_000 : 1_500, 60_000);
    const pid = await servicePid(url);
    if (!pid) throw new Error(`bench: ${service.name} did not report its pid`);
    const t0 = now();
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
    if (i % 10 === 0) log(`${peer.name} ${fault}: ${i}/${trials}, median so far ${summarize(seconds).median}s`);
  }
  return { seconds, summary: summarize(seconds), notRecovered, trials, measuredAt };
}

export interface CrashLoopResult {
  windowSeconds: number;
  restarts: number;
  alerted: boolean;
  stateAtFix: string;
  /** Seconds from the fix to a healthy answer; undefined when it never came within the deadline. */
  fixToHealthySeconds?: number;
}

/**
 * A service that dies `crashAfterMs` after each start, left to the peer for `windowMs`; then the
 * fix is "deployed" (its FIXED_FILE created) and the time until it answers healthy is measured.
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
  const steady = healthyAt !== undefined && (await steadyHealthy(healthUrl(service), 1_000, 5_000).then(() => true, () => false));
  log(`${peer.name} crash loop: ${restarts} starts in ${windowMs / 1000}s, state ${stateAtFix}, ${steady ? `healthy ${((healthyAt! - fixedAt) / 1000).toFixed(2)}s after the fix` : 'not healthy after the fix'}`);
  return { windowSeconds: windowMs / 1000, restarts, alerted, stateAtFix, fixToHealthySeconds: steady ? (healthyAt! - fixedAt) / 1000 : undefined };
}

export function crashLoopService(dir: string, name: string, port: number): BenchService {
  const fixedFile = path.join(dir, `${name}.fixed`);
  if (existsSync(fixedFile)) throw new Error(`bench: ${fixedFile} exists already`);
  return { name, port, stateFile: path.join(dir, `${name}.json`), env: { CRASH_AFTER_MS: '500', FIXED_FILE: fixedFile } };
}
