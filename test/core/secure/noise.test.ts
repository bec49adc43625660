import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NoiseHandshake, messageOverhead, type NoisePattern } from '../../../src/core/secure/noise.js';
import { createNodeSuite } from '../../../src/crypto/node-suite.js';

/**
 * The Noise framework against the Cacophony test vectors (the reference vectors of the Noise
 * specification, as shipped by noise-c in tests/vector/cacophony.txt): fixed static and
 * ephemeral keys, and the exact bytes of each handshake message and of the first transport
 * message in each direction (which checks Split()).
 */
interface Vector {
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_static: string;
  resp_ephemeral: string;
  messages: { payload: string; ciphertext: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('./cacophony-vectors.json', import.meta.url), 'utf8')) as Record<NoisePattern, Vector>;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const backend of ['auto', 'node'] as const) {
  const suite = createNodeSuite({ aead: backend });
  describe(`Noise 25519/ChaChaPoly/SHA256 (${suite.aeadBackend})`, () => {
    for (const pattern of ['NK', 'IK', 'NX', 'IX'] as const) {
      it(`${pattern} reproduces the Cacophony vector byte for byte`, () => {
        const v = vectors[pattern];
        const keyPair = (priv: string) => ({ privateKey: hex(priv), publicKey: suite.x25519Public(hex(priv)) });
        const initiator = new NoiseHandshake(suite, {
          pattern,
          initiator: true,
          prologue: hex(v.init_prologue),
          ePrivate: hex(v.init_ephemeral),
          ...(v.init_static ? { s: keyPair(v.init_static) } : {}),
          ...(v.init_remote_static ? { rs: hex(v.init_remote_static) } : {}),
        });
        const responder = new NoiseHandshake(suite, {
          pattern,
          initiator: false,
          prologue: hex(v.init_prologue),
          ePrivate: hex(v.resp_ephemeral),
          s: keyPair(v.resp_static),
        });
        const m1 = initiator.writeMessage(hex(v.messages[0]!.payload));
        expect(toHex(m1)).toBe(v.messages[0]!.ciphertext);
        expect(m1.length).toBe(messageOverhead(pattern)[0] + v.messages[0]!.payload.length / 2);
        expect(toHex(responder.readMessage(m1)!)).toBe(v.messages[0]!.payload);
        const m2 = responder.writeMessage(hex(v.messages[1]!.payload));
        expect(toHex(m2)).toBe(v.messages[1]!.ciphertext);
        expect(m2.length).toBe(messageOverhead(pattern)[1] + v.messages[1]!.payload.length / 2);
        expect(toHex(initiator.readMessage(m2)!)).toBe(v.messages[1]!.payload);

        const ri = initiator.result();
        const rr = responder.result();
        expect(toHex(ri.handshakeHash)).toBe(toHex(rr.handshakeHash));
        expect(toHex(rr.remoteStatic ?? new Uint8Array(0))).toBe(v.init_static ? toHex(keyPair(v.init_static).publicKey) : '');
        expect(toHex(ri.remoteStatic!)).toBe(toHex(keyPair(v.resp_static).publicKey));
        // Transport messages 3 (initiator → responder) and 4 (back), each the first under its key.
        const nonce0 = new Uint8Array(12);
        for (const [i, key] of [[2, ri.initiatorKey], [3, ri.responderKey]] as const) {
          const plain = hex(v.messages[i]!.payload);
          const out = new Uint8Array(plain.length + 16);
          suite.cipher(key).seal(nonce0, new Uint8Array(0), plain, out, 0);
          expect(toHex(out)).toBe(v.messages[i]!.ciphertext);
        }
      });
    }

    it('a tampered message 1 or 2 does not authenticate', () => {
      const v = vectors.IK;
      const s = { privateKey: hex(v.resp_static), publicKey: suite.x25519Public(hex(v.resp_static)) };
      const c = { privateKey: hex(v.init_static!), publicKey: suite.x25519Public(hex(v.init_static!)) };
      const mk = () => ({
        i: new NoiseHandshake(suite, { pattern: 'IK', initiator: true, prologue: hex(v.init_prologue), ePrivate: hex(v.init_ephemeral), s: c, rs: s.publicKey }),
        r: new NoiseHandshake(suite, { pattern: 'IK', initiator: false, prologue: hex(v.init_prologue), ePrivate: hex(v.resp_ephemeral), s }),
      });
      const a = mk();
      const m1 = a.i.writeMessage(new Uint8Array(0));
      for (const at of [0, 40, m1.length - 1]) {
        const t = mk();
        const bad = Uint8Array.from(m1);
        bad[at]! ^= 0x01;
        expect(t.r.readMessage(bad)).toBeNull();
      }
      // A different prologue (the clear header the handshake binds) fails too.
      const other = new NoiseHandshake(suite, { pattern: 'IK', initiator: false, prologue: hex('00'), ePrivate: hex(v.resp_ephemeral), s });
      expect(other.readMessage(m1)).toBeNull();
      const b = mk();
      const m2 = b.r.readMessage(b.i.writeMessage(new Uint8Array(0))) && b.r.writeMessage(new Uint8Array(0));
      const bad2 = Uint8Array.from(m2 as Uint8Array);
      bad2[bad2.length - 1]! ^= 0x80;
      expect(b.i.readMessage(bad2)).toBeNull();
      expect(b.i.readMessage(bad2.subarray(0, 20))).toBeNull();
    });
  });
}
