import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTION_CONFIG, PacketProtection } from '../../../src/core/secure/packet-protection.js';
import { createNodeSuite } from '../../../src/crypto/node-suite.js';
import { encodePacket } from '../../../src/wire/packet.js';

const suite = createNodeSuite();
const a = new Uint8Array(32).fill(1);
const b = new Uint8Array(32).fill(2);
const pair = () => [new PacketProtection(suite, a, b, DEFAULT_PROTECTION_CONFIG, 0), new PacketProtection(suite, b, a, DEFAULT_PROTECTION_CONFIG, 0)] as const;
const data = (pn: number, text = 'hi') =>
  encodePacket({ type: 'data', dcid: 9n, packetNumber: pn, frames: [{ type: 'data', tsn: pn, first: true, last: true, unordered: false, payload: new TextEncoder().encode(text) }] });

describe('PacketProtection', () => {
  it('refuses to seal a packet number twice (a nonce would repeat)', () => {
    const [tx] = pair();
    tx.seal(0, data(10));
    expect(() => tx.seal(0, data(10))).toThrow(/reused/);
    expect(() => tx.seal(0, data(9))).toThrow(/reused/);
    expect(tx.seal(0, data(11)).length).toBe(data(11).length + 12);
  });

  it('opens a datagram in place: the DATA packet is a view of its memory (no buffer per packet), with the payload decrypted there', () => {
    const [tx, rx] = pair();
    const sealed = Uint8Array.from(tx.seal(0, data(1, 'tiny')));
    const opened = rx.open(0, sealed)!;
    expect(opened).not.toBeNull();
    expect(opened.buffer).toBe(sealed.buffer);
    expect(opened.byteOffset).toBe(sealed.byteOffset);
    expect(opened.length).toBe(sealed.length - 12);
    // The engine's DATA packet, CRC field zero (docs/protocol.md: no CRC under the tag).
    const expected = data(1, 'tiny');
    expected.fill(0, expected.length - 4);
    expect([...opened]).toEqual([...expected]);
  });

  it('leaves a datagram that does not open untouched, for another key or another look', () => {
    const [tx, rx] = pair();
    // A receiver with the wrong key for what tx seals.
    const other = new PacketProtection(suite, b, new Uint8Array(32).fill(3), DEFAULT_PROTECTION_CONFIG, 0);
    const sealed = tx.seal(0, data(1));
    const copy = Uint8Array.from(sealed);
    expect(other.open(0, sealed)).toBeNull();
    expect(other.lastFailure).toBe('decrypt');
    expect([...sealed]).toEqual([...copy]);
    expect(rx.open(0, sealed)).not.toBeNull();
  });

  it('opens each packet once, whatever the order, and never a truncated or altered one', () => {
    const [tx, rx] = pair();
    const sealed = [1, 2, 3, 4, 5].map((pn) => tx.seal(0, data(pn)));
    const order = [3, 1, 4, 0, 2];
    for (const i of order) expect(rx.open(0, sealed[i]!)).not.toBeNull();
    for (const s of sealed) {
      expect(rx.open(0, s)).toBeNull();
      expect(rx.lastFailure).toBe('replay');
    }
    const next = tx.seal(0, data(6));
    expect(rx.open(0, next.subarray(0, next.length - 1))).toBeNull();
    const altered = Uint8Array.from(next);
    altered[12]! ^= 1; // the packet number, part of the associated data
    expect(rx.open(0, altered)).toBeNull();
    expect(rx.lastFailure).toBe('decrypt');
    expect(rx.open(0, next)).not.toBeNull();
    expect(rx.stats()).toMatchObject({ replays: 5, decryptFailures: 2 });
  });
});
