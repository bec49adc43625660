import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import { RttEstimator } from '../../src/core/rtt.js';
import type { AckEvent } from '../../src/core/types.js';

const MSS = 1452;

/**
 * Feeds `acks` ACKs of `perAck` bytes each, spaced so that the delivery rate is `rate`
 * bytes/ms, with RTT samples of `rtt` ms; returns the controller's window after them.
 */
function windowAfter(rate: number, rtt: number, perAck: number, acks: number): number {
  const bbr = new Bbr(MSS, 100);
  const est = new RttEstimator(100);
  let now = 0;
  let delivered = 0;
  const interval = perAck / rate;
  for (let i = 0; i < acks; i++) {
    now += interval;
    const prior = delivered;
    delivered += perAck;
    est.update(rtt, 0);
    const ev: AckEvent = {
      now,
      ackedBytes: perAck,
      newestSentAt: now - rtt,
      bytesInFlight: 0, // the sender refills at once: Drain ends, ProbeBW cycles
      delivered,
      // The newest acknowledged packet left one ACK interval ago: a round per ACK.
      priorDelivered: prior,
      deliveryRate: rate,
      appLimited: false,
      rttSample: rtt,
      rtt: est,
    };
    bbr.onAck(ev);
  }
  return bbr.window;
}

describe('BBR window: the send quantum (offload budget) beyond the model', () => {
  it('at 100 MB/s and a 20 µs minimum RTT it keeps three 1 ms send quanta, not three datagrams', () => {
    // The BDP is 2 KB: a window of BDP · gain + 3 datagrams would hold one ACK batch at most,
    // and the two ends would take turns instead of working at once (loopback, LAN).
    const w = windowAfter(100_000, 0.02, 16 * MSS, 400);
    // Three quanta of 1 ms at the bandwidth estimate (0.99 × btlBw, whole datagrams).
    expect(w).toBeGreaterThanOrEqual(3 * 0.99 * 100_000 - 3 * MSS);
    expect(w).toBeLessThan(3 * 100_000 + 64 * MSS);
  });

  it('at loopback rates (400 MB/s) the quantum is a whole millisecond, not a 64 KB GSO segment', () => {
    // The sender's pacer never waits less than 1 ms (the timer granularity), so a millisecond
    // of data leaves together: a window of three 64 KB quanta (192 KB, half a millisecond here)
    // left the receiver idle whenever the sender was away for longer than that.
    const w = windowAfter(400_000, 0.05, 32 * MSS, 400);
    expect(w).toBeGreaterThanOrEqual(3 * 0.99 * 400_000 - 3 * MSS);
    expect(w).toBeLessThan(3 * 400_000 + 64 * MSS);
  });

  it('below two datagrams per millisecond the quantum is one datagram (the v1 window, unchanged)', () => {
    // 1 KB/ms at 40 ms: the BDP is 40 KB; the window stays BDP · gain plus three datagrams.
    const w = windowAfter(1_000, 40, 2 * MSS, 400);
    // At least the ProbeBW model (2 · BDP + three datagrams), at most Startup's gain on it.
    expect(w).toBeGreaterThanOrEqual(2 * 1_000 * 40 + 3 * MSS);
    expect(w).toBeLessThan(2.9 * 1_000 * 40 + 3 * MSS + 4 * MSS);
  });
});
