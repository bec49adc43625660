import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import { doubles, unpinDoubles } from '../../src/core/mutable-fields.js';
import { sameMap } from '../helpers/v8-natives.js';

/**
 * A number field whose first fraction comes late (BBR's `cycleStamp`, set to `now` on entering
 * ProbeBW) changed the object's hidden class at that moment, and every function compiled against
 * the old one was deoptimised and compiled again inside the transfer (`unpinDoubles`). Checked
 * with V8's own view: two objects, one given a fraction, still share their hidden class.
 */

describe('unpinDoubles', () => {
  it('keeps every listed field its own value, and refuses a field that is not a number', () => {
    const o = { a: 0, b: 7, c: 2.5, s: 'x' };
    unpinDoubles(o, ['a', 'b', 'c']);
    expect(o).toEqual({ a: 0, b: 7, c: 2.5, s: 'x' });
    expect(() => unpinDoubles(o, ['s'])).toThrow(TypeError);
    expect(() => unpinDoubles(o, ['missing'])).toThrow(/missing/);
  });

  it('a fraction stored later does not change the hidden class', () => {
    class Plain {
      stamp = 0;
    }
    class Unpinned {
      stamp = 0;
      constructor() {
        unpinDoubles(this, ['stamp']);
      }
    }
    const [p1, p2] = [new Plain(), new Plain()];
    p2.stamp = 1.5;
    expect(sameMap(p1, p2)).toBe(false); // what the helper is for
    const [u1, u2] = [new Unpinned(), new Unpinned()];
    u2.stamp = 1.5;
    expect(sameMap(u1, u2)).toBe(true);
  });

  it("BBR's ProbeBW entry (cycleStamp = now) keeps the controller's hidden class", () => {
    const a = new Bbr(1200);
    const b = new Bbr(1200);
    (b as unknown as { cycleStamp: number }).cycleStamp = 1234.5;
    expect(sameMap(a, b)).toBe(true);
  });
});

describe('doubles', () => {
  it('n zeros whose elements kind stays the same when a fraction is stored (a literal of zeros changes it)', () => {
    const a = doubles(5);
    expect(a).toEqual([0, 0, 0, 0, 0]);
    const b = doubles(5);
    b[2] = 1.5;
    expect(sameMap(a, b)).toBe(true);
    const [p, q] = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]];
    q[2] = 1.5;
    expect(sameMap(p, q)).toBe(false); // what the helper is for
  });
});
