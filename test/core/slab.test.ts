import { describe, expect, it } from 'vitest';
import { Slab } from '../../src/core/slab.js';

/** Write `size` bytes of `fill` the way the packet builder does: reserve, write, cut, commit. */
function build(slab: Slab, size: number, fill: number, max = 1500): Uint8Array {
  const start = slab.reserve(max);
  slab.current.fill(fill, start, start + size);
  const datagram = slab.cut(start, size);
  slab.commit(size);
  return datagram;
}

describe('Slab: the last datagram is reused only once released', () => {
  it('without release every datagram keeps its own bytes and view', () => {
    const slab = new Slab();
    const a = build(slab, 1452, 1);
    const b = build(slab, 1452, 2);
    expect(b).not.toBe(a);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(b.every((x) => x === 2)).toBe(true);
  });

  it('a released datagram of the same size hands out the same view, written over', () => {
    const slab = new Slab();
    const a = build(slab, 1452, 1);
    slab.release(a);
    const b = build(slab, 1452, 2);
    expect(b).toBe(a);
    expect(b.every((x) => x === 2)).toBe(true);
    // Released again: the same view a third time; a different size gets a view of the same region.
    slab.release(b);
    const c = build(slab, 100, 3);
    expect(c).not.toBe(a);
    expect(c.byteOffset).toBe(a.byteOffset);
    expect(c.length).toBe(100);
    // Not released: the next one goes after it.
    const d = build(slab, 100, 4);
    expect(d.byteOffset).toBeGreaterThanOrEqual(c.byteOffset + 100);
    expect(c.every((x) => x === 3)).toBe(true);
  });

  it('releasing anything but the last datagram cut, or a take() in between, reuses nothing', () => {
    const slab = new Slab();
    const a = build(slab, 1452, 1);
    const b = build(slab, 1452, 2);
    slab.release(a); // not the last one: b comes after it in the slab
    const c = build(slab, 1452, 3);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(b.every((x) => x === 2)).toBe(true);
    slab.release(c);
    const probe = slab.take(1200);
    probe.fill(9);
    slab.commit(1200);
    const d = build(slab, 1452, 4);
    expect(d).not.toBe(c);
    expect(c.every((x) => x === 3)).toBe(true);
    slab.release(new Uint8Array(1452)); // a buffer the slab never cut
    const e = build(slab, 1452, 5);
    expect(d.every((x) => x === 4)).toBe(true);
    expect(e).not.toBe(d);
  });

  it('a released datagram at the end of a full slab: the next goes into a fresh slab, the old bytes stay', () => {
    const slab = new Slab();
    let last = build(slab, 1452, 0, 1452);
    // 64 KiB / 1,456 (aligned) = 45 datagrams per slab.
    for (let i = 1; i < 45; i++) last = build(slab, 1452, i, 1452);
    const firstSlab = slab.current;
    expect(last.buffer).toBe(firstSlab.buffer);
    slab.release(last);
    const next = build(slab, 1500, 7);
    // The released region has no room for 1,500 bytes (the 45th datagram ends 16 bytes short of the end).
    expect(slab.current).not.toBe(firstSlab);
    expect(next.buffer).not.toBe(last.buffer);
    expect(next.every((x) => x === 7)).toBe(true);
    expect(last.every((x) => x === 44)).toBe(true);
  });
});
