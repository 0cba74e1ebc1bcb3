/**
 * Health of several bench services at once, and when their processes started: what the
 * multi-service scenarios (dependency order, mass outage) poll and measure, the same for every peer.
 */
import { readFileSync } from 'node:fs';
import { readProcStat } from '../../domain/adapters/process';
import { healthUrl, type BenchService } from '../peers/types';
import { healthy, now, run, sleep } from './util';

/** True when every service answers 2xx in one round of concurrent GETs. */
export async function allHealthy(services: BenchService[], timeoutMs = 300): Promise<boolean> {
  return (await Promise.all(services.map((s) => healthy(healthUrl(s), timeoutMs)))).every(Boolean);
}

/**
 * Polls until every service answers healthy in the same round and keeps doing so for `steadyMs`;
 * resolves with the clock (`now()`) at the first such round, or undefined at the deadline.
 */
export async function allHealthyAt(services: BenchService[], deadlineMs: number, steadyMs = 1_000, pollMs = 10): Promise<number | undefined> {
  const end = now() + deadlineMs;
  let since: number | undefined;
  while (now() < end) {
    if (await allHealthy(services)) {
      since ??= now();
      if (now() - since >= steadyMs) return since;
    } else {
      since = undefined;
    }
    await sleep(pollMs);
  }
  return undefined;
}

/** The pid a service's /healthz reports when it answers 2xx; undefined otherwise. */
export async function healthyPid(service: BenchService, timeoutMs = 150): Promise<number | undefined> {
  try {
    const res = await fetch(healthUrl(service), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return ((await res.json()) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;

/**
 * Wall-clock time (ms) a process started, from the kernel's record (/proc/<pid>/stat start time
 * and /proc/uptime, 10-ms resolution): the moment it was forked, whoever forked it.
 */
export async function processStartedAt(pid: number): Promise<number | undefined> {
  ticksPerSecond ??= Number((await run('getconf', ['CLK_TCK'])).out.trim()) || 100;
  const stat = readProcStat(pid);
  if (!stat) return undefined;
  const uptimeSec = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootedAt = Date.now() - uptimeSec * 1000;
  return bootedAt + (stat.startTicks / ticksPerSecond) * 1000;
}

/** The largest number of intervals open at one moment (an end at the same instant as a start closes first). */
export function peakOverlap(intervals: Array<{ start: number; end: number }>): number {
  const events = intervals.flatMap(({ start, end }) => [
    { at: start, delta: 1 },
    { at: end, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let peak = 0;
  for (const e of events) {
    open += e.delta;
    peak = Math.max(peak, open);
  }
  return peak;
}
