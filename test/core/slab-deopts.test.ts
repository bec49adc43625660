import { describe, expect, it } from 'vitest';
import { Slab } from '../../src/core/slab.js';
import { neverOptimize, staysOptimized } from '../helpers/v8-natives.js';

/**
 * The slab keeps up to 8 views (one per datagram size) for the released region it reuses; a
 * ninth size replaced one of them on a path that never ran before, and its first run after
 * warm-up deoptimised `cut` (and the packet builder it is inlined into): `cut ×2` in about one
 * bulk run in six (bench/warmup-bulk.ts, issue 11). Checked with V8's own view.
 */
describe('the slab cutting a ninth datagram size at a reused region', () => {
  it('does not deoptimise cut', () => {
    const slab = new Slab();
    let n = 0;
    const send = (size: number): Uint8Array => {
      const start = slab.reserve(1500);
      const d = slab.cut(start, size);
      slab.commit(d.length);
      slab.release(d); // sent at once: the next datagram goes over the same region
      return d;
    };
    // Called, not inlined into its caller: `cut`'s own compiled code is what is checked.
    neverOptimize(send);
    const steady = (): void => {
      send(1000 + (n++ % 8));
    };
    let ninth: Uint8Array | null = null;
    const more = (): void => {
      ninth = send(1100);
    };
    expect(staysOptimized(Slab.prototype.cut, steady, more)).toBe(true);
    // The ninth size took the next slot in turn: cut again, it is the same view.
    expect(send(1100)).toBe(ninth);
  });
});
