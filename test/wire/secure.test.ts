import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSecurePacket, encodeSecurePacket, type SecurePacket } from '../../src/wire/secure.js';
import { comparable } from './helpers.js';

const params = {
  maxDatagramSize: 1200,
  initialWindow: 3606,
  idleTimeout: 30000,
  initialPacketNumber: 7,
  initialTsn: 9,
  resetToken: new Uint8Array(16).fill(0xaa),
};

const packets: SecurePacket[] = [
  { type: 'secure-initial', scid: 0x0123456789abcdefn, params, pattern: 'NK', noise: new Uint8Array(48).fill(1), cookie: new Uint8Array(0) },
  { type: 'secure-initial', scid: 1n, params, pattern: 'IX', noise: new Uint8Array(64).fill(2), cookie: new Uint8Array(20).fill(3) },
  { type: 'secure-accept', dcid: 5n, scid: 6n, noise: new Uint8Array(90).fill(4) },
  { type: 'refuse', dcid: 5n, token: new Uint8Array(16).fill(5), reason: 2 },
];

describe('secure handshake packets on the wire', () => {
  it.each(packets.map((p) => [p.type, p] as const))('%s round-trips', (_t, p) => {
    const bytes = encodeSecurePacket(p);
    if (p.type === 'secure-initial') expect(bytes.length).toBe(1200);
    const back = decodeSecurePacket(bytes);
    expect(back.ok && comparable(back.value)).toEqual(comparable(p));
  });

  it('every truncation, bit flip and non-zero padding byte is rejected, never thrown', () => {
    for (const p of packets) {
      const bytes = encodeSecurePacket(p);
      for (let n = 0; n < bytes.length; n += 7) expect(decodeSecurePacket(bytes.subarray(0, n)).ok).toBe(false);
      for (let i = 0; i < bytes.length; i += 11) {
        const f = Uint8Array.from(bytes);
        f[i]! ^= 0x10;
        expect(decodeSecurePacket(f).ok).toBe(false);
      }
    }
  });

  it('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), fc.constantFrom(7, 8, 9), (bytes, type) => {
        const b = Uint8Array.from(bytes);
        if (b.length > 1) {
          b[0] = 1;
          b[1] = type;
        }
        decodeSecurePacket(b);
      }),
      { seed: 13, numRuns: 500 },
    );
  });
});
