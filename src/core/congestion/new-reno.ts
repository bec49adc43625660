import type { AckEvent, CongestionController } from '../types.js';
import { initialWindowFor, windowAfterSizeChange } from './initial-window.js';

/**
 * NewReno as RFC 9002 §7 specifies it (see also quinn-proto `congestion/new_reno.rs`):
 * slow start doubles the window each RTT, congestion avoidance adds one datagram per RTT,
 * a loss halves the window once per recovery period, and persistent congestion collapses it to
 * the minimum.
 */
export class NewReno implements CongestionController {
  readonly name = 'newreno';
  window: number;
  readonly pacingRate = Infinity;
  private ssthresh = Infinity;
  /** Packets sent before this instant belong to the current recovery period. */
  private recoveryStart = -Infinity;
  private minWindow: number;
  /** Set by the latest ACK or loss: inside the recovery period (for traces). */
  private inRecovery = false;

  constructor(private maxDatagramSize: number) {
    this.window = initialWindowFor(maxDatagramSize);
    this.minWindow = 2 * maxDatagramSize;
  }

  /** For traces (congestion_state_updated). */
  get state(): string {
    if (this.inRecovery) return 'recovery';
    return this.window < this.ssthresh ? 'slow_start' : 'congestion_avoidance';
  }

  onPacketSent(): void {}

  onMaxDatagramSizeChanged(size: number): void {
    // Nothing acknowledged or lost yet: the initial window in datagrams of the new size (§7.2).
    if (this.ssthresh === Infinity) this.window = windowAfterSizeChange(this.window, this.maxDatagramSize, size);
    this.maxDatagramSize = size;
    this.minWindow = 2 * size;
    this.window = Math.max(this.window, this.minWindow);
  }

  onAck(ack: AckEvent): void {
    // Do not grow during recovery, nor when the sender did not use the window it had (§7.8).
    this.inRecovery = ack.newestSentAt <= this.recoveryStart;
    if (this.inRecovery || ack.appLimited) return;
    if (this.window < this.ssthresh) {
      this.window += ack.ackedBytes;
    } else {
      this.window += (this.maxDatagramSize * ack.ackedBytes) / this.window;
    }
  }

  onCongestionEvent(now: number, lostSentAt: number, _lostBytes: number, persistent: boolean): void {
    if (persistent) {
      this.recoveryStart = now;
      this.inRecovery = true;
      this.ssthresh = Math.max(this.window / 2, this.minWindow);
      this.window = this.minWindow;
      return;
    }
    if (lostSentAt <= this.recoveryStart) return; // one reduction per round trip
    this.recoveryStart = now;
    this.inRecovery = true;
    this.ssthresh = Math.max(this.window / 2, this.minWindow);
    this.window = this.ssthresh;
  }
}
