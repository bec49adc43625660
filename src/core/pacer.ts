/**
 * Token-bucket pacer (RFC 9002 §7.7): spreads a congestion window over the RTT instead of
 * sending it as one burst. The bucket refills at `rate` bytes/ms and holds at most `capacity`
 * bytes, so short idle periods do not turn into line-rate bursts.
 */
export class Pacer {
  private tokens = 0;
  private updatedAt = -Infinity;

  /**
   * Milliseconds to wait before `bytes` may be sent (0: now). Refills the bucket first.
   * `rate` in bytes/ms; Infinity disables pacing.
   */
  delay(now: number, bytes: number, rate: number, capacity: number): number {
    if (rate === Infinity) return 0;
    if (this.updatedAt === -Infinity) this.tokens = capacity;
    else this.tokens = Math.min(capacity, this.tokens + (now - this.updatedAt) * rate);
    this.updatedAt = now;
    // Half a byte of slack: floating-point refills must not leave a wait of 1e-15 ms, which
    // would re-arm a timer at the current instant forever.
    if (this.tokens + 0.5 >= bytes) return 0;
    return (bytes - this.tokens) / rate;
  }

  consume(bytes: number): void {
    this.tokens -= bytes;
  }
}
