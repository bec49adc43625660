import type { AckEvent, CongestionController } from '../types.js';

/**
 * LEDBAT, a "scavenger" controller for background transfers (RFC 6817): it aims to add at most
 * `target` milliseconds of queueing delay, so that it backs off as soon as any other traffic
 * builds a queue, and uses the link fully when nobody else does.
 *
 * Adaptation: RFC 6817 measures one-way delay with timestamps; this version estimates the
 * queueing delay from RTTs (latest minus base), as rLEDBAT and LEDBAT++ do, since our wire format
 * carries no timestamps. The base delay is the minimum RTT; the current delay is the minimum of
 * the last few samples, which filters out single delayed ACKs.
 */
const DEFAULT_TARGET = 25; // ms; RFC 6817 allows up to 100 ms, but our queues are often shallower
const GAIN = 1;
const CURRENT_FILTER = 4;

export class Ledbat implements CongestionController {
  readonly name = 'ledbat';
  readonly pacingRate = Infinity;
  window: number;
  private mss: number;
  private minWindow: number;
  private readonly samples = new Float64Array(CURRENT_FILTER).fill(Infinity);
  private sampleIndex = 0;
  private base = Infinity;
  private slowStart = true;
  private lastDecrease = -Infinity;

  constructor(
    maxDatagramSize: number,
    private readonly target = DEFAULT_TARGET,
  ) {
    this.mss = maxDatagramSize;
    this.minWindow = 2 * maxDatagramSize;
    this.window = 2 * maxDatagramSize;
  }

  /** For traces (congestion_state_updated). */
  get state(): string {
    return this.slowStart ? 'slow_start' : 'congestion_avoidance';
  }

  /** Estimated queueing delay, ms. */
  get queueingDelay(): number {
    let current = Infinity;
    const samples = this.samples;
    for (let i = 0; i < samples.length; i++) if (samples[i]! < current) current = samples[i]!;
    return current === Infinity ? 0 : Math.max(0, current - this.base);
  }

  onPacketSent(): void {}

  onMaxDatagramSizeChanged(size: number): void {
    this.mss = size;
    this.minWindow = 2 * size;
    this.window = Math.max(this.window, this.minWindow);
  }

  onAck(ack: AckEvent): void {
    if (ack.rttSample > 0) {
      this.base = Math.min(this.base, ack.rttSample);
      this.samples[this.sampleIndex] = ack.rttSample;
      this.sampleIndex = (this.sampleIndex + 1) % CURRENT_FILTER;
    }
    const delay = this.queueingDelay;
    if (this.slowStart) {
      // Grow like slow start only while the queue stays well under target.
      if (delay < this.target / 2) {
        this.window += ack.ackedBytes;
        return;
      }
      this.slowStart = false;
    }
    const offTarget = (this.target - delay) / this.target;
    const change = (GAIN * offTarget * ack.ackedBytes * this.mss) / this.window;
    // Never grow faster than one datagram per acknowledged datagram, never shrink below minimum.
    this.window = Math.max(this.minWindow, this.window + Math.min(change, ack.ackedBytes));
    // RFC 6817 §2.4.2: do not grow beyond what is actually in flight plus a little.
    if (ack.appLimited) this.window = Math.min(this.window, ack.bytesInFlight + ack.ackedBytes + 2 * this.mss);
  }

  onCongestionEvent(now: number, lostSentAt: number, _lostBytes: number, persistent: boolean): void {
    this.slowStart = false;
    if (persistent) {
      this.window = this.minWindow;
      return;
    }
    // Halve at most once per round trip of losses (the lost packets were sent after the last cut).
    if (lostSentAt <= this.lastDecrease) return;
    this.lastDecrease = now;
    this.window = Math.max(this.minWindow, this.window / 2);
  }
}
