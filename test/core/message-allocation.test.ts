import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';

/**
 * A reassembled message goes into the buffer `CoreConfig.allocateMessage` gives (the Node
 * endpoint passes `Buffer.allocUnsafeSlow`: not zeroed, and no wrapper object per message).
 * Such a buffer holds whatever was in memory before, so every byte must be written before the
 * message is delivered: here the allocator hands out buffers full of 0xee.
 */
function message(seed: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return m;
}

function dirtyAllocator(): { allocate: (size: number) => Uint8Array; given: Uint8Array[] } {
  const given: Uint8Array[] = [];
  return {
    given,
    allocate: (size: number) => {
      const b = new Uint8Array(size).fill(0xee);
      given.push(b);
      return b;
    },
  };
}

describe('reassembled messages and CoreConfig.allocateMessage', () => {
  it('in order: each multi-fragment message is the allocated buffer, written in full (lossy, reordering link)', () => {
    const alloc = dirtyAllocator();
    const pair = new Pair({ seed: 41, link: { loss: 0.1, reorder: 0.1, duplicate: 0.02 }, configB: { allocateMessage: alloc.allocate } });
    // Sizes across the assembly chunks (16 KiB) and a one-fragment message (no allocation).
    const sent = [40_000, 16_384, 100, 65_536, 3_000].map((n, i) => message(i, n));
    for (const m of sent) pair.a.send(m);
    pair.runUntil(() => pair.sides[1].received.length === sent.length, 600_000);
    const got = pair.sides[1].received;
    for (let i = 0; i < sent.length; i++) expect(Buffer.compare(got[i]!, sent[i]!)).toBe(0);
    // Four messages span several fragments: each came in a buffer from the allocator, of its exact size.
    const multi = got.filter((m) => m.length > 1_400);
    expect(multi).toHaveLength(4);
    for (const m of multi) expect(alloc.given).toContain(m);
    expect(alloc.given.map((b) => b.length).sort((x, y) => x - y)).toEqual([3_000, 16_384, 40_000, 65_536]);
  });

  it('unordered: a message completed out of order is the allocated buffer, written in full', () => {
    const alloc = dirtyAllocator();
    const pair = new Pair({ seed: 42, link: { loss: 0.15, reorder: 0.2 }, configB: { allocateMessage: alloc.allocate } });
    const sent = [20_000, 9_000, 33_333].map((n, i) => message(10 + i, n));
    for (const m of sent) pair.a.send(m, 'unordered');
    pair.runUntil(() => pair.sides[1].received.length === sent.length, 600_000);
    const got = [...pair.sides[1].received].sort((x, y) => x.length - y.length);
    const want = [...sent].sort((x, y) => x.length - y.length);
    for (let i = 0; i < want.length; i++) expect(Buffer.compare(got[i]!, want[i]!)).toBe(0);
    for (const m of got) expect(alloc.given).toContain(m);
  });
});
