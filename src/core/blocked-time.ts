/**
 * Why the sender is not sending new data right now, and for how long it has been so: the
 * "stats that explain slowness" (msquic's time blocked per cause). The connection states the
 * cause after every `pollTransmit` (the last call after an input decides until the next input),
 * and time accumulates per cause between changes. Counting only; nothing here decides anything.
 *
 * A flush has one `now`, but sending a window takes time: the sender that stops sending data at
 * a flush's `now` really stops when its last datagram has left. A shell with a real clock says
 * when that was (`sentUntil`, through EndpointCore.flushed), and the time between counts as
 * sending, not as the cause it then met. On a virtual clock the two are the same instant.
 *
 * There is no anti-amplification cause: the cookie handshake validates the peer's address before
 * a connection exists (docs/protocol.md "Handshake"), so no connection is ever limited by it.
 */
import { doubles } from './mutable-fields.js';
export const SendBlock = {
  /** Sending (or allowed to send) data. */
  None: 0,
  /** Bytes in flight fill the congestion window. */
  CongestionWindow: 1,
  /** The pacer holds the next packet back. */
  Pacing: 2,
  /** Reliable data waits for the peer's flow-control credit. */
  FlowControl: 3,
  /** Nothing queued: the application is not sending (app-limited). */
  Application: 4,
} as const;

export type SendBlock = (typeof SendBlock)[keyof typeof SendBlock];

/** Milliseconds per cause, the shape `stats()` reports. */
export interface BlockedTimes {
  /** Time the congestion window was full while data waited, ms. */
  timeBlockedByCongestion: number;
  /** Time the pacer held data back, ms. */
  timeBlockedByPacing: number;
  /** Time data waited for the peer's flow-control window, ms. */
  timeBlockedByFlowControl: number;
  /** Time the application had nothing to send (app-limited), ms. */
  timeAppLimited: number;
}

export class BlockedTime {
  private cause: SendBlock = SendBlock.Application;
  private since: number;
  private readonly totals = doubles(5);
  /** The `now` at which the sender last stopped sending data (its cause left None), until `sentUntil` settles it; else -1. */
  private stoppedAt = -1;
  /** Stopped by `stop()`: the totals are final. */
  stopped = false;

  constructor(now: number) {
    this.since = now;
  }

  /** The sender's state from `now` on. */
  set(now: number, cause: SendBlock): void {
    if (cause === this.cause || this.stopped) return;
    // Never before the end of the sending `sentUntil` counted (a shell's clock is monotonic).
    if (now < this.since) now = this.since;
    this.totals[this.cause]! += now - this.since;
    this.stoppedAt = this.cause === SendBlock.None ? now : -1;
    this.cause = cause;
    this.since = now;
  }

  /** Did the sender stop sending data at `now` (and is that not settled yet)? */
  stoppedSendingAt(now: number): boolean {
    return this.stoppedAt === now;
  }

  /**
   * The sender that stopped sending data at `flushNow` (the flush's one reading of the clock)
   * sent its last datagram by `end`: the time between was sending, not the cause it met after.
   */
  sentUntil(flushNow: number, end: number): void {
    if (this.stoppedAt !== flushNow) return;
    this.stoppedAt = -1;
    if (end > this.since) {
      this.totals[SendBlock.None]! += end - this.since;
      this.since = end;
    }
  }

  /** The connection is done sending (closed or draining): stop the clock. */
  stop(now: number): void {
    this.set(now, SendBlock.None);
    this.stopped = true;
  }

  /** Totals up to `now` (the current cause counted until then; without `now`, until its last change). */
  read(now?: number): BlockedTimes {
    const t = this.totals.slice();
    if (now !== undefined && !this.stopped && now > this.since) t[this.cause]! += now - this.since;
    return {
      timeBlockedByCongestion: t[SendBlock.CongestionWindow]!,
      timeBlockedByPacing: t[SendBlock.Pacing]!,
      timeBlockedByFlowControl: t[SendBlock.FlowControl]!,
      timeAppLimited: t[SendBlock.Application]!,
    };
  }
}
