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
    parts.add(9, part(0, 4, { tsn: 9 }));
    parts.prune(8);
    expect(parts.size).toBe(1);
    expect(parts.retained).toBe(whole.length);
  });
});
