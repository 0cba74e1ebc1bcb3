/**
 * Plain types and pure rules of component supervision: what a probe report says, what a supervisor
 * holds, the circuit breaker, detection and restart backoff, MTTR statistics. Used by the
 * supervisor workflow (so no zod here), the sweep, the client and the CLI.
 */
import { admits, clampWindow, initialWindow, nextWindow, slowStartWindow, type AimdOutcome } from './aimd';
import type { BreakerStatus } from './breaker';
import { DEFAULT_HOST } from './constants';
import type { FailureClass } from './failure';
import type { WatchRestart } from './run';
import type { CheckResult } from './api/components';
import type { ComponentStats, FleetStats } from './api/supervision';
import type { Component, Supervision } from './schemas';

// The API's shapes, inferred from its schemas (types only: no zod at run time here).
export type { CheckResult, ComponentStats, FleetStats };

/** What a supervisor needs to know about its component, as configured (paths resolved). */
export interface SupervisorSpec {
  component: Component;
  /** The component's dependencies and dependents, for strategies that act on them. */
  related?: Component[];
  /**
   * Everything the component depends on, directly or not: its supervisor starts no recovery while
   * one of them is unhealthy or being recovered (a dependent started before its dependency is
   * healthy comes up broken, and a dependency's recovery may restart its dependents itself).
   */
  dependencies?: Component[];
  notify?: { webhook?: string; timeoutMs: number };
  /** Fleet-wide cap on recoveries running at once (on this task queue). */
  maxConcurrentRecoveries?: number;
  /** Fleet-wide cap on destructive recoveries started per minute. */
  maxDestructivePerMinute?: number;
  /** A cheap recovery (immediate/progressive of a process): admitted by its host's adaptive window instead of the cap. */
  adaptive?: AdaptiveCap;
}

export type ReportSource = 'sweep' | 'watch' | 'manual';

/** One health observation sent to a supervisor (the `report` signal). */
export interface ProbeReport {
  healthy: boolean;
  failureClass?: FailureClass;
  detail: string;
  /** When the probe ran (ISO); a supervisor ignores a report not newer than the last it handled. */
  checkedAt: string;
  source: ReportSource;
  /** Failed probes this report stands for (a sweep overlaps probes of a slow component); default 1. */
  failures?: number;
  /** The component's current spec: config changes reach the supervisor with its reports. */
  spec?: SupervisorSpec;
  /** Its pid watch restarted it in place on this exit (source `watch`): the supervisor records that as a recovery run. */
  restarted?: WatchRestart;
}

