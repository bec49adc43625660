import { describe, expect, it } from 'vitest';
import { createCounters } from '../../src/core/counters.js';
import { Deque } from '../../src/core/deque.js';
import { PathMtu } from '../../src/core/path-mtu.js';
import { SendScheduler } from '../../src/core/send-scheduler.js';
import { clearFragments, newSentPacket, recycledFragments, setFragments, type SentFragment, type SentPacket } from '../../src/core/sent-packets.js';
import type { CoreEvent } from '../../src/core/types.js';
import { Pair } from '../helpers/pair.js';

function bytes(seed: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (seed * 29 + i * 7 + (i >> 9)) & 0xff;
  return m;
}

describe('fragment records are recycled only once nothing refers to them', () => {
  /** A send scheduler and the packets it fills, recorded as loss recovery records them. */
  function scheduler(): { s: SendScheduler; packet: (pn: number) => SentPacket } {
    const s = new SendScheduler(new PathMtu(1200), 100, 1000, new Deque<CoreEvent>(), createCounters());
    const packet = (pn: number): SentPacket => {
      s.writeFrames(new Uint8Array(1200), 0, 1100, pn);
      const p = newSentPacket();
      p.pn = pn;
      setFragments(p, s.packetFragments, s.packetFragmentCount);
      s.releasePacketFragments();
      return p;
    };
    return { s, packet };
  }
  const first = (p: SentPacket): SentFragment => p.fragments[0]!;

  it('a fragment carried by one packet is reused once that packet is acknowledged; one resent after a loss is not, while the lost packet still holds it', () => {
    const { s, packet } = scheduler();
    s.enqueue(bytes(1, 20_000), 'ordered', 0, Infinity, 0);
    const p1 = packet(1);
    const p2 = packet(2);
    const f1 = first(p1);
    const f2 = first(p2);
    // p1 lost: its fragment goes again in p3, acknowledged there; p1's record (not yet trimmed:
    // an older packet is outstanding, say) still refers to it.
    s.onLost(p1);
    const p3 = packet(3);
    expect(first(p3)).toBe(f1);
    let recycled = recycledFragments();
    s.onAcked(p3);
    expect(recycledFragments()).toBe(recycled);
    const p4 = packet(4);
    expect(first(p4)).not.toBe(f1);
    // The lost packet's record lets go later (trimmed): still not reused (it was pinned).
    clearFragments(p1);
    expect(recycledFragments()).toBe(recycled);
    // p2 carried f2 alone and is acknowledged: f2 is the next record cut.
    s.onAcked(p2);
    expect(recycledFragments()).toBe(recycled + 1);
    const p5 = packet(5);
    expect(first(p5)).toBe(f2);
    expect(f2.tsn).toBe(first(p4).tsn + 1);
    expect(f2.start).toBe(first(p4).start + first(p4).length);
    recycled = recycledFragments();
    // A PTO probe of p5 resends its fragment too: pinned, never reused.
    s.onProbe(p5);
    const p6 = packet(6);
    expect(first(p6)).toBe(f2);
    s.onAcked(p6);
    s.onAcked(p5);
    expect(recycledFragments()).toBe(recycled);
  });

  it('a lossy, reordering, duplicating transfer on two channels (one with redundant copies) with a path-MTU drop arrives intact, and records were reused', () => {
    const link = { delay: 10, loss: 0.05, reorder: 0.05, duplicate: 0.02 };
    const pair = new Pair({ seed: 17, link, config: { maxDatagramSize: 1452 } });
    pair.a.setChannel(2, { redundancy: 1 });
    const big = (i: number) => bytes(i, 40_000 + i * 1_111);
    const small = (i: number) => bytes(1_000 + i, 200 + i);
    const count = 40;
    for (let i = 0; i < count; i++) {
      pair.a.send(big(i), { channel: 0 });
      pair.a.send(small(i), { channel: 2 });
    }
    const recycledBefore = recycledFragments();
    let total = 0;
    for (let i = 0; i < count; i++) total += big(i).length + small(i).length;
    pair.runUntil(() => {
      // The path MTU falls mid-transfer: fragments cut for 1,452 bytes go again in DATA_PART pieces.
      if (pair.now >= 150 && pair.links[0].impairment.mtu === undefined) pair.links[0].configure({ ...link, mtu: 1200 });
      return pair.sides[1].deliveredBytes >= total;
    }, 120_000);
    const next = new Map<number, number>();
    for (const e of pair.sides[1].events) {
      if (e.type !== 'message') continue;
      const i = next.get(e.channel) ?? 0;
      next.set(e.channel, i + 1);
      expect(Buffer.compare(e.data, e.channel === 2 ? small(i) : big(i)), `channel ${e.channel} message ${i}`).toBe(0);
    }
    expect(next.get(0)).toBe(count);
    expect(next.get(2)).toBe(count);
    expect(pair.a.stats().packetsRetransmitted).toBeGreaterThan(0);
    expect(pair.a.stats().blackHolesDetected).toBe(1);
    expect(pair.a.stats().bytesRedundant).toBeGreaterThan(0);
    expect(recycledFragments() - recycledBefore).toBeGreaterThan(500);
  });
});
