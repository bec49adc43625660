import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, seal } from '../../src/wire/packet.js';
import type { AcceptPacket, InitialPacket, TransportParams } from '../../src/wire/types.js';

/** docs/protocol.md §4.1: optional transport parameters after the fixed block. */

const params: TransportParams = {
  maxDatagramSize: 1200,
  initialWindow: 3318,
  idleTimeout: 30_000,
  initialPacketNumber: 1000,
  initialTsn: 5000,
  resetToken: new Uint8Array(16).fill(9),
};

const initial = (p: TransportParams, cookie = new Uint8Array(0)): InitialPacket => ({ type: 'initial', version: 1, scid: 0x0123n, params: p, cookie });
const accept = (p: TransportParams): AcceptPacket => ({ type: 'accept', dcid: 0x0123n, scid: 0x4567n, params: p });

/** Replace bytes at `offset` and fix the checksum. */
function patch(datagram: Uint8Array, offset: number, bytes: number[]): Uint8Array {
  const copy = new Uint8Array(datagram.length + Math.max(0, offset + bytes.length - (datagram.length - 4)));
  copy.set(datagram.subarray(0, datagram.length - 4));
  copy.set(bytes, offset);
  return seal(copy, copy.length - 4);
}

function decoded(d: Uint8Array) {
  const r = decodePacket(d);
  return r.ok ? r.value : r.reason;
}

describe('transport parameter maxMessageSize (§4.1)', () => {
  it('travels in INITIAL after the cookie and in ACCEPT after the fixed block', () => {
    const withLimit = { ...params, maxMessageSize: 4 * 1024 * 1024 };
    const i = encodePacket(initial(withLimit, new Uint8Array([1, 2, 3])));
    expect(i.length).toBe(1200);
    expect([...i.subarray(48, 54)]).toEqual([0x01, 0x04, 0x00, 0x40, 0x00, 0x00]);
    expect(decoded(i)).toMatchObject({ params: { maxMessageSize: 4 * 1024 * 1024 } });
    const a = encodePacket(accept(withLimit));
    expect(a.length).toBe(62);
    expect(decoded(a)).toMatchObject({ params: { maxMessageSize: 4 * 1024 * 1024 } });
  });

  it('packets of a peer that predates it (zero padding, 56-byte ACCEPT) decode with the limit absent', () => {
    const i = decoded(encodePacket(initial(params)));
    const a = decoded(encodePacket(accept(params)));
    expect(typeof i === 'object' && 'params' in i && i.params.maxMessageSize).toBeUndefined();
    expect(typeof a === 'object' && 'params' in a && a.params.maxMessageSize).toBeUndefined();
    expect(encodePacket(accept(params)).length).toBe(56);
  });

  it('skips unknown parameters, rejects a known one with the wrong length or given twice', () => {
    const base = encodePacket(initial(params)); // cookie ends at 45
    expect(decoded(patch(base, 45, [0x7f, 0x02, 0xaa, 0xbb, 0x01, 0x04, 0, 0, 0x10, 0]))).toMatchObject({ params: { maxMessageSize: 4096 } });
    expect(decoded(patch(base, 45, [0x01, 0x02, 0x10, 0x00]))).toBe('malformed');
    expect(decoded(patch(base, 45, [0x01, 0x04, 0, 0, 0, 1, 0x01, 0x04, 0, 0, 0, 2]))).toBe('malformed');
    // Non-zero bytes after the terminating zero are still bad padding.
    expect(decoded(patch(base, 45, [0x01, 0x04, 0, 0, 0, 1, 0x00, 0x05]))).toBe('malformed');
    // A length running past the end of an ACCEPT.
    const a = encodePacket(accept(params));
    expect(decoded(patch(a, 52, [0x7f, 0x09, 0x01]))).toBe('malformed');
    expect(decoded(patch(a, 52, [0x00]))).toBe('malformed');
  });
});