export const HEALTH_STATES = ['unknown', 'healthy', 'unhealthy', 'recovering'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
export type { BreakerState, BreakerStatus } from './breaker';

export interface RecoveryRecord {
  workflowId: string;
  runId: string;
  strategy: string;
  startedAt: string;
  endedAt?: string;
  outcome?: string;
  reason?: string;
  /** From the first failed check to validated healthy. */
  mttrMs?: number;
  /** The component failed again within `relapseWindow` of this recovery's end (ISO). */
  relapsedAt?: string;
}

export interface SupervisorStats {
  attempted: number;
  /** Recovered, and the component stayed healthy for `relapseWindow` afterwards. */
  succeeded: number;
  failed: number;
  /** Recovered, but the component failed again within `relapseWindow` (absent in states from before relapses were counted). */
  relapsed?: number;
  /**
   * Recovered, then its host went away within `relapseWindow`: neither a success nor a relapse, but
   * settled, so that attempted = succeeded + failed + relapsed + interrupted + the one running or
   * awaiting confirmation (absent in states from before they were counted).
   */
  interrupted?: number;
  /** MTTRs of the most recent successful recoveries (ms), oldest first. */
  mttrs: number[];
  lastMttrMs?: number;
  meanMttrMs?: number;
  /** Recent recoveries, newest last. */
  recent: RecoveryRecord[];
  /** Failure reasons seen, newest last. */
  recentFailures: Array<{ at: string; failureClass?: FailureClass; detail: string }>;
  /** Times the breaker opened. */
  breakerOpened: number;
  /** Outages seen, by the failure class of their first failed check (absent in states from before they were counted). */
  failuresByClass?: Partial<Record<FailureClass, number>>;
}

/** Everything a supervisor carries across continue-as-new; also its `state` query answer. */
export interface SupervisorState {
  component: string;
  health: HealthState;
  consecutiveFailures: number;
  threshold: number;
  lastFailureClass?: FailureClass;
  lastDetail?: string;
  /** checkedAt (ms) of the newest report handled. */
  lastReportAt?: number;
  /** When the current outage was first seen (ms): MTTR starts here. */
  firstFailedAt?: number;
  healthySince?: number;
  /** Failures before this (ms) start no recovery. */
  graceUntil: number;
  /** Detection backoff: failure reports before `ignoreUntil` are dropped; doubles while nothing can be done. */
  detectBackoffMs: number;
  ignoreUntil?: number;
  /** A pause by hand (`mend pause`), kept apart from a drain: undrain leaves it. */
  pausedUntil?: number;
  pausedBy?: string;
  /** Why it is paused (the pause signal's reason). */
  pauseReason?: string;
  /** Drained with this host (`mend hosts drain`): held until `undrain` (or a plain resume) lifts it. */
  drainedHost?: string;
  drainedBy?: string;
  drainReason?: string;
  /** Recoveries in a row without a healthy period of `backoffResetAfter` (drives the restart backoff). */
  consecutiveRecoveries: number;
  current?: RecoveryRecord;
  /** The last recovery ended recovered and is not confirmed yet: it counts as succeeded once healthy until `until` (ms). */
  confirming?: { runId: string; endedAt: number; until: number; mttrMs: number };
  /** Run id of the last recovery run not started by this supervisor that it waited out (never attributed twice). */
  waitedOutRunId?: string;
  breaker: BreakerStatus;
  stats: SupervisorStats;
  /** Why the last failure started no recovery, if it did not. */
  held?: string;
  /**
   * The component's host did not pick up a probe (or the pid watch) in time, or its host's workflow
   * says it is unreachable: held, and no pid watch, until its host is back or a report comes through.
   */
  unreachableHost?: string;
  /**
   * The component's host came back from an outage (its workflow said so, at `at` ms) and the
   * component has not been seen healthy since: a failure first seen soon after is the outage's, not
   * the component's (its recovery takes no breaker slot and no restart backoff). Cleared once healthy
   * or once that recovery starts.
   */
  hostReturned?: { host: string; at: number };
  /**
   * The failure being held waited for a dependency whose host was unreachable (no agent there picked
   * up the dependency check): that outage's doing, as for the host's own components, so its recovery
   * once the dependencies are ready takes no breaker slot and no restart backoff. Cleared once healthy
   * or once that recovery starts.
   */
  dependencyHostDown?: string;
  /** The last reset of the breaker by hand: when (ISO), who, why, and what state it was in. */
  lastBreakerReset?: { at: string; by: string; reason: string; from: BreakerStatus['state'] };
  /** Continue-as-new generations so far. */
  generation: number;
}

export function initialState(componentId: string, supervision: Supervision, now: number): SupervisorState {
  return {
    component: componentId,
    health: 'unknown',
    consecutiveFailures: 0,
    threshold: supervision.failuresBeforeRecovery,
    graceUntil: now + supervision.startupGrace,
    detectBackoffMs: 0,
    consecutiveRecoveries: 0,
    breaker: { state: 'closed', recoveries: [] },
    stats: { attempted: 0, succeeded: 0, failed: 0, mttrs: [], recent: [], recentFailures: [], breakerOpened: 0 },
    generation: 0,
  };
}

/** Next detection backoff while down and no recovery is possible: from cadence.min, doubling, capped at cadence.max. */
export function nextDetectBackoff(previousMs: number, supervision: Supervision): number {
  const { min, max } = supervision.cadence;
  return Math.min(max, previousMs > 0 ? previousMs * 2 : Math.max(min, supervision.interval));
}

/** Wait before the next recovery when `consecutive` recoveries ran without a healthy period (0 → none). */
export function restartDelay(consecutive: number, supervision: Supervision): number {
  if (consecutive <= 0) return 0;
  const { initial, max } = supervision.restartBackoff;
  return Math.min(max, initial * Math.pow(2, consecutive - 1));
}

/*
 * The breaker rules of supervisors that started before `supervisor-breaker-one-trial` (half-open let
 * every recovery through; a reservation was recorded at once). Kept unchanged so those histories
 * replay; the rules now in force are in ./breaker.
 */

/** Legacy. Time-driven breaker moves: open → half-open after the cool-down; half-open → closed after a healthy period. */
export function advanceBreaker(breaker: BreakerStatus, supervision: Supervision, now: number, healthySince: number | undefined): BreakerStatus {
  const cfg = supervision.breaker;
  const recoveries = breaker.recoveries.filter((t) => now - t < cfg.window);
  if (breaker.state === 'open' && breaker.halfOpenAt !== undefined && now >= breaker.halfOpenAt) {
    return { ...breaker, recoveries, state: 'half-open', reason: `cool-down of ${cfg.coolDown}ms over: one trial recovery allowed` };
  }
  if (
    breaker.state === 'half-open' &&
    healthySince !== undefined &&
    now - healthySince >= cfg.healthyToClose &&
    (breaker.openedAt === undefined || healthySince > breaker.openedAt)
  ) {
    return { state: 'closed', recoveries: [], reason: `healthy for ${cfg.healthyToClose}ms` };
  }
  return { ...breaker, recoveries };
}

/**
 * Legacy. Whether a recovery may start now. Closed: yes while fewer than maxRecoveries ran within the window,
 * else the breaker opens. Half-open: yes (any number). Open: no.
 */
export function breakerDecision(breaker: BreakerStatus, supervision: Supervision, now: number): { allow: boolean; breaker: BreakerStatus; opened: boolean } {
  const cfg = supervision.breaker;
  const recoveries = breaker.recoveries.filter((t) => now - t < cfg.window);
  if (breaker.state === 'open') return { allow: false, breaker: { ...breaker, recoveries }, opened: false };
  if (breaker.state === 'closed' && recoveries.length >= cfg.maxRecoveries) {
    return {
      allow: false,
      opened: true,
      breaker: {
        state: 'open',
        recoveries,
        openedAt: now,
        halfOpenAt: now + cfg.coolDown,
        reason: `${recoveries.length} recoveries within ${cfg.window}ms and failing again`,
      },
    };
  }
  return { allow: true, breaker: { ...breaker, recoveries: [...recoveries, now] }, opened: false };
}

/** Legacy. After a recovery in half-open state: a failed trial opens the breaker again. */
export function afterTrial(breaker: BreakerStatus, supervision: Supervision, now: number, recovered: boolean): { breaker: BreakerStatus; opened: boolean } {
  if (breaker.state !== 'half-open' || recovered) return { breaker, opened: false };
  return {
    opened: true,
    breaker: { ...breaker, state: 'open', openedAt: now, halfOpenAt: now + supervision.breaker.coolDown, reason: 'trial recovery failed' },
  };
}

/** Legacy. The recovery last recorded did not start after all (healthy again, another run holds the component): it no longer counts. */
export function dropLastRecovery(breaker: BreakerStatus): BreakerStatus {
  return { ...breaker, recoveries: breaker.recoveries.slice(0, -1) };
}

/**
 * A recovery that ended recovered waits for confirmation: it counts as succeeded once the component
 * stayed healthy until `confirming.until`. A confirmed failure first seen before then is a relapse.
 */
export function relapsedWithin(confirming: NonNullable<SupervisorState['confirming']>, failedAt: number): boolean {
  return failedAt < confirming.until;
}

/** Settles the recovery waiting for confirmation: succeeded (its MTTR counts) or relapsed. */
export function settleRecovery(state: SupervisorState, verdict: 'succeeded' | 'relapsed', atMs: number): SupervisorState['stats'] {
  const pending = state.confirming;
  if (!pending) return state.stats;
  const s = state.stats;
  const recent = s.recent.map((r) => (r.runId === pending.runId && verdict === 'relapsed' ? { ...r, relapsedAt: new Date(atMs).toISOString() } : r));
  if (verdict === 'relapsed') return { ...s, recent, relapsed: (s.relapsed ?? 0) + 1 };
  const succeeded = s.succeeded + 1;
  return {
    ...s,
    recent,
    succeeded,
    mttrs: [...s.mttrs, pending.mttrMs].slice(-KEEP_MTTRS),
    lastMttrMs: pending.mttrMs,
    meanMttrMs: Math.round(((s.meanMttrMs ?? 0) * (succeeded - 1) + pending.mttrMs) / succeeded),
  };
}

/**
 * Whether a confirmed failure (last seen at `failedAt`) is the doing of `run`, the latest run under
 * the component's recovery id: a run this supervisor did not start (its own are `ownRunIds`), not
 * already waited out, that still goes, or that ended no earlier than `slackMs` before the failure
 * was seen (a watch or probe may notice the run's stop a moment late). Its stop and start are not
 * failures; its result is the news.
 */
export function heldByRecoveryRun(
  run: { runId: string; running: boolean; closedAt?: string },
  seen: { failedAt: number; ownRunIds: readonly string[]; waitedOutRunId?: string; slackMs: number },
): boolean {
  if (run.runId === seen.waitedOutRunId || seen.ownRunIds.includes(run.runId)) return false;
  if (run.running) return true;
  return run.closedAt !== undefined && Date.parse(run.closedAt) + seen.slackMs >= seen.failedAt;
}

/** Nearest-rank percentile of `values` (p in 0..100); undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** Most recent entries kept in a supervisor's state: its history stays small across continue-as-new. */
export const KEEP_RECENT = 20;
export const KEEP_MTTRS = 200;

/** Upper bounds (seconds) of the recovery-duration histogram. */
export const MTTR_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];

