/**
 * Token-bucket pacer (RFC 9002 §7.7): spreads a congestion window over the RTT instead of
 * sending it as one burst. The bucket refills at `rate` bytes/ms and holds at most `capacity`
 * bytes, so short idle periods do not turn into line-rate bursts.
 *
 * Two rules for timers that are not exact:
 *
 *  - A wait is never shorter than the timer granularity (`CoreConfig.timerGranularity`; quic-go's
 *    MinPacingDelay of 1 ms): a shorter deadline can only be met by waking on every event-loop
 *    turn, which spins the CPU until it is due (at 10 MB/s a datagram is due every 0.15 ms, so
 *    a paced Node sender did little else, on a core the receiver or a proxy needed). What
 *    accrues meanwhile leaves together, at most a granule's worth.
 *  - A wake-up that comes late (a busy event loop, a descheduled process; and every wait
 *    lengthened by the rule above) makes up for the lost time, as Chromium's PacingSender does:
 *    the tokens accrued since the deadline the packet needed are kept beyond the capacity,
 *    until the sender catches up or stops being limited by the pacer (`forfeit`). Capping them
 *    would turn every late timer into lost rate, and BBR would take the sender's own lateness
 *    for the path's bandwidth (its Startup ending at the rate a starved sender reached).
 *
 * With exact timers (granularity 0, as in virtual time) both rules are inert: every wait is
 * the exact one and every wake-up is on time.
 */
/** A module constant, not the global `Infinity`: `forfeit` loads it without a feedback site. */
const NEVER = Infinity;

export class Pacer {
  private tokens = 0;
  private updatedAt = -Infinity;
  /** When the packet the pacer holds back has its tokens (Infinity: nothing held back). */
  private dueAt = Infinity;

  /**
   * Milliseconds to wait before `bytes` may be sent (0: now), at least `granularity` when not
   * 0. Refills the bucket first. `rate` in bytes/ms; Infinity disables pacing.
   */
  delay(now: number, bytes: number, rate: number, capacity: number, granularity = 0): number {
    if (rate === Infinity) return 0;
    if (this.updatedAt === -Infinity) this.tokens = capacity;
    else {
      const owed = now > this.dueAt ? (now - this.dueAt) * rate : 0;
      const refilled = this.tokens + (now - this.updatedAt) * rate;
      this.tokens = Math.max(this.tokens, Math.min(capacity + owed, refilled));
    }
    this.updatedAt = now;
    // Half a byte of slack: floating-point refills must not leave a wait of 1e-15 ms, which
    // would re-arm a timer at the current instant forever.
    if (this.tokens + 0.5 >= bytes) {
      this.dueAt = Infinity;
      return 0;
    }
    const wait = (bytes - this.tokens) / rate;
    this.dueAt = now + wait;
    return Math.max(wait, granularity);
  }

  consume(bytes: number): void {
    this.tokens -= bytes;
  }

  /**
   * `lapses`: the sender is not limited by the pacer (the window is full, or nothing is
   * queued), so what late wake-ups were owed lapses, and the bucket holds its capacity at most
   * again. Asked on every send decision, both stores made every time (the old values kept when
   * it does not lapse): a store first reached after warm-up (the queue run dry) would deoptimise
   * the compiled `nextDatagram` this is inlined into (LossRecovery.sendBlock).
   */
  forfeit(capacity: number, lapses: boolean): void {
    const tokens = Math.min(this.tokens, capacity);
    this.dueAt = lapses ? NEVER : this.dueAt;
    this.tokens = lapses ? tokens : this.tokens;
  }
}
