/**
 * The `http` adapter: calls a component's own admin endpoints (`POST /admin/restart`). Such an
 * endpoint sets a state ("running", "stopped", "freshly restarted"), so calling it twice leaves the
 * component where one call would: that is what makes a Temporal retry safe. Redirects are never
 * followed: credentials in the headers must not travel to another address.
 */
import type { HttpAdapter, HttpCall } from '../../core/schemas';
import { classifyErrorCode, classifyHttpStatus, type FailureClass } from '../../core/failure';
import { AdapterError, type StartOutcome, type StopOutcome } from './outcome';

/** How much of an error answer's body goes into the failure message. */
const BODY_CHARS = 500;

/** Idempotent: the `start` endpoint (or `restart` when none) puts the component in the running state. */
export async function startHttp(adapter: HttpAdapter): Promise<StartOutcome> {
  const call = adapter.start ?? adapter.restart;
  const detail = await callEndpoint(adapter.start ? 'start' : 'restart', call, adapter.headers, adapter.timeout);
  return { started: true, detail };
}

/** Idempotent: the `stop` endpoint puts the component in the stopped state; without one nothing is done. */
export async function stopHttp(adapter: HttpAdapter): Promise<StopOutcome> {
  if (!adapter.stop) return { stopped: false, detail: 'no stop endpoint configured' };
  const detail = await callEndpoint('stop', adapter.stop, adapter.headers, adapter.stopTimeout);
  return { stopped: true, detail };
}

/** Idempotent in effect: a second restart leaves the component freshly restarted, as the first did. */
export async function restartHttp(adapter: HttpAdapter): Promise<StartOutcome> {
  const detail = await callEndpoint('restart', adapter.restart, adapter.headers, adapter.timeout);
  return { started: true, detail };
}

/**
 * One call; returns a one-line detail on success. Success is `expectStatus` when set, any 2xx
 * otherwise. Throws AdapterError: 401/403 and other 4xx (wrong credentials, wrong URL) are not
 * retryable; 5xx, 408, 429, network errors and timeouts are.
 */
export async function callEndpoint(action: string, call: HttpCall, headers: Record<string, string>, timeoutMs: number): Promise<string> {
  const what = `${action}: ${call.method} ${call.url}`;
  const started = performance.now();
  let res: Response;
  let body: string;
  try {
    res = await fetch(call.url, { method: call.method, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    body = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string }; code?: string };
    const code = e.cause?.code ?? e.code;
    const failureClass = classifyErrorCode(code, e.name);
    const why = failureClass === 'timeout' ? `no answer within ${timeoutMs}ms` : `${code ?? e.name}: ${e.cause?.message ?? e.message}`;
    throw new AdapterError(`${what}: ${why}`, failureClass, failureClass !== 'auth');
  }
  const ms = Math.round(performance.now() - started);
  const ok = call.expectStatus !== undefined ? res.status === call.expectStatus : res.status >= 200 && res.status < 300;
  if (ok) return `${call.method} ${call.url} answered ${res.status} in ${ms}ms`;

  const expected = call.expectStatus !== undefined ? `expected ${call.expectStatus}` : 'expected 2xx';
  const location = res.status >= 300 && res.status < 400 ? `; redirect to ${res.headers.get('location') ?? '?'} not followed` : '';
  const text = body.trim().slice(0, BODY_CHARS);
  const failureClass: FailureClass = classifyHttpStatus(res.status);
  throw new AdapterError(`${what} answered ${res.status} (${expected})${location}${text ? `: ${text}` : ''}`, failureClass, retryableStatus(res.status));
}

/** A server error, a timeout answer or back-pressure may pass; a refused credential or a wrong URL will not. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