export function mttrHistogram(mttrsMs: readonly number[]): NonNullable<ComponentStats['mttrHistogram']> {
  return {
    buckets: MTTR_BUCKETS.map((le) => ({ le, count: mttrsMs.filter((ms) => ms / 1000 <= le).length })),
    count: mttrsMs.length,
    sumSeconds: mttrsMs.reduce((a, b) => a + b, 0) / 1000,
  };
}

export function componentStats(state: SupervisorState): ComponentStats {
  const s = state.stats;
  const relapsed = s.relapsed ?? 0;
  const done = s.succeeded + s.failed + relapsed;
  return {
    component: state.component,
    health: state.health,
    breaker: state.breaker.state,
    attempted: s.attempted,
    succeeded: s.succeeded,
    failed: s.failed,
    relapsed,
    interrupted: s.interrupted ?? 0,
    successRate: done > 0 ? s.succeeded / done : undefined,
    mttrP50Ms: percentile(s.mttrs, 50),
    mttrP95Ms: percentile(s.mttrs, 95),
    lastMttrMs: s.lastMttrMs,
    meanMttrMs: s.meanMttrMs,
    lastFailureClass: state.lastFailureClass,
    ...(s.failuresByClass ? { failuresByClass: s.failuresByClass } : {}),
    current: state.current?.workflowId,
    held: state.held,
    mttrHistogram: mttrHistogram(s.mttrs),
  };
}

