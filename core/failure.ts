/**
 * Why a probe or an action failed, so policies can react (an `auth` failure is not fixed by a restart).
 * `crash`: the process mend started exited before it was healthy.
 */
export const FAILURE_CLASSES = ['network', 'timeout', 'auth', 'data', 'resource', 'crash', 'unknown'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface ProbeResult {
  healthy: boolean;
  /** Set when unhealthy. */
  failureClass?: FailureClass;
  detail: string;
  latencyMs: number;
}

/** Failure class of an HTTP status that is not the expected one. */
export function classifyHttpStatus(status: number): FailureClass {
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429 || status === 503 || status === 507) return 'resource';
  if (status >= 400 && status < 500) return 'data';
  return 'unknown';
}

/** Failure class of a Node/network error code (ECONNREFUSED, ETIMEDOUT, ...). */
export function classifyErrorCode(code: string | undefined, name?: string): FailureClass {
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET'].includes(code))
    return 'network';
  if (code === 'EMFILE' || code === 'ENOSPC' || code === 'ENOMEM') return 'resource';
  if (code === 'EACCES' || code === 'EPERM') return 'auth';
  return 'unknown';
}
