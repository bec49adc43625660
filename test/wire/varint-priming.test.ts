import { describe, expect, it } from 'vitest';
import { neverOptimize, staysOptimized } from '../helpers/v8-natives.js';
import { Reader } from '../../src/wire/reader.js';
import { varintLength, writeVarint } from '../../src/wire/varint.js';

/**
 * The varint code is primed at load with one value of each length (varint.ts `VARINT_PRIMES`), so
 * that the first longer value met in optimised code (a bulk receiver's first ACK delay of 64 µs or
 * more) finds type feedback for its branch instead of deoptimising everything it is inlined into.
 * V8 allocates feedback only after a function has run for a while: the priming must run long
 * enough to record any. Checked with V8's own view of the compiled function.
 */

describe('varint priming at load', () => {
  it('leaves feedback for every length in the encoder (no deoptimisation at the first 2-byte value)', () => {
    const buf = new Uint8Array(8);
    expect(
      staysOptimized(
        varintLength,
        () => varintLength(5),
        () => varintLength(0x4000) + varintLength(0x100),
      ),
    ).toBe(true);
    expect(
      staysOptimized(
        writeVarint,
        () => writeVarint(buf, 0, 5),
        () => writeVarint(buf, 0, 0x4000) + writeVarint(buf, 0, 0x100),
      ),
    ).toBe(true);
  });

  it('and in the decoder', () => {
    const buf = new Uint8Array(8);
    const r = new Reader(buf, 0, 8);
    const read = (v: number): number => {
      writeVarint(buf, 0, v);
      r.reset(buf, 0, 8);
      return r.varint();
    };
    neverOptimize(read);
    expect(
      staysOptimized(
        Reader.prototype.varint,
        () => read(5),
        () => read(0x100) + read(0x4000),
      ),
    ).toBe(true);
  });
});
