import { describe, expect, it } from 'vitest';
import { SEARCH_STEP } from '../../src/core/path-mtu.js';
import { Pair } from '../helpers/pair.js';

/**
 * Path-MTU discovery end to end, in virtual time: two engines over links that silently drop
 * datagrams above their MTU (the test kit's `mtu` impairment), during a bulk transfer.
 */

const ONE_WAY = 10; // ms: an RTT of 20 ms (plus delayed ACKs)
const RTT = 2 * ONE_WAY;

function bulk(pair: Pair, messages: number, size = 64 * 1024): void {
  const chunk = new Uint8Array(size);
  for (let i = 0; i < messages; i++) pair.a.send(chunk);
}

/** Time of the last path-MTU change of side a, and its value, after 12 RTTs of a bulk transfer. */
function converge(seed: number, linkMtu: number, loss: number, ceiling = 1452) {
  const pair = new Pair({ seed, link: { delay: ONE_WAY, mtu: linkMtu, loss }, config: { maxDatagramSize: ceiling } });
  bulk(pair, 200);
  let lastChange = 0;
  pair.runUntil(() => {
    for (const e of pair.sides[0].events) if (e.type === 'path-mtu') lastChange = pair.now;
    pair.sides[0].events.length = 0;
    return pair.now >= 12 * RTT;
  });
  const stats = pair.a.stats();
  return { lastChange, mtu: stats.pathMtu, stats, pair };
}

describe('path-MTU discovery over an MTU-limited link', () => {
  const cases: [link: number, ceiling: number][] = [
    [1280, 1452],
    [1400, 1452],
    [1452, 1452],
    [9000, 1452],
    [9000, 9000],
  ];
  for (const loss of [0, 0.05]) {
    for (const [link, ceiling] of cases) {
      it(`${link}-byte link, ceiling ${ceiling}, ${loss * 100} % loss: the largest passing size within ${SEARCH_STEP} bytes in ≤ 10 RTTs`, () => {
        for (let seed = 1; seed <= 5; seed++) {
          const { lastChange, mtu, stats } = converge(seed, link, loss, ceiling);
          const best = Math.min(link, ceiling);
          expect(mtu, `seed ${seed}`).toBeLessThanOrEqual(best);
          expect(best - mtu, `seed ${seed}`).toBeLessThan(SEARCH_STEP);
          expect(lastChange, `seed ${seed}`).toBeLessThanOrEqual(10 * RTT);
          // Probe losses are not congestion losses, and never a black hole.
          expect(stats.blackHolesDetected).toBe(0);
          if (loss === 0) expect(stats.packetsLost, `seed ${seed}`).toBe(0);
        }
      });
    }
  }

  it('a ceiling of 1,200 disables discovery: no probe is sent', () => {
    const { stats } = converge(1, 9000, 0, 1200);
    expect(stats.pathMtu).toBe(1200);
    expect(stats.mtuProbesSent).toBe(0);
  });

  it('probes up to the smaller of our ceiling and the peer announced size', () => {
    const pair = new Pair({ seed: 3, link: { delay: ONE_WAY }, config: { maxDatagramSize: 9000 }, configB: { maxDatagramSize: 1452 } });
    // makeCores announces config.maxDatagramSize for both sides: 9000; side b's own ceiling is 1452.
    bulk(pair, 50);
    pair.b.send(new Uint8Array(200_000));
    pair.runUntil(() => pair.now >= 20 * RTT);
    expect(pair.a.stats().pathMtu).toBe(9000);
    expect(pair.b.stats().pathMtu).toBe(1452);
  });
});

describe('a path MTU that shrinks mid-transfer (a black hole for large packets)', () => {
  /** 16 MiB in 16 KiB messages (about 250 ms); at 100 ms the forward link's MTU drops to `to` bytes. */
  function shrink(seed: number, to: number, loss = 0) {
    const link = { delay: ONE_WAY, loss };
    const pair = new Pair({ seed, link, config: { maxDatagramSize: 1452 } });
    const total = 16 * 1024 * 1024;
    const message = new Uint8Array(16 * 1024).map((_, i) => (i * 7 + seed) & 0xff);
    for (let i = 0; i < total / message.length; i++) pair.a.send(message);
    let pto = 0;
    let lastDelivery = 0;
    let delivered = 0;
    let maxStall = 0;
    const changes: string[] = [];
    pair.runUntil(() => {
      if (pair.now >= 100 && pair.links[0].impairment.mtu === undefined) {
        pto = pair.a.stats().pto;
        pair.links[0].configure({ ...link, mtu: to });
      }
      for (const e of pair.sides[0].events) if (e.type === 'path-mtu') changes.push(`${e.size}:${e.reason}`);
      pair.sides[0].events.length = 0;
      const d = pair.sides[1].deliveredBytes;
      if (d > delivered) {
        if (pair.now > 100) maxStall = Math.max(maxStall, pair.now - Math.max(lastDelivery, 100));
        delivered = d;
        lastDelivery = pair.now;
      }
      return d >= total;
    }, 60_000);
    // Every byte arrived, intact and in order.
    const received = pair.sides[1].received;
    expect(received.length).toBe(total / message.length);
    expect(received.every((m) => Buffer.compare(m, message) === 0)).toBe(true);
    return { pair, pto, maxStall, changes };
  }

  for (const to of [1280, 1200]) {
    it(`1452 → ${to} bytes: falls back to 1,200 and delivers everything, with no stall longer than 3 PTOs`, () => {
      for (let seed = 1; seed <= 4; seed++) {
        const { pair, pto, maxStall, changes } = shrink(seed, to);
        expect(changes[0], `seed ${seed}`).toBe('1452:probe');
        expect(changes).toContain('1200:black-hole');
        expect(pair.a.stats().blackHolesDetected).toBe(1);
        expect(pto).toBeGreaterThan(0);
        expect(maxStall, `seed ${seed}: stall of ${maxStall} ms, PTO ${pto} ms`).toBeLessThanOrEqual(3 * pto);
      }
    });
  }

  it('searches again after the black hole and finds the new, smaller MTU', () => {
    const { pair } = shrink(7, 1280);
    pair.runUntil(() => pair.now >= 3000);
    const mtu = pair.a.stats().pathMtu;
    expect(mtu).toBeLessThanOrEqual(1280);
    expect(1280 - mtu).toBeLessThan(SEARCH_STEP);
  });

  it('with 5 % random loss on top, still recovers and delivers everything', () => {
    const { pair } = shrink(11, 1280, 0.05);
    expect(pair.a.stats().blackHolesDetected).toBeGreaterThanOrEqual(1);
  });
});

describe('no false black holes', () => {
  it('never declares one under 10 % random loss (100 seeded bulk transfers)', () => {
    let largeLost = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const pair = new Pair({ seed, link: { delay: ONE_WAY, loss: 0.1 }, config: { maxDatagramSize: 1452 } });
      const total = 1024 * 1024;
      for (let i = 0; i < total / 16384; i++) pair.a.send(new Uint8Array(16384));
      pair.runUntil(() => pair.sides[1].deliveredBytes >= total, 60_000);
      const stats = pair.a.stats();
      expect(stats.pathMtu, `seed ${seed}`).toBe(1452);
      expect(stats.blackHolesDetected, `seed ${seed}`).toBe(0);
      largeLost += stats.packetsLost;
    }
    // The runs did lose plenty of full-size packets.
    expect(largeLost).toBeGreaterThan(5000);
  });
});
