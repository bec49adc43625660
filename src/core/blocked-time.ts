/**
 * Why the sender is not sending new data right now, and for how long it has been so: the
 * "stats that explain slowness" (msquic's time blocked per cause). The connection states the
 * cause after every `pollTransmit` (the last call after an input decides until the next input),
 * and time accumulates per cause between changes. Counting only; nothing here decides anything.
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
  /** Stopped by `stop()`: the totals are final. */
  stopped = false;

  constructor(now: number) {
    this.since = now;
  }

  /** The sender's state from `now` on. */
  set(now: number, cause: SendBlock): void {
    if (cause === this.cause || this.stopped) return;
    this.totals[this.cause]! += now - this.since;
    this.cause = cause;
    this.since = now;
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
