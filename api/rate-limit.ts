/** A token bucket per key (a token's name, a client address): `burst` at once, refilled at `perMinute`. */
export interface RateLimitOptions {
  burst: number;
  perMinute: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` has a whole token again, without taking one; 0 when it has one now. */
  waitFor(key: string): number {
    if (!this.buckets.has(key)) return 0;
    const bucket = this.refill(key);
    return bucket.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / (this.opts.perMinute / 60_000) / 1000));
  }

  /** Takes `cost` (capped at the burst) from `key`'s bucket; when short, how many seconds until it would succeed. */
  take(key: string, cost = 1): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const n = Math.min(Math.max(cost, 1), this.opts.burst);
    const perMs = this.opts.perMinute / 60_000;
    const bucket = this.refill(key);
    if (bucket.tokens >= n) {
      bucket.tokens -= n;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((n - bucket.tokens) / perMs / 1000)) };
  }

  private refill(key: string): { tokens: number; at: number } {
    const now = this.now();
    // Full buckets say nothing a new one would not: drop them when many keys have been seen.
    if (this.buckets.size > 10_000) for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * (this.opts.perMinute / 60_000) >= this.opts.burst) this.buckets.delete(k);
    const bucket = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now };
    bucket.tokens = Math.min(this.opts.burst, bucket.tokens + (now - bucket.at) * (this.opts.perMinute / 60_000));
    bucket.at = now;
    this.buckets.set(key, bucket);
    return bucket;
  }
}
