import { describe, expect, it } from 'vitest';
import { PayloadCopier, STAGE_SIZE } from '../../src/core/payload-copy.js';
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

/** Cut `data` into `size`-byte ranges through `copier` as the send scheduler does; each range's copy. */
function cut(copier: PayloadCopier, owner: object, data: Uint8Array, size: number, from = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = from; o < data.length; o += size) {
    const n = Math.min(size, data.length - o);
    const target = new Uint8Array(n + 20).fill(0xee);
    copier.copy(target, 10, owner, data, o, n);
    // Nothing written around the range.
    expect(target.subarray(0, 10).every((b) => b === 0xee)).toBe(true);
    expect(target.subarray(10 + n).every((b) => b === 0xee)).toBe(true);
    out.push(target.subarray(10, 10 + n));
  }
  return out;
}

describe('PayloadCopier: a fragment is a range of its message, copied without a view', () => {
  it('copies every range exactly, staged from the second fragment in a row on; the next message of the size needs no new view of the stage', () => {
    const copier = new PayloadCopier();
    for (const size of [3_000, STAGE_SIZE, 200_000]) {
      let views = 0;
      for (const seed of [size, size + 1]) {
        const data = bytes(seed, size);
        const owner = {};
        const before = copier.views;
        const pieces = cut(copier, owner, data, 1_431);
        expect(Buffer.compare(Buffer.concat(pieces), data)).toBe(0);
        copier.forget(owner);
        views = copier.views - before;
      }
      // The second message: no view of the stage (kept from the first); of the message, one per
      // window staged (a message larger than the stage) and one for its shorter last fragment.
      expect(views).toBe(size > STAGE_SIZE ? Math.ceil(size / STAGE_SIZE) + 1 : 1);
    }
  });

  it('a buffer the application fills again for a later message is read afresh (the old window is forgotten)', () => {
    const copier = new PayloadCopier();
    const data = bytes(1, 10_000);
    const first = {};
    cut(copier, first, data, 1_000);
    copier.forget(first);
    data.set(bytes(2, 10_000));
    // A new message of the same buffer, and the same record again (were records ever reused).
    for (const owner of [{}, first]) {
      expect(Buffer.compare(Buffer.concat(cut(copier, owner, data, 1_000)), data)).toBe(0);
      copier.forget(owner);
    }
  });

  it('messages interleaved fragment by fragment each keep a window (up to four), and more stay correct', () => {
    for (const streams of [2, 4, 6]) {
      const copier = new PayloadCopier();
      const messages = Array.from({ length: streams }, (_, i) => ({ owner: {}, data: bytes(10 + i, 20_000), got: [] as Uint8Array[] }));
      for (let o = 0; o < 20_000; o += 1_000) {
        // Each message twice in a row (a channel of weight 2), round robin.
        for (const m of messages) {
          for (let k = 0; k < 2 && o + k * 500 < 20_000; k++) {
            const target = new Uint8Array(500);
            copier.copy(target, 0, m.owner, m.data, o + k * 500, 500);
            m.got.push(target);
          }
        }
      }
      for (const m of messages) expect(Buffer.compare(Buffer.concat(m.got), m.data)).toBe(0);
      // Within the slots, one window per message; beyond them, restaging, never a wrong byte.
      if (streams <= 4) expect(copier.staged).toBe(streams);
    }
  });
});

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
