/**
 * The API's rate limits, on @fastify/rate-limit: the plugin keys requests (a token's name; a client
 * address, IPv6 grouped by /64) and asks a store how much budget a key has left. Its own store counts
 * in fixed windows, where a spent budget comes back whole when the window ends; the store here keeps a
 * token bucket per key instead (`burst` at once, refilled one token at a time at `perMinute`), so an
 * address that spent its guesses gets one more every so often, never a fresh burst.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

export interface RateLimitOptions {
  burst: number;
  perMinute: number;
}

/** A limiter from `app.createRateLimit(...)`. */
export type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

type StoreCallback = Parameters<FastifyRateLimitStore['incr']>[1];

/** The plugin's `max` and `timeWindow` for a bucket: `max` tokens, all refilled in `timeWindow` ms. */
export function bucketWindow(opts: RateLimitOptions): { max: number; timeWindow: number } {
  return { max: opts.burst, timeWindow: Math.round((opts.burst * 60_000) / opts.perMinute) };
}

/** Keys at most; past that, buckets that have refilled completely (they say nothing a new one would not) are dropped. */
const MAX_KEYS = 10_000;

/**
 * A token bucket per key, kept as the time at which the key's bucket is full again (GCRA): taking a
 * token moves it one refill interval (`timeWindow / max`) later, and a take that would move it more
 * than `timeWindow` past now is refused and takes nothing. `current` is the tokens in use (partial
 * ones count), so the plugin's `remaining` is the whole tokens left.
 */
class TokenBucketStore implements FastifyRateLimitStore {
  private readonly fullAt = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  incr(key: string, callback: StoreCallback, timeWindow: number, max: number): void {
    const now = this.now();
    const interval = timeWindow / max;
    const fullAt = Math.max(this.fullAt.get(key) ?? now, now);
    // A take is refused, taking nothing, until one token has come back.
    if (fullAt + interval - now > timeWindow + 1e-6) return callback(null, { current: max + 1, ttl: fullAt + interval - timeWindow - now });
    this.fullAt.set(key, fullAt + interval);
    if (this.fullAt.size > MAX_KEYS) this.forgetFull(now);
    callback(null, { current: inUse(fullAt + interval - now, interval), ttl: fullAt + interval - now });
  }

  /** The key's state without taking anything; `ttl` is how long until its bucket is full. */
  read(key: string, callback: StoreCallback, timeWindow: number, max: number): void {
    const untilFull = Math.max((this.fullAt.get(key) ?? 0) - this.now(), 0);
    callback(null, { current: Math.min(inUse(untilFull, timeWindow / max), max), ttl: untilFull });
  }

  /** Each limiter has buckets of its own (a token's name must not share a bucket with an address). */
  child(): FastifyRateLimitStore {
    return new TokenBucketStore(this.now);
  }

  private forgetFull(now: number): void {
    for (const [key, fullAt] of this.fullAt) if (fullAt <= now) this.fullAt.delete(key);
  }
}

function inUse(untilFull: number, interval: number): number {
  return Math.ceil(untilFull / interval - 1e-9);
}

/** The store class to register the plugin with; `now` is for tests that move the clock. */
export function tokenBucketStore(now: () => number = Date.now): FastifyRateLimitStoreCtor {
  return class extends TokenBucketStore {
    constructor() {
      super(now);
    }
  };
}

/**
 * Takes `cost` tokens (capped at the burst) from the request's bucket, all or none; when short,
 * how many seconds until there would be enough.
 */
export async function take(limit: Limiter, request: FastifyRequest, cost = 1): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
  const state = await limit(request, { increment: false });
  if (state.isAllowed) return { ok: true };
  const n = Math.min(Math.max(cost, 1), state.max);
  const interval = state.timeWindow / state.max;
  if (state.remaining < n) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((state.ttl + n * interval - state.timeWindow) / 1000)) };
  for (let i = 0; i < n; i++) {
    // Refused only when a concurrent request of the same key took tokens between the read and here.
    const taken = await limit(request);
    if (!taken.isAllowed && taken.isExceeded) return { ok: false, retryAfterSeconds: Math.max(1, taken.ttlInSeconds) };
  }
  return { ok: true };
}

/** Seconds until the request's bucket has a token, without taking one; 0 when it has one now. */
export async function waitFor(limit: Limiter, request: FastifyRequest): Promise<number> {
  const state = await limit(request, { increment: false });
  if (state.isAllowed || state.remaining > 0) return 0;
  return Math.max(1, Math.ceil((state.ttl + state.timeWindow / state.max - state.timeWindow) / 1000));
}
