/** A token bucket per key (a token's name): `burst` at once, refilled at `perMinute`. */
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

  /** Takes `cost` (capped at the burst) from `key`'s bucket; when short, how many seconds until it would succeed. */
  take(key: string, cost = 1): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const n = Math.min(Math.max(cost, 1), this.opts.burst);
    const now = this.now();
    const perMs = this.opts.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now };
    bucket.tokens = Math.min(this.opts.burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= n) {
      bucket.tokens -= n;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((n - bucket.tokens) / perMs / 1000)) };
  }
}