export function fleetStats(states: SupervisorState[], unsupervised: string[]): FleetStats {
  const components = states.map(componentStats);
  const sum = (f: (c: ComponentStats) => number) => components.reduce((n, c) => n + f(c), 0);
  const succeeded = sum((c) => c.succeeded);
  const failed = sum((c) => c.failed);
  const relapsed = sum((c) => c.relapsed);
  const interrupted = sum((c) => c.interrupted);
  const mttrs = states.flatMap((s) => s.stats.mttrs);
  return {
    components,
    fleet: {
      supervised: states.length,
      attempted: sum((c) => c.attempted),
      succeeded,
      failed,
      relapsed,
      interrupted,
      successRate: succeeded + failed + relapsed > 0 ? succeeded / (succeeded + failed + relapsed) : undefined,
      mttrP50Ms: percentile(mttrs, 50),
      mttrP95Ms: percentile(mttrs, 95),
      breakersOpen: components.filter((c) => c.breaker !== 'closed').length,
    },
    unsupervised,
  };
}

/** Strategies whose runs stop more than the component or move its state aside: rate-limited fleet-wide. */
export const DESTRUCTIVE_STRATEGIES: readonly string[] = ['emergency-reset', 'state-recovery'];

/** Strategies whose recovery is a restart of the component alone (whatever its adapter): cheap, admitted by an adaptive window (core/aimd.ts). */
export const CHEAP_STRATEGIES: readonly string[] = ['immediate', 'progressive'];

/** The adaptive window a cheap recovery is admitted by (per host): its ceiling and what counts as slow. */
export interface AdaptiveCap {
  ceiling: number;
  slowMs: number;
}

export interface PermitRequest {
  component: string;
  /** Workflow id of the asking supervisor: the permit is signalled there. */
  supervisorId: string;
  /** The cap as the asker's config says; the newest request's value wins. */
  max: number;
  /** The recovery is destructive (see DESTRUCTIVE_STRATEGIES). */
  destructive?: boolean;
  /** At most this many destructive recoveries start per minute, fleet-wide. */
  maxDestructivePerMinute?: number;
  /** A cheap recovery (see CHEAP_STRATEGIES): admitted by its host's adaptive window instead of `max`. */
  adaptive?: AdaptiveCap;
  /** The component's host (the adaptive window is per host). */
  host?: string;
}

export interface PermitHolder {
  component: string;
  supervisorId: string;
  since: number;
  /** Held under its host's adaptive window (not counted against `max`). */
  cheap?: boolean;
  host?: string;
}

/** A host's adaptive window of cheap recoveries. */
export interface HostWindow extends AdaptiveCap {
  /** Recoveries admitted at once (a real number; its whole part counts). */
  size: number;
  /** Never halved below this: the strict cap (set once the limiter has its window-floor patch; core/aimd.ts). */
  floor?: number;
}

