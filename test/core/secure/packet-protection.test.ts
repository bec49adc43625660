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

  it('hands the engine a packet that owns its memory (no pooled slab kept alive by a small message)', () => {
    const [tx, rx] = pair();
    const opened = rx.open(0, tx.seal(0, data(1, 'tiny')))!;
    expect(opened).not.toBeNull();
    expect(opened.byteOffset).toBe(0);
    expect(opened.buffer.byteLength).toBe(opened.length);
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
