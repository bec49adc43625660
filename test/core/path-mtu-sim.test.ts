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

/** Time of the last path-MTU change of side a, and its final value, after `ms` of a bulk transfer. */
function converge(seed: number, linkMtu: number, loss: number, ceiling = 1452) {
  const pair = new Pair({ seed, link: { delay: ONE_WAY, mtu: linkMtu, loss }, config: { maxDatagramSize: ceiling } });
  bulk(pair, 200);
  let lastChange = 0;
  pair.runUntil(() => {
    for (const e of pair.sides[0].events) if (e.type === 'path-mtu') lastChange = pair.now;
    pair.sides[0].events.length = 0;
    return pair.now >= 40 * RTT;
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