export interface PermitQueue {
  max: number;
  maxDestructivePerMinute?: number;
  holders: PermitHolder[];
  waiting: Array<PermitRequest & { at: number }>;
  /** Start times (ms) of destructive grants within the last minute. */
  destructiveGrants: number[];
  /** Per host: the adaptive window of its cheap recoveries. */
  windows?: Record<string, HostWindow>;
}

/** The host a request or holder counts against (the default host when it names none). */
export function hostKey(x: { host?: string }): string {
  return x.host ?? DEFAULT_HOST;
}

/**
 * Which waiting requests get a permit now, oldest first: while fewer than `max` are held, and a
 * destructive one only while fewer than `maxDestructivePerMinute` destructive grants happened in
 * the last minute (a destructive request held back does not hold back the others).
 * `wakeAt` is when a held-back destructive request may go.
 *
 * With `adaptive` (the limiter's patch), a cheap request (one with `adaptive`) is admitted by its
 * host's window instead: while fewer cheap recoveries than the window admits are held on that
 * host. Each host has its own window, so a mass outage on one host holds back no other; the rest
 * (destructive strategies, sagas, other adapters) keep the strict `max`, fleet-wide.
 */
export function pickGrants(
  queue: PermitQueue,
  now: number,
  adaptive = false,
  slowStart = false,
): { grant: Array<PermitRequest & { at: number }>; wakeAt?: number } {
  const recent = queue.destructiveGrants.filter((t) => now - t < 60_000);
  const limit = queue.maxDestructivePerMinute;
  const grant: Array<PermitRequest & { at: number }> = [];
  let wakeAt: number | undefined;
  const cheapOf = (r: { adaptive?: AdaptiveCap; cheap?: boolean }) => adaptive && (r.adaptive !== undefined || r.cheap === true);
  let held = queue.holders.filter((h) => !cheapOf(h)).length;
  const cheapHeld = new Map<string, number>();
  for (const h of queue.holders) if (cheapOf(h)) cheapHeld.set(hostKey(h), (cheapHeld.get(hostKey(h)) ?? 0) + 1);
  for (const req of queue.waiting) {
    if (cheapOf(req)) {
      const host = hostKey(req);
      const window = queue.windows?.[host];
      const admitted = window
        ? admits(window.size, window.ceiling)
        : admits(startingWindow(queue.max, req.adaptive!.ceiling, slowStart), req.adaptive!.ceiling);
      if ((cheapHeld.get(host) ?? 0) >= admitted) continue;
      grant.push(req);
      cheapHeld.set(host, (cheapHeld.get(host) ?? 0) + 1);
      continue;
    }
    if (held >= queue.max) {
      // Before the adaptive patch one queue held everyone: the first refused request ended the pass.
      if (!adaptive) break;
      continue;
    }
    if (req.destructive && limit !== undefined && recent.length >= limit) {
      const opens = Math.min(...recent) + 60_000;
      wakeAt = wakeAt === undefined ? opens : Math.min(wakeAt, opens);
      continue;
    }
    grant.push(req);
    held += 1;
    if (req.destructive) recent.push(now);
  }
  return { grant, wakeAt };
}

/** A new host window's size: the strict cap, or with the limiter's slow-start patch half the ceiling (core/aimd.ts). */
function startingWindow(strictMax: number, ceiling: number, slowStart: boolean): number {
  return slowStart ? slowStartWindow(strictMax, ceiling) : initialWindow(strictMax, ceiling);
}

/**
 * A host's window as the newest cheap request of it says (its ceiling and threshold), created at the
 * strict cap (slow start: half the ceiling). With `floored` (the limiter's window-floor patch) it is
 * never below the strict cap, nor halved below it later (core/aimd.ts AimdSettings.floor).
 */
export function windowFor(current: HostWindow | undefined, cap: AdaptiveCap, strictMax: number, slowStart = false, floored = false): HostWindow {
  const size = current?.size ?? startingWindow(strictMax, cap.ceiling, slowStart);
  const floor = floored ? { floor: clampWindow(strictMax, cap.ceiling) } : {};
  return { ceiling: cap.ceiling, slowMs: cap.slowMs, size: clampWindow(size, cap.ceiling, floor.floor), ...floor };
}

/** A cheap permit came back: its host's window after how the recovery went (core/aimd.ts). */
export function releasedWindow(window: HostWindow, outcome: AimdOutcome): HostWindow {
  return { ...window, size: nextWindow(window.size, outcome, window) };
}

/** A check's workflow id: concurrent checks of one component share one probe. */
export function checkWorkflowId(componentId: string): string {
  return `mend/check/${componentId}`;
}
