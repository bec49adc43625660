import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
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

  it('trailerMatches accepts exactly the datagrams whose trailer is right (any one bit flipped: refused)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), (body, pick) => {
        const d = new Uint8Array(body.length + 4);
        d.set(body);
        writeTrailer(d);
        expect(trailerMatches(d)).toBe(true);
        const bit = pick % (d.length * 8);
        d[bit >> 3]! ^= 1 << (bit & 7);
        expect(trailerMatches(d)).toBe(false);
      }),
      { seed: 12, numRuns: 300 },
    );
  });
});
