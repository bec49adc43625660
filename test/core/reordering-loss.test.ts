import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';

const MB = 1e6;

/**
 * 10 MB one way over 10 ms each way at 60 MB/s; `reorder` of the datagrams are held back
 * `reorderDelay` ms (later ones overtake them: what the impairment proxy does to a burst when
 * it is starved of a core, issue 11), `loss` both ways. Returns the receiver's duplicates (each
 * a retransmission of a packet that had arrived: a spurious loss) and whether the sender
 * stopped using the packet threshold.
 */
function transfer(seed: number, reorder: number, loss: number): { duplicates: number; lost: number; reorderingSeen: boolean } {
  const pair = new Pair({
    seed,
    link: { delay: 10, rate: 60e6, queue: 4e6, loss, reorder, reorderDelay: 2 },
    reverse: { delay: 10, loss },
    config: { idleTimeout: 0, keepAliveInterval: 0, maxDatagramSize: 1452 },
  });
  pair.keepMessages = false;
  const chunk = new Uint8Array(64 * 1024);
  const bytes = 10 * MB;
  for (let left = bytes; left > 0; left -= chunk.length) pair.a.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
  pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes, 60_000);
  const recovery = (pair.a as unknown as { recovery: { reorderingSeen: boolean } }).recovery;
  return { duplicates: pair.b.stats(pair.now).duplicatesDropped, lost: pair.a.stats(pair.now).packetsLost, reorderingSeen: recovery.reorderingSeen };
}

describe('loss detection on a reordering path', () => {
  it('stops declaring losses by packet count once a packet so declared is acknowledged', () => {
    // 1 % of the datagrams held back 2 ms (~80 datagrams at 60 MB/s; the time threshold is 9/8
    // of a 20 ms RTT): with the packet threshold each of them was retransmitted for nothing
    // (54-65 duplicates in 74-77 held back); once the first is acknowledged, only the first is.
    for (const seed of [1, 2]) {
      const { duplicates, reorderingSeen } = transfer(seed, 0.01, 0);
      expect(duplicates, `seed ${seed}`).toBeLessThanOrEqual(3);
      expect(reorderingSeen, `seed ${seed}`).toBe(true);
    }
    // With 1 % loss as well: real losses are still declared (by the time threshold).
    const { duplicates, lost } = transfer(1, 0.01, 0.01);
    expect(duplicates).toBeLessThanOrEqual(5);
    expect(lost).toBeGreaterThan(50);
  });

  it('keeps the packet threshold on a path that loses but does not reorder', () => {
    for (const [seed, loss] of [[1, 0.01], [2, 0.05], [3, 0.2]] as const) {
      const { reorderingSeen, lost } = transfer(seed, 0, loss);
      expect(lost, `seed ${seed}, ${loss * 100} %`).toBeGreaterThan(0);
      expect(reorderingSeen, `seed ${seed}, ${loss * 100} %`).toBe(false);
    }
  });
});
