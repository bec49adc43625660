/** At most this many addresses are remembered for stateless-reset rate limiting. */
const RESET_LIMITER_CAPACITY = 4096;

/**
 * The rate limit on the stateless resets an endpoint sends (endpoint-routing.ts
 * `maybeStatelessReset`, docs/protocol.md §11): at most one per `interval` ms per remote
 * address, remembering at most `RESET_LIMITER_CAPACITY` addresses; a flood from more addresses
 * than that is not answered.
 */
export class ResetLimiter {
  /** Remote address → time of the last stateless reset sent there (insertion order: oldest first). */
  private readonly lastResetTo = new Map<string, number>();

  /** May a stateless reset go to `address` now? True: it is counted as sent at `now`. */
  allow(now: number, address: string, interval: number): boolean {
    const last = this.lastResetTo.get(address);
    if (last !== undefined && now - last < interval) return false;
    if (last === undefined && this.lastResetTo.size >= RESET_LIMITER_CAPACITY) {
      for (const [a, t] of this.lastResetTo) {
        if (now - t >= interval) this.lastResetTo.delete(a);
      }
      // Still full: a flood from many addresses; stay silent rather than remember more.
      if (this.lastResetTo.size >= RESET_LIMITER_CAPACITY) return false;
    }
    this.lastResetTo.delete(address);
    this.lastResetTo.set(address, now);
    return true;
  }
}
