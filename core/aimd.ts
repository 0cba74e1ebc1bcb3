/**
 * The adaptive window of cheap recoveries (issue 16): additive increase, multiplicative decrease
 * (AIMD), as TCP sizes its congestion window. Restarting a crashed process is cheap and independent
 * of the others, so a host admits more at once while they end quickly and well, and halves what it
 * admits when one is slow or fails (the host is struggling: more at once would only slow them all).
 * Pure (the fleet limiter workflow runs it): no clock, no randomness.
 */

export interface AimdSettings {
  /** Most recoveries at once, whatever happens (a host's cores × `perCore`, or as configured). */
  ceiling: number;
  /** A recovery that took longer than this counts as slow: a decrease, as a failure does. */
  slowMs: number;
  /**
   * Fewest recoveries at once, whatever happens: the strict cap, once the fleet limiter has its
   * window-floor patch (unset: 1, as before it). The window is there to admit more than the strict
   * cap when cheap recoveries go well; halving it below the cap made a loaded host restart crashed
   * processes one at a time, slower than the cap any expensive recovery still gets, and the slowness
   * that halved it was the queue's own (a long wait for a permit makes every hold long).
   */
  floor?: number;
}

/** How a recovery that held a permit ended: `ok` undefined when none ran (healthy again meanwhile). */
export interface AimdOutcome {
  ok?: boolean;
  durationMs: number;
}

/** Added to the window per quick success. */
export const AIMD_INCREASE = 1;
/** The window is multiplied by this on a slow or failed recovery. */
export const AIMD_DECREASE = 0.5;

/** Clamped to [floor, ceiling] (floor at least 1, at most the ceiling): a window never admits none, nor more than its ceiling. */
export function clampWindow(size: number, ceiling: number, floor = 1): number {
  const top = Math.max(1, Math.floor(ceiling));
  if (!Number.isFinite(size)) return top;
  return Math.min(top, Math.max(1, Math.floor(floor), size));
}

/** The window a host starts with: the strict cap (what it always had), within the ceiling. */
export function initialWindow(strictMax: number, ceiling: number): number {
  return clampWindow(strictMax, ceiling);
}

/**
 * The window a host starts with once the limiter has its slow-start patch: half its ceiling (at
 * least the strict cap). A mass outage is when the window matters, and starting at the strict cap
 * (5) held most of one back for rounds of recoveries that then ended quickly; a host that struggles
 * still halves it at its first slow or failed recovery.
 */
export function slowStartWindow(strictMax: number, ceiling: number): number {
  return clampWindow(Math.max(strictMax, Math.floor(ceiling / 2)), ceiling);
}

/** The window after a recovery ended: one more after a quick success, halved (not below its floor) after a slow or failed one; unchanged when none ran. */
export function nextWindow(size: number, outcome: AimdOutcome, settings: AimdSettings): number {
  if (outcome.ok === undefined) return clampWindow(size, settings.ceiling, settings.floor);
  const quick = outcome.ok && outcome.durationMs <= settings.slowMs;
  return clampWindow(quick ? size + AIMD_INCREASE : size * AIMD_DECREASE, settings.ceiling, settings.floor);
}

/** Recoveries the window admits at once (whole ones, at least one). */
export function admits(size: number, ceiling: number): number {
  return Math.floor(clampWindow(size, ceiling));
}
