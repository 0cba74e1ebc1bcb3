/** Exponential backoff with jitter, as pure math: callers pass the random number (workflows use theirs). */

export interface BackoffPolicy {
  initialDelay: number;
  maxDelay: number;
  exponentialBase: number;
  /** Fraction of the delay added or removed at random: 0.2 → ±20 %. */
  jitter: number;
}

/**
 * Delay before attempt `attempt + 1` after `attempt` failed (attempt counts from 1):
 * initialDelay × base^(attempt-1), capped at maxDelay, then ±jitter, never below 0 or above maxDelay.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const raw = policy.initialDelay * Math.pow(policy.exponentialBase, Math.max(0, attempt - 1));
  const capped = Math.min(raw, policy.maxDelay);
  const jittered = capped * (1 + policy.jitter * (2 * random - 1));
  return Math.round(Math.min(policy.maxDelay, Math.max(0, jittered)));
}
