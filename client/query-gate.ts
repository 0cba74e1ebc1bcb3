/**
 * The workflow queries of one process, shared and bounded.
 *
 * Every read of the fleet (`/v1/fleet`, `/v1/stats`, `/v1/backlog`, `mend stats`) asks each supervisor or
 * replay entity for its state with a query. Temporal answers a query by handing it to the worker as
 * a task of its own, next to the worker's workflow tasks. Sixteen concurrent fleet reads used to send
 * sixteen queries to each supervisor at once, and `npm run fuzz` saw the worker fall so far behind that
 * queries outlived the API's 10 s deadline (the worker logged "query task not found, or already
 * expired" for the answers that came too late). So:
 * - **one query per workflow at a time**: a read that asks what an in-flight query already asks
 *   waits for that answer instead of sending its own;
 * - **at most `maxConcurrent` queries in flight**: the rest wait their turn here, not in the worker;
 * - **a query may have its own, shorter wait** (`timeoutMs`, within the caller's deadline), so an
 *   aggregate read can leave out one workflow that does not answer instead of failing as a whole.
 *
 * There is no cache beyond an in-flight answer: a read that starts after this process sent a signal
 * or update to the workflow (`forget`) always gets a fresh answer.
 */
import type { Connection } from '@temporalio/client';

export interface QueryGateStats {
  /** Queries sent to Temporal. */
  sent: number;
  /** Reads answered by a query another read had already sent. */
  shared: number;
  /** Most queries in flight at once. */
  maxInFlight: number;
}

/** A read joins a query in flight unless that one has less than this left to wait (and the read has more). */
const JOIN_MIN_LEFT_MS = 2_000;

/** A read whose joined query ran out asks again only with at least this much of its own time left. */
const RETRY_MIN_LEFT_MS = 1_000;

/** gRPC DEADLINE_EXCEEDED (4) or CANCELLED (1, how gRPC sometimes reports a deadline) anywhere in the cause chain. */
function timedOut(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++)
    if (e.code === 4 || e.code === 1) return true;
  return false;
}

interface InFlight {
  promise: Promise<unknown>;
  /** When its wait ends (ms since the epoch); undefined: no deadline. */
  deadline: number | undefined;
}

export class QueryGate {
  private readonly inFlight = new Map<string, InFlight>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  readonly stats: QueryGateStats = { sent: 0, shared: 0, maxInFlight: 0 };

  constructor(
    private readonly connection: Connection,
    readonly maxConcurrent = 8,
  ) {}

  /**
   * `query()` under `key` (`<workflowId>` first, see `queryKey`): joins the same query in flight, or
   * sends it when a slot is free. `timeoutMs` shortens its wait; the caller's deadline still bounds it.
   * A query in flight that has nearly run out of time is not joined: a read that arrives fresh is
   * not failed by it.
   */
  read<T>(key: string, query: () => Promise<T>, opts: { timeoutMs?: number } = {}): Promise<T> {
    const outer = this.outerDeadline();
    const own = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    return this.readUntil(key, query, outer === undefined ? own : own === undefined ? outer : Math.min(outer, own));
  }

  private readUntil<T>(key: string, query: () => Promise<T>, deadline: number | undefined): Promise<T> {
    const joined = this.inFlight.get(key);
    const now = Date.now();
    const wanted = deadline === undefined ? JOIN_MIN_LEFT_MS : Math.min(deadline - now, JOIN_MIN_LEFT_MS);
    if (joined && (joined.deadline === undefined || joined.deadline - now >= wanted)) {
      this.stats.shared++;
      // The joined query had a shorter wait than this read (the /metrics scrape's 3 s, the fleet page's
      // 4 s): when it runs out, this read asks again with the time it has left.
      return (joined.promise as Promise<T>).catch((err: unknown) => {
        if (timedOut(err) && (deadline === undefined || deadline - Date.now() >= RETRY_MIN_LEFT_MS) && joined.deadline !== deadline)
          return this.readUntil(key, query, deadline);
        throw err;
      });
    }
    const sent = this.limited(() => (deadline === undefined ? query() : this.connection.withDeadline(deadline, query)));
    const entry: InFlight = {
      deadline,
      promise: sent.finally(() => {
        if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
      }),
    };
    this.inFlight.set(key, entry);
    return entry.promise as Promise<T>;
  }

  /** A later read of the workflow sends a query of its own (this process just signalled or updated it). */
  forget(workflowId: string): void {
    for (const key of this.inFlight.keys()) if (key.startsWith(`${workflowId}\u0000`)) this.inFlight.delete(key);
  }

  /** The deadline set by the caller (the API's per-request one), in ms since the epoch. */
  private outerDeadline(): number | undefined {
    const d = this.connection.callContextStorage.getStore()?.deadline;
    return d === undefined ? undefined : typeof d === 'number' ? d : d.getTime();
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxConcurrent) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    this.stats.sent++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.active);
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter (active stays the same), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** The key of a query: the workflow (and run), then the query's name. */
export function queryKey(workflowId: string, queryName: string, runId?: string): string {
  return `${workflowId}\u0000${runId ?? ''}\u0000${queryName}`;
}
