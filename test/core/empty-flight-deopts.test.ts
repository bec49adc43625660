import { describe, expect, it } from 'vitest';
import { DeliveryRate } from '../../src/core/delivery-rate.js';
import { newSentPacket, PacketState, SentPackets } from '../../src/core/sent-packets.js';
import { staysOptimized } from '../helpers/v8-natives.js';

/**
 * A bulk sender's whole flight acknowledged in the middle of a transfer (the application late
 * with its next write: nothing outstanding for a moment) reached code that had never run since
 * start-up: the sent history's storage release in `trim` (a size comparison without type
 * feedback) and the delivery-rate sampler's restart of the flight's clocks (two stores without
 * feedback). Each deoptimised the compiled ACK path or the packet's record where it is inlined
 * (`LossRecovery.onAck`, `newRecord`: the largest jobs of the sender, compiled again), in 2 of 6
 * 100 MB runs (`bench/warmup-bulk.ts --v8 --trace-deopt-verbose`, issue 11). Checked with V8's
 * own view: compiled with a flight always outstanding, then emptied, still optimised.
 */

describe('a flight fully acknowledged after warm-up', () => {
  it('does not deoptimise the sent history trim that gives its grown storage back', () => {
    const history = new SentPackets(0);
    let pn = 0;
    const send = (): void => {
      const p = newSentPacket();
      p.pn = pn;
      p.state = PacketState.Outstanding;
      history.push(pn++, p);
    };
    // A flight of 100 (storage grown past 64), one packet acknowledged and one sent per round.
    for (let i = 0; i < 100; i++) send();
    const steady = (): void => {
      history.markDone(history.get(history.first)!, PacketState.Acked);
      send();
      history.trim();
    };
    const empty = (): void => {
      for (let q = history.first; q < history.end; q++) {
        const p = history.get(q);
        if (p !== null && p.state === PacketState.Outstanding) history.markDone(p, PacketState.Acked);
      }
      history.trim();
    };
    expect(staysOptimized(SentPackets.prototype.trim, steady, empty)).toBe(true);
    // And it did give the storage back.
    expect(history.allocated).toBe(0);
  });

  it('does not deoptimise the delivery-rate sampler when a packet leaves with nothing in flight', () => {
    const rate = new DeliveryRate();
    let now = 0.25;
    const steady = (): void => rate.onPacketSent((now += 0.5), 14_000);
    const fromIdle = (): void => rate.onPacketSent((now += 0.5), 0);
    // The connection's first packet left with nothing in flight too (the clocks hold a fraction).
    fromIdle();
    expect(staysOptimized(DeliveryRate.prototype.onPacketSent, steady, fromIdle)).toBe(true);
    expect(rate.firstSentTime).toBe(now);
    expect(rate.deliveredTime).toBe(now);
  });
});
