import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { checksum, trailerMatches, writeTrailer } from '../../src/wire/checksum.js';

const trailer = (d: Uint8Array): number => ((d[d.length - 4]! << 24) | (d[d.length - 3]! << 16) | (d[d.length - 2]! << 8) | d[d.length - 1]!) >>> 0;

describe('the CRC-32 trailer without a view of the body', () => {
  it('writeTrailer writes the CRC-32 of everything before the trailer, big-endian', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), (body) => {
        const d = new Uint8Array(body.length + 4);
        d.set(body);
        d.fill(0xa5, body.length); // whatever was there before
        writeTrailer(d);
        expect(trailer(d)).toBe(checksum(body));
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  // Up to 300 bytes: the table loop and zlib on both sides of 256; 257–1500: zlib, its CRC's top bit set or not.
  it.each([
    [1, 300, 12],
    [257, 1500, 14],
  ])('trailerMatches accepts exactly the datagrams whose trailer is right (any one bit flipped: refused), bodies of %i–%i bytes', (min, max, seed) => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: min, maxLength: max }), fc.nat(), (body, pick) => {
        const d = new Uint8Array(body.length + 4);
        d.set(body);
        writeTrailer(d);
        expect(trailerMatches(d)).toBe(true);
        const bit = pick % (d.length * 8);
        d[bit >> 3]! ^= 1 << (bit & 7);
        expect(trailerMatches(d)).toBe(false);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('checksum is zlib.crc32 on every length, both sides of where it stops calling zlib (256 bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (data) => {
        expect(checksum(data)).toBe(crc32(data) >>> 0);
      }),
      { seed: 13, numRuns: 400 },
    );
    // Every length from 0 to 300 (the 8-byte loop's every remainder, the boundary itself).
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let n = 0; n <= 300; n++) expect(checksum(bytes.subarray(0, n))).toBe(crc32(bytes.subarray(0, n)) >>> 0);
  });

  it('writeTrailer and trailerMatches agree with zlib.crc32 of the body at every datagram length up to 300', () => {
    const body = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    for (let n = 4; n <= 304; n++) {
      const d = new Uint8Array(n);
      d.set(body.subarray(0, n - 4));
      writeTrailer(d);
      expect(trailer(d)).toBe(crc32(body.subarray(0, n - 4)) >>> 0);
      expect(trailerMatches(d)).toBe(true);
      d[n - 1]! ^= 0x80;
      expect(trailerMatches(d)).toBe(false);
    }
  });
});
