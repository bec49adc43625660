import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import { NewReno } from '../../src/core/congestion/new-reno.js';
import { RttEstimator } from '../../src/core/rtt.js';
import type { AckEvent, CongestionController } from '../../src/core/types.js';
import { Pair } from '../helpers/pair.js';

/** One ACK of `bytes`, 20 ms after they left, at `now`. */
function ack(now: number, bytes: number, delivered: number): AckEvent {
  const rtt = new RttEstimator(100);
  rtt.update(20, 0);
  return {
    now,
    ackedBytes: bytes,
    newestSentAt: now - 20,
    bytesInFlight: 0,
    delivered,
    priorDelivered: 0,
    deliveryRate: bytes / 20,
    appLimited: false,
    rttSample: 20,
    rtt,
  };
}

describe('initial window after a datagram-size change (RFC 9002 §7.2)', () => {
  const controllers: [string, () => CongestionController][] = [
    ['bbr', () => new Bbr(1200, 100)],
    ['newreno', () => new NewReno(1200)],
  ];
  for (const [name, make] of controllers) {
    it(`${name}: a window that has not moved becomes ten datagrams of the new size`, () => {
      const cc = make();
      expect(cc.window).toBe(12_000);
      cc.onMaxDatagramSizeChanged!(1452);
      expect(cc.window).toBe(14_520);
      // Back down (a black hole) before anything was acknowledged: the smaller initial window.
      cc.onMaxDatagramSizeChanged!(1200);
      expect(cc.window).toBe(12_000);
    });

    it(`${name}: a window that moved keeps its bytes`, () => {
      const cc = make();
      cc.onAck(ack(20, 6_000, 6_000));
      const grown = cc.window;
      expect(grown).toBe(18_000);
      cc.onMaxDatagramSizeChanged!(1452);
      expect(cc.window).toBe(grown);
    });
  }

  it('the first round trip after path-MTU discovery moved up starts from 14,520 bytes, not 12,000', () => {
    // 1,452-byte ceilings on both sides: the first probe is acknowledged by the first ACK.
    const pair = new Pair({ seed: 4, link: { delay: 10 }, config: { maxDatagramSize: 1452, idleTimeout: 0, keepAliveInterval: 0 } });
    pair.keepMessages = false;
    pair.a.send(new Uint8Array(1_000_000));
    let firstAckAt = -1;
    let windowThen = 0;
    let ackedThen = 0;
    pair.runUntil(() => {
      const s = pair.a.stats(pair.now);
      if (firstAckAt < 0 && s.srtt !== 100) {
        firstAckAt = pair.now;
        windowThen = s.cwnd;
        ackedThen = s.bytesSent - s.bytesInFlight;
      }
      return firstAckAt >= 0;
    }, 1_000);
    expect(pair.a.pathMtu).toBe(1452);
    // Startup adds what was acknowledged to the initial window: 14,520 + acked (old: 12,000 + acked).
    expect(ackedThen).toBeGreaterThan(0);
    expect(windowThen).toBeGreaterThanOrEqual(14_520 + ackedThen - 2 * 1452);
    expect(windowThen).toBeGreaterThan(12_000 + ackedThen);
  });
});
