/**
 * Throttling of failed logins with token buckets, keyed per user name and per client address
 * (IP, not port: ports are free to change). An attempt spends a token *before* its password is
 * checked (a reservation), and a successful one gets it back: so 30 guesses sent at once on 30
 * connections are 30 reservations against the same buckets, and only the first 5 are ever
 * verified. An empty bucket means RATE_LIMITED until it refills. A throttled user is delayed,
 * never locked out for good, so an attacker cannot lock someone out for longer than the refill
 * time. Buckets are pruned when full again, so memory stays bounded by recent failures.
 */
export interface BucketConfig {
  /** Failures allowed in a burst. */
  burst: number;
  /** Milliseconds to regain one token. */
  refillMs: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly config: BucketConfig, private readonly maxKeys = 100_000) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfter(key: string, now: number): number {
    const bucket = this.refill(key, now);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * this.config.refillMs);
  }

  /** Gives back one token spent by `spend` (a reserved attempt that succeeded). */
  refund(key: string, now: number): void {
    const bucket = this.refill(key, now);
    if (!bucket) return;
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + 1);
    if (bucket.tokens >= this.config.burst) this.buckets.delete(key);
  }

  /** Records one failure for `key`. */
  spend(key: string, now: number): void {
    let bucket = this.refill(key, now);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.pruneOldest();
      bucket = { tokens: this.config.burst, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }

  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, now: number): Bucket | undefined {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + elapsed / this.config.refillMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= this.config.burst) {
      this.buckets.delete(key);
      return undefined;
    }
    return bucket;
  }

  private pruneOldest(): void {
    const first = this.buckets.keys().next();
    if (!first.done) this.buckets.delete(first.value);
  }
}

export interface LoginThrottleConfig {
  perUser: BucketConfig;
  perAddress: BucketConfig;
}

/** Defaults: 5 failures per user then one try per minute; 20 per address then one per 6 s. */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleConfig = {
  perUser: { burst: 5, refillMs: 60_000 },
  perAddress: { burst: 20, refillMs: 6_000 },
};

export class LoginThrottle {
  private readonly users: TokenBuckets;
  private readonly addresses: TokenBuckets;

  constructor(config: LoginThrottleConfig = DEFAULT_LOGIN_THROTTLE) {
    this.users = new TokenBuckets(config.perUser);
    this.addresses = new TokenBuckets(config.perAddress);
  }

  retryAfter(user: string, address: string, now: number): number {
    return Math.max(this.users.retryAfter(user.toLowerCase(), now), this.addresses.retryAfter(address, now));
  }

  /**
   * Reserves one attempt for (user, address), synchronously, before any `await`: either the
   * milliseconds to wait (nothing reserved), or 0 and the attempt counts as a failure unless
   * `succeeded` gives it back.
   */
  reserve(user: string, address: string, now: number): number {
    const wait = this.retryAfter(user, address, now);
    if (wait > 0) return wait;
    this.users.spend(user.toLowerCase(), now);
    this.addresses.spend(address, now);
    return 0;
  }

  /** The reserved attempt was the right password: it does not count against either bucket. */
  succeeded(user: string, address: string, now: number): void {
    this.users.refund(user.toLowerCase(), now);
    this.addresses.refund(address, now);
  }
}
