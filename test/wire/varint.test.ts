import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../src/wire/reader.js';
import { VARINT_MAX, varintLength, writeVarint } from '../../src/wire/varint.js';
import { VARINT_CLASSES, varint } from './arbitraries.js';
import { fromHex, toHex } from './helpers.js';

function encode(value: number): Uint8Array {
  const buf = new Uint8Array(8);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function decode(bytes: Uint8Array): { value: number; ok: boolean; used: number } {
  const r = new Reader(bytes, 0, bytes.length);
  const value = r.varint();
  return { value, ok: r.ok, used: r.offset };
}

describe('varint (QUIC, RFC 9000 §16)', () => {
  it('round trip for every length class, with the length varintLength predicts', () => {
    fc.assert(
      fc.property(varint, (v) => {
        const bytes = encode(v);
        expect(bytes.length).toBe(varintLength(v));
        expect(decode(bytes)).toEqual({ value: v, ok: true, used: bytes.length });
      }),
      { seed: 42, numRuns: 10_000 },
    );
  });

  it.each(VARINT_CLASSES)('class of $bytes byte(s): both edges round-trip at that length', (c) => {
    for (const v of [c.min, c.max]) {
      const bytes = encode(v);
      expect(bytes.length).toBe(c.bytes);
      expect(bytes[0]! >>> 6).toBe(Math.log2(c.bytes));
      expect(decode(bytes).value).toBe(v);
    }
  });

  it('RFC 9000 Appendix A.1 samples (those below 2^53)', () => {
    expect(decode(fromHex('9d7f3e7d')).value).toBe(494_878_333);
    expect(decode(fromHex('7bbd')).value).toBe(15_293);
    expect(decode(fromHex('25')).value).toBe(37);
    // A longer encoding than necessary is accepted, as in QUIC.
    expect(decode(fromHex('4025')).value).toBe(37);
    expect(toHex(encode(494_878_333))).toBe('9d7f3e7d');
    expect(toHex(encode(15_293))).toBe('7bbd');
  });

  it('8-byte values of 2^53 and more are rejected, not rounded', () => {
    expect(toHex(encode(VARINT_MAX))).toBe('c01fffffffffffff');
    expect(decode(fromHex('c01fffffffffffff'))).toEqual({ value: VARINT_MAX, ok: true, used: 8 });
    expect(decode(fromHex('c020000000000000')).ok).toBe(false);
    // RFC 9000's 8-byte sample, 151288809941952652, is above 2^53.
    expect(decode(fromHex('c2197c5eff14e88c')).ok).toBe(false);
    expect(decode(fromHex('ffffffffffffffff')).ok).toBe(false);
  });

  it('a varint cut short fails instead of reading past the end', () => {
    for (const hex of ['', '40', '80ffff', 'c0000000000000']) {
      expect(decode(fromHex(hex)).ok).toBe(false);
    }
  });
});
