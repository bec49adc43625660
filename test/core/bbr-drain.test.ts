import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import { RttEstimator } from '../../src/core/rtt.js';
import type { AckEvent } from '../../src/core/types.js';

const MSS = 1452;

/**
 * A loopback-like path: 200 MB/s, a minimum RTT of 50 µs (a BDP of 10 KB, under one ACK), a
 * receiver that acknowledges 32 datagrams at a time, and `inFlight` bytes outstanding after
 * every ACK (the batches on their way). Returns the controller's mode and pacing rate per ACK.
 */
function run(acks: number, inFlight: number): { modes: string[]; pacing: number[]; btlBw: number } {
  const bbr = new Bbr(MSS, 100);
  const rtt = new RttEstimator(100);
  const rate = 200_000;
  const perAck = 32 * MSS;
  let now = 0;
  let delivered = 0;
  const modes: string[] = [];
  const pacing: number[] = [];
  for (let i = 0; i < acks; i++) {
    now += perAck / rate;
    const prior = delivered;
    delivered += perAck;
    rtt.update(0.05, 0);
    const ev: AckEvent = {
      now,
      ackedBytes: perAck,
      newestSentAt: now - 0.05,
      bytesInFlight: inFlight,
      delivered,
      priorDelivered: prior, // a round per ACK
      deliveryRate: rate,
      appLimited: false,
      rttSample: 0.05,
      rtt,
    };
    bbr.onAck(ev);
    modes.push(bbr.mode);
    pacing.push(bbr.pacingRate);
  }
  return { modes, pacing, btlBw: rate };
}

describe('BBR Drain on a path whose BDP is smaller than a batch (loopback, a LAN)', () => {
  it('ends once what is in flight is within the offload budget, not at the bare BDP', () => {
    // Two ACK batches in flight (93 KB) are nine BDPs here, but under three send quanta (1 ms
    // each at the bandwidth: 600 KB): the queue Startup built is gone; what is left is the
    // batches themselves.
    const { modes, pacing } = run(200, 2 * 32 * MSS);
    const startupEnd = modes.indexOf(modes.find((m) => m !== 'startup')!);
    expect(startupEnd).toBeGreaterThan(0);
    // Before: Drain never ended (the bare BDP, 10 KB, is never reached with a batch in flight),
    // pacing at 1/2.89 of the bandwidth for as long as the transfer lasted. Now the ACK that
    // ends Startup finds the queue gone and ProbeBW begins.
    expect(modes.filter((m) => m === 'drain').length).toBeLessThanOrEqual(1);
    expect(modes.at(-1)).toBe('probe-bw');
    expect(Math.min(...pacing.slice(startupEnd + 1))).toBeGreaterThan(0.7 * 200_000);
  });

  it('still waits while more than the budget is in flight (the queue is real)', () => {
    const { modes } = run(40, 1_000_000);
    expect(modes.at(-1)).toBe('drain');
  });
});
