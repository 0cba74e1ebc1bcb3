/**
 * The supervisor's circuit breaker as pure rules (no I/O, no clock: `now` comes in).
 *
 * Closed: at most `maxRecoveries` recoveries start within `window`; a failure beyond that opens it.
 * Open: nothing starts; after `coolDown` it turns half-open. Half-open: exactly one trial recovery
 * may start. The trial succeeds only if the component then stays healthy for `healthyToClose`
 * (the breaker closes); a failed trial, or a relapse before then, opens it again.
 *
 * A recovery is admitted by a reservation (`reserveRecovery`), which counts against the limit while
 * the supervisor waits (restart backoff, fleet permit, a last look); it is recorded in `recoveries`
 * only when the run really starts (`commitReservation`) and otherwise given back (`releaseReservation`).
 */

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerConfig {
  maxRecoveries: number;
  window: number;
  coolDown: number;
  healthyToClose: number;
}

export interface BreakerStatus {
  state: BreakerState;
  /** Start times (ms) of the recoveries that really started within the breaker's window. */
  recoveries: number[];
  openedAt?: number;
  /** When an open breaker turns half-open. */
  halfOpenAt?: number;
  reason?: string;
  /** A recovery admitted (at this time, ms) that has neither started nor been given up yet. */
  reservedAt?: number;
  /** Half-open: when its one trial recovery started. */
  trialAt?: number;
}

export interface BreakerDecision {
  allow: boolean;
  breaker: BreakerStatus;
  /** This decision opened the breaker (an alert is due). */
  opened: boolean;
}

const inWindow = (recoveries: readonly number[], cfg: BreakerConfig, now: number) => recoveries.filter((t) => now - t < cfg.window);

function open(breaker: BreakerStatus, cfg: BreakerConfig, now: number, reason: string): BreakerStatus {
  return { state: 'open', recoveries: inWindow(breaker.recoveries, cfg, now), openedAt: now, halfOpenAt: now + cfg.coolDown, reason };
}

/**
 * Time-driven moves: open → half-open once the cool-down is over; half-open → closed once the
 * component has been healthy for `healthyToClose` since after it opened (and after its trial).
 * Closing keeps the recoveries still within the window: they go on counting until they age out.
 */
export function advance(breaker: BreakerStatus, cfg: BreakerConfig, now: number, healthySince: number | undefined): BreakerStatus {
  const recoveries = inWindow(breaker.recoveries, cfg, now);
  if (breaker.state === 'open' && breaker.halfOpenAt !== undefined && now >= breaker.halfOpenAt) {
    return { state: 'half-open', recoveries, openedAt: breaker.openedAt, reason: `cool-down of ${cfg.coolDown}ms over: one trial recovery allowed` };
  }
  const since = breaker.trialAt ?? breaker.openedAt;
  if (
    breaker.state === 'half-open' &&
    breaker.reservedAt === undefined &&
    healthySince !== undefined &&
    now - healthySince >= cfg.healthyToClose &&
    (since === undefined || healthySince > since)
  ) {
    return { state: 'closed', recoveries, reason: `healthy for ${cfg.healthyToClose}ms${breaker.trialAt !== undefined ? ' after the trial recovery' : ''}` };
  }
  return { ...breaker, recoveries };
}

/**
 * Whether a recovery may start now; if so the answer holds a reservation (`reservedAt`). Closed:
 * yes while fewer than `maxRecoveries` started within the window, else the breaker opens. Half-open:
 * one trial; a failure after the trial is a relapse and opens it again. Open, or a reservation
 * already held: no.
 */
export function reserveRecovery(breaker: BreakerStatus, cfg: BreakerConfig, now: number): BreakerDecision {
  const recoveries = inWindow(breaker.recoveries, cfg, now);
  const current = { ...breaker, recoveries };
  if (breaker.reservedAt !== undefined || breaker.state === 'open') return { allow: false, breaker: current, opened: false };
  if (breaker.state === 'half-open') {
    if (breaker.trialAt !== undefined) return { allow: false, opened: true, breaker: open(current, cfg, now, relapseReason(cfg)) };
    return { allow: true, breaker: { ...current, reservedAt: now }, opened: false };
  }
  if (recoveries.length >= cfg.maxRecoveries) {
    return { allow: false, opened: true, breaker: open(current, cfg, now, `${recoveries.length} recoveries within ${cfg.window}ms and failing again`) };
  }
  return { allow: true, breaker: { ...current, reservedAt: now }, opened: false };
}

/** The admitted recovery really started (at `now`): it is recorded; in half-open it is the trial. */
export function commitReservation(breaker: BreakerStatus, cfg: BreakerConfig, now: number): BreakerStatus {
  return {
    ...releaseReservation(breaker),
    recoveries: [...inWindow(breaker.recoveries, cfg, now), now],
    ...(breaker.state === 'half-open' ? { trialAt: now } : {}),
  };
}

/** The admitted recovery did not start (healthy again meanwhile, another run holds the component): nothing is recorded. */
export function releaseReservation(breaker: BreakerStatus): BreakerStatus {
  const rest = { ...breaker };
  delete rest.reservedAt;
  return rest;
}

/** After a recovery ended: a failed trial opens the breaker again. */
export function afterRecovery(breaker: BreakerStatus, cfg: BreakerConfig, now: number, recovered: boolean): { breaker: BreakerStatus; opened: boolean } {
  if (breaker.state !== 'half-open' || breaker.trialAt === undefined || recovered) return { breaker, opened: false };
  return { opened: true, breaker: open(breaker, cfg, now, 'trial recovery failed') };
}

/**
 * A confirmed failure (not a recovery run's own doing): while half-open after a trial, that is a
 * relapse within `healthyToClose` and opens the breaker again, without another restart.
 */
export function onConfirmedFailure(breaker: BreakerStatus, cfg: BreakerConfig, now: number): { breaker: BreakerStatus; opened: boolean } {
  if (breaker.state !== 'half-open' || breaker.trialAt === undefined) return { breaker, opened: false };
  return { opened: true, breaker: open(breaker, cfg, now, relapseReason(cfg)) };
}

function relapseReason(cfg: BreakerConfig): string {
  return `trial recovery relapsed: failing again within ${cfg.healthyToClose}ms`;
}

/** Who reset a breaker by hand, and why (`mend breaker reset`, POST /v1/components/:id/breaker/reset). */
export interface BreakerResetRequest {
  /** The token's name through the API, `user@cli` straight to Temporal. */
  by: string;
  reason: string;
}

/**
 * An operator's reset: closed at once, the recoveries counted in the window forgotten (else the
 * next failure would open it again), a reservation a pass holds kept so that pass still ends right.
 */
export function resetBreaker(breaker: BreakerStatus, req: BreakerResetRequest): BreakerStatus {
  return {
    state: 'closed',
    recoveries: [],
    reason: `reset by ${req.by}: ${req.reason}`,
    ...(breaker.reservedAt !== undefined ? { reservedAt: breaker.reservedAt } : {}),
  };
}
