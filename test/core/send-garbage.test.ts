import { describe, expect, it } from 'vitest';
import { DeliveryRate } from '../../src/core/delivery-rate.js';
import { RttEstimator } from '../../src/core/rtt.js';
import { bytesPerCall } from '../helpers/v8-natives.js';

/**
 * A bulk sender's garbage per datagram sets its scavenge count (issue 11: 6 per 100 MB, target
 * ≤ 4.4). Counted with V8's own young generation, on the optimised code: a number that TurboFan
 * has to box (a select between a double field and an argument it knows nothing of, a double
 * returned by a call it did not inline) is a 16-byte heap number per call.
 */

/** `xs` held in an array of objects (its elements kind made generic first): reading one allocates nothing. */
function tagged(xs: number[]): number[] {
  const out: unknown[] = ['not a number'];
  out.length = 0;
  for (const x of xs) out.push(x);
  return out as number[];
}

/** `n` fractional times (a real clock's), held as `tagged` holds them. */
function times(n: number): number[] {
  return tagged(Array.from({ length: n }, (_, i) => 1000.25 + i * 0.0137));
}

describe('the send path makes no garbage of its own per packet', () => {
  it('records the delivery-rate snapshot of a packet sent without a heap number', () => {
    const rate = new DeliveryRate();
    rate.onPacketSent(0.5, 0);
    const at = times(10_000);
    // One packet in 16 leaves with nothing in flight (a new flight: the snapshot takes its time).
    const inFlight = at.map((_, i) => (i % 16 === 0 ? 0 : 1200 * (i % 16)));
    const bytes = bytesPerCall(DeliveryRate.prototype.onPacketSent, (i) => rate.onPacketSent(at[i]!, inFlight[i]!));
    // The old selects (`idle ? now : this.firstSentTime`) made two heap numbers per call: 32 B.
    expect(bytes).toBeLessThan(1);
    expect(rate.firstSentTime).toBe(at[9984]);
  });

  it('updates the RTT estimate at an ACK without a heap number', () => {
    const rtt = new RttEstimator(100);
    rtt.update(0.75, 0);
    // (Held as `times` holds them: an array of doubles would box each one the driver reads.)
    const samples = tagged(times(10_000).map((t) => t - 1000));
    // ACK delays from 0 to ~0.5 ms: some adjusted samples fall below min RTT, some do not (both arms).
    const delays = tagged(times(10_000).map((t, i) => ((t - 1000) * (i % 3)) / 4));
    const bytes = bytesPerCall(RttEstimator.prototype.update, (i) => rtt.update(samples[i]!, delays[i]!));
    // Fields declared without a value are tagged (each computed double stored a new heap number,
    // `smoothed` and `variance`), and the select between `sample - ackDelay` and the argument
    // boxed a third: 48 B per call.
    expect(bytes).toBeLessThan(1);
    expect(rtt.latest).toBe(samples[9999]);
  });
});

