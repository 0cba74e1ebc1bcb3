/**
 * Talking to a backlog sink over HTTP: `GET <url>/items/<id>` says whether it has an item,
 * `POST <url>/items` (with `Idempotency-Key: <id>`) hands one over, `GET <healthUrl>` says whether
 * it takes items at all. Failures become a SinkError with a failure class; no retries here.
 */
import { classifyErrorCode, classifyHttpStatus, type FailureClass, type ProbeResult } from '../../core/failure';
import type { SpoolSink } from '../../core/schemas';
import type { SpoolItem } from '../../core/spool';

/** A failed sink call; `retryable: false` means trying the same item again cannot help (dead-letter it). */
export class SinkError extends Error {
  constructor(
    message: string,
    readonly failureClass: FailureClass,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SinkError';
  }
}

/** What the sink calls need of a spool. */
export interface SinkTarget {
  sink: SpoolSink;
}

export interface DeliverResult {
  /** True when this call handed the item over. */
  delivered: boolean;
  /** True when the sink already had it (found before posting, or reported a duplicate). */
  already: boolean;
}

const itemsUrl = (sink: SpoolSink, id?: string) => `${sink.url.replace(/\/+$/, '')}/items${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;

/** 4xx answers other than 408 and 429 will be the same next time. */
export function retryableStatus(status: number): boolean {
  return !(status >= 400 && status < 500 && status !== 408 && status !== 429);
}

function statusError(what: string, status: number, body: string): SinkError {
  const detail = body.trim().slice(0, 200);
  return new SinkError(`${what} answered ${status}${detail ? `: ${detail}` : ''}`, classifyHttpStatus(status), retryableStatus(status), status);
}

async function call(sink: SpoolSink, what: string, url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, {
      ...init,
      headers: { ...sink.headers, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(sink.timeout),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const failureClass = classifyErrorCode(e.cause?.code, e.name);
    const reason = failureClass === 'timeout' ? `no answer within ${sink.timeout}ms` : (e.cause?.code ?? e.message);
    return Promise.reject(new SinkError(`${what} failed: ${reason}`, failureClass, true));
  }
}

/** Whether the sink already holds item `id` (200 yes, 404 no, anything else a SinkError). */
export async function sinkHas(spool: SinkTarget, id: string): Promise<boolean> {
  const what = `GET ${itemsUrl(spool.sink, id)}`;
  const res = await call(spool.sink, what, itemsUrl(spool.sink, id));
  const body = await res.text().catch(() => '');
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw statusError(what, res.status, body);
}

/**
 * Hands one item to the sink unless it already has it (`batch` names the replay batch, for the
 * sink's logs). Safe to run twice: the sink is asked first, and the POST carries the item id as
 * its idempotency key, so a repeat never makes a second copy.
 */
export async function deliver(spool: SinkTarget, item: SpoolItem, opts: { batch?: string } = {}): Promise<DeliverResult> {
  if (await sinkHas(spool, item.id)) return { delivered: false, already: true };
  const url = itemsUrl(spool.sink);
  const what = `POST ${url}`;
  const res = await call(spool.sink, what, url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': item.id, ...(opts.batch ? { 'x-mend-batch': opts.batch } : {}) },
    body: JSON.stringify({ id: item.id, createdAt: item.createdAt, payload: item.payload }),
  });
  const body = await res.text().catch(() => '');
  if (!res.ok) throw statusError(what, res.status, body);
  let duplicate = false;
  try {
    duplicate = (JSON.parse(body) as { duplicate?: unknown }).duplicate === true;
  } catch {
    // A 2xx without a JSON body is a plain success.
  }
  return duplicate ? { delivered: false, already: true } : { delivered: true, already: false };
}

/** Whether the sink takes items now: a 2xx from its health URL. Never throws. */
export async function sinkHealthy(spool: SinkTarget): Promise<ProbeResult> {
  const started = Date.now();
  const url = spool.sink.healthUrl;
  try {
    const res = await call(spool.sink, `GET ${url}`, url);
    await res.body?.cancel();
    const latencyMs = Date.now() - started;
    if (res.ok) return { healthy: true, detail: `${url} answered ${res.status}`, latencyMs };
    return { healthy: false, failureClass: classifyHttpStatus(res.status), detail: `${url} answered ${res.status}`, latencyMs };
  } catch (err) {
    const e = err as SinkError;
    return { healthy: false, failureClass: e.failureClass ?? 'unknown', detail: e.message, latencyMs: Date.now() - started };
  }
}
