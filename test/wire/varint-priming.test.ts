import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../src/wire/reader.js';
import { varintLength, writeVarint } from '../../src/wire/varint.js';

/**
 * The varint code is primed at load with one value of each length (varint.ts `VARINT_PRIMES`), so
 * that the first longer value met in optimised code (a bulk receiver's first ACK delay of 64 µs or
 * more) finds type feedback for its branch instead of deoptimising everything it is inlined into.
 * V8 allocates feedback only after a function has run for a while: the priming must run long
 * enough to record any. Checked with V8's own view of the compiled function.
 */
setFlagsFromString('--allow-natives-syntax');
const optimizeOnNextCall = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
/** The callers stay interpreted: each call reaches the function under test (not a copy inlined into them). */
const neverOptimize = new Function('f', '%NeverOptimizeFunction(f)') as (f: unknown) => void;
/** V8's OptimizationStatus bit for "has optimised code". */
const OPTIMIZED = 1 << 4;

/** Compile `f` after calls with 1-byte values only, then call it with a 2-byte and a 4-byte one: still optimised? */
function staysOptimized(f: unknown, oneByte: () => void, longer: () => void): boolean {
  neverOptimize(oneByte);
  neverOptimize(longer);
  for (let i = 0; i < 1000; i++) oneByte();
  optimizeOnNextCall(f);
  oneByte();
  if ((status(f) & OPTIMIZED) === 0) throw new Error('not optimised: the test proves nothing');
  longer();
  return (status(f) & OPTIMIZED) !== 0;
}

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
