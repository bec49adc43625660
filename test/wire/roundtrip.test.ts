import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, packetSize } from '../../src/wire/packet.js';
import { MIN_INITIAL_SIZE } from '../../src/wire/types.js';
import * as arb from './arbitraries.js';
import { comparable } from './helpers.js';

/** decodePacket(encodePacket(p)) must give p back, field for field. */

function roundTrips(p: Parameters<typeof encodePacket>[0]): void {
  const datagram = encodePacket(p);
  expect(datagram.length).toBe(packetSize(p));
  const decoded = decodePacket(datagram);
  expect(decoded.ok ? null : decoded.reason).toBeNull();
  if (decoded.ok) expect(comparable(decoded.value)).toEqual(comparable(p));
}

describe('wire round trip', () => {
  it('every packet type', () => {
    fc.assert(fc.property(arb.packet, roundTrips), { seed: 42, numRuns: 2000 });
  });

  it('DATA packets with many frames of every type', () => {
    fc.assert(fc.property(arb.dataPacket, roundTrips), { seed: 43, numRuns: 1000 });
  });

  it('DATA packets at the 65,507-byte datagram limit', () => {
    fc.assert(fc.property(arb.jumboDataPacket, roundTrips), { seed: 44, numRuns: 30 });
  });

  it('INITIAL is padded to exactly 1200 bytes with zeros', () => {
    fc.assert(
      fc.property(arb.initialPacket, (p) => {
        const datagram = encodePacket(p);
        expect(datagram.length).toBe(MIN_INITIAL_SIZE);
        // The optional parameters (§4.1) follow the cookie; zeros after them.
        const contentEnd = 10 + 34 + 1 + p.cookie.length + (p.params.maxMessageSize === undefined ? 0 : 6);
        expect(datagram.subarray(contentEnd, MIN_INITIAL_SIZE - 4).every((b) => b === 0)).toBe(true);
      }),
      { seed: 45, numRuns: 200 },
    );
  });

  it('RESET reasons survive exactly, including a leading byte-order mark', () => {
    for (const reason of ['\uFEFFbom first', '\uFEFF', 'x'.repeat(1024), '\u{1F600}'.repeat(256), '']) {
      roundTrips({ type: 'data', dcid: 1n, packetNumber: 0, frames: [{ type: 'reset', code: 3, reason }] });
    }
  });

  it('fixed sizes of the fixed-layout packets', () => {
    const token = new Uint8Array(16);
    expect(encodePacket({ type: 'stateless-reset', dcid: 5n, token }).length).toBe(30);
    const params = {
      maxDatagramSize: 1200,
      initialWindow: 1,
      idleTimeout: 0,
      initialPacketNumber: 0,
      initialTsn: 0,
      resetToken: token,
    };
    expect(encodePacket({ type: 'accept', dcid: 1n, scid: 2n, params }).length).toBe(56);
    expect(encodePacket({ type: 'retry', dcid: 1n, cookie: new Uint8Array(20) }).length).toBe(35);
  });
});
