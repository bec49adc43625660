import type { RttView } from './types.js';

/** Timer granularity assumed by RFC 9002 (kGranularity), ms. */
export const GRANULARITY = 1;

/**
 * RTT estimation exactly as RFC 9002 §5: min RTT over the connection, an exponentially weighted
 * smoothed RTT (α = 1/8) and mean deviation (β = 1/4), with the peer's ACK delay subtracted when
 * that does not take the sample below min RTT.
 */
export class RttEstimator implements RttView {
  // Declared with a fraction, so V8 gives these fields a double representation from the start.
  // Declared without a value they start as undefined (a tagged field), and every fraction an ACK
  // stored in them was a new heap number, two or three per ACK; unpinDoubles after the fact
  // cannot change that (test/core/send-garbage.test.ts: 32 B per update with it, 0 with this).
  smoothed = 0.5;
  variance = 0.5;
  min = Infinity;
  latest = 0.5;
  hasSample = false;

  constructor(initialRtt: number) {
    this.smoothed = initialRtt;
    this.variance = initialRtt / 2;
    this.latest = 0;
  }

  /** Forget every sample: a new path (RFC 9000 §9.4), whose RTT is not the old one's. */
  reset(initialRtt: number): void {
    this.smoothed = initialRtt;
    this.variance = initialRtt / 2;
    this.min = Infinity;
    this.latest = 0;
    this.hasSample = false;
  }

  update(sample: number, ackDelay: number): void {
    this.latest = sample;
    if (!this.hasSample) {
      this.hasSample = true;
      this.min = sample;
      this.smoothed = sample;
      this.variance = sample / 2;
      return;
    }
    this.min = Math.min(this.min, sample);
    // `+sample`: both arms a float64, so the select boxes no heap number for the argument's arm.
    const adjusted = sample - ackDelay >= this.min ? sample - ackDelay : +sample;
    this.variance = 0.75 * this.variance + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /** Probe timeout before backoff (RFC 9002 §6.2.1), with a configurable floor. */
  pto(maxAckDelay: number, minPto: number): number {
    return Math.max(this.smoothed + Math.max(4 * this.variance, GRANULARITY) + maxAckDelay, minPto);
  }
}
