import { describe, expect, it } from 'vitest';
import { FragmentParts } from '../../src/core/fragment-parts.js';
import type { DataPartFrame } from '../../src/wire/types.js';

const te = new TextEncoder();
const whole = te.encode('hello, path MTU');

function part(offset: number, length: number, o: Partial<DataPartFrame> = {}): DataPartFrame {
  return {
    type: 'data-part',
    tsn: 7,
    first: true,
    last: false,
    unordered: false,
    length: whole.length,
    offset,
    payload: whole.subarray(offset, offset + length),
    ...o,
  };
}

describe('FragmentParts (DATA_PART reassembly)', () => {
  it('gives the whole fragment once every byte arrived, in any order, with overlaps and repeats', () => {
    const parts = new FragmentParts();
    expect(parts.add(7, part(10, 5))).toBeNull();
    expect(parts.add(7, part(0, 6))).toBeNull();
    expect(parts.add(7, part(0, 6))).toBeNull(); // a repeat
    expect(parts.retained).toBe(whole.length);
    const done = parts.add(7, part(4, 8)); // overlaps both
    expect(done).not.toBeNull();
    expect(done).not.toBe('malformed');
    if (done === null || done === 'malformed') return;
    expect(done).toMatchObject({ type: 'data', tsn: 7, first: true, last: false, unordered: false });
    expect(new TextDecoder().decode(done.payload)).toBe('hello, path MTU');
    expect(parts.size).toBe(0);
    expect(parts.retained).toBe(0);
  });

  it('pieces of one TSN that disagree on length or flags are malformed', () => {
    const parts = new FragmentParts();
    parts.add(7, part(0, 4));
    expect(parts.add(7, part(4, 4, { length: whole.length + 1 }))).toBe('malformed');
    expect(parts.add(7, part(4, 4, { last: true }))).toBe('malformed');
  });

  it('prune forgets partial fragments the receive buffer already has', () => {
    const parts = new FragmentParts();
    parts.add(7, part(0, 4));
    parts.add(8, part(0, 4, { tsn: 8 }));
    parts.add(9, part(0, 4, { tsn: 9 }));
    // The cumulative TSN moved from 6 to 8 (fewer TSNs than partials: the range is visited),
    // 8 itself included, 9 kept.
    parts.prune(6, 8);
    expect(parts.size).toBe(1);
    expect(parts.retained).toBe(whole.length);
    // From 8 to 12, past more TSNs than partials are held (the partials are visited instead):
    // the same result, 12 itself included, 20 kept.
    parts.add(12, part(0, 4, { tsn: 12 }));
    parts.add(20, part(0, 4, { tsn: 20 }));
    parts.prune(8, 12);
    expect(parts.size).toBe(1);
    expect(parts.retained).toBe(whole.length);
    parts.prune(12, 1000);
    expect(parts.size).toBe(0);
    expect(parts.retained).toBe(0);
  });

  it('prune visits the TSNs the cumulative TSN moved past (or the partials, if fewer), not every partial held on every frame', () => {
    // A peer that keeps 2,000 partial fragments on a channel, then sends DATA on it one TSN at a
    // time: before, each frame walked all 2,000 (O(partials) per frame).
    const parts = new FragmentParts();
    for (let tsn = 1000; tsn < 3000; tsn++) parts.add(tsn, part(0, 4, { tsn }));
    let iterated = 0;
    let looked = 0;
    const inner = (parts as unknown as { partials: Map<number, unknown> }).partials;
    const counting = new Proxy(inner, {
      get(target, key) {
        if (key === Symbol.iterator || key === 'entries') {
          return () => {
            const it = target[Symbol.iterator]();
            return { [Symbol.iterator]() { return this; }, next: () => { const r = it.next(); if (!r.done) iterated++; return r; } };
          };
        }
        if (key === 'get' || key === 'has') looked++;
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    (parts as unknown as { partials: Map<number, unknown> }).partials = counting;
    for (let cum = 0; cum < 999; cum++) parts.prune(cum, cum + 1);
    expect(parts.size).toBe(2000);
    expect(iterated).toBe(0);
    expect(looked).toBeLessThanOrEqual(999);
  });
});
