/** What every adapter answers, and the one error they throw; re-exported by ./index. */
import type { FailureClass } from '../../core/failure';

export interface StartOutcome {
  /** False when the component was already running and nothing was done. */
  started: boolean;
  /** Known for the process adapter only. */
  pid?: number;
  /** One line for the run's step log: what was done or why nothing was. */
  detail: string;
  /** Set when the started process was already gone when the start returned (process adapter). */
  died?: { failureClass: FailureClass; detail: string };
}

export interface StopOutcome {
  /** False when there was nothing to stop (or no way to stop it). */
  stopped: boolean;
  pid?: number;
  /** The process adapter had to SIGKILL. */
  forced?: boolean;
  detail: string;
}

/**
 * An adapter action that failed. `failureClass` becomes the Temporal failure type; a non-retryable
 * one (a missing binary, a refused credential) is not fixed by trying again.
 */
export class AdapterError extends Error {
  override name = 'AdapterError';
  constructor(
    message: string,
    readonly failureClass: FailureClass,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}
