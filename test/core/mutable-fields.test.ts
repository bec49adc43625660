import { describe, expect, it } from 'vitest';
import { unpinFields } from '../../src/core/mutable-fields.js';
import { createCounters } from '../../src/core/counters.js';
import { NO_FRAGMENT, newFragment } from '../../src/core/sent-packets.js';

describe('unpinFields', () => {
  it('leaves every listed field with its own value and type', () => {
    const q = [1, 2];
    const o = { a: 0, b: 7, c: 2.5, d: Infinity, e: -1, f: true, g: false, h: 'kept', q };
    unpinFields(o, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'q']);
    expect(o).toEqual({ a: 0, b: 7, c: 2.5, d: Infinity, e: -1, f: true, g: false, h: 'kept', q: [1, 2] });
    expect(o.q).toBe(q);
  });
  it('refuses a field that is not a number, a boolean, an object or null (a misspelt name)', () => {
    const o = { a: 0, s: 'x', n: null };
    expect(() => unpinFields(o, ['s'])).toThrow(TypeError);
    expect(() => unpinFields(o, ['missing'])).toThrow(/missing/);
  });
  it('takes a field that is null until first use (an ensure…() field) and leaves it null', () => {
    const o: { lazy: Map<number, number> | null } = { lazy: null };
    unpinFields(o, ['lazy']);
    expect(o.lazy).toBeNull();
  });
  it('the counters and fragment records it is used on start as before', () => {
    expect(Object.values(createCounters()).every((v) => v === 0)).toBe(true);
    const f = newFragment(5, new Uint8Array(3), 0, 3, 1, 9, false, 2, null, null, 0);
    expect(f).toMatchObject({ tsn: 5, start: 0, length: 3, flags: 1, acked: false, lastPn: 9, queued: false, channel: 2, offset: 0, partsLeft: 0 });
    // The empty-queue stand-in is never acknowledged nor queued, so a scan stops at it.
    expect(NO_FRAGMENT.acked).toBe(false);
    expect(NO_FRAGMENT.queued).toBe(false);
  });
});
