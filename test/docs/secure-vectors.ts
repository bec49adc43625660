/**
 * The encryption test vectors of docs/protocol.md §22 / Appendix C, computed with the reference
 * code from fixed keys. `protocol-secure-vectors.test.ts` checks the document against these, and
 * `npx tsx test/docs/secure-vectors.ts` prints them (to regenerate the appendix).
 */
import { createHmac } from 'node:crypto';
import { startClientHandshake, respondToClient, finishClientHandshake } from '../../src/core/secure/handshake.js';
import { packetKey, nextPacketKey, packetNonce } from '../../src/core/secure/key-schedule.js';
import { PacketProtection, DEFAULT_PROTECTION_CONFIG } from '../../src/core/secure/packet-protection.js';
import { createNodeSuite } from '../../src/crypto/node-suite.js';
import { encodePacket } from '../../src/wire/packet.js';
import { SECURE_INITIAL_PROLOGUE_SIZE, encodeSecurePacket, secureInitialPrologue } from '../../src/wire/secure.js';
import type { TransportParams } from '../../src/wire/types.js';

const suite = createNodeSuite({ aead: 'node' });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fill = (n: number, byte: number) => new Uint8Array(n).fill(byte);

export const CLIENT_CID = 0x0123456789abcdefn;
export const SERVER_CID = 0xfedcba9876543210n;

function resetToken(keyByte: number, cid: bigint): Uint8Array {
  const c = Buffer.alloc(8);
  c.writeBigUInt64BE(cid);
  return new Uint8Array(createHmac('sha256', Buffer.alloc(32, keyByte)).update(c).digest().subarray(0, 16));
}

export const INPUTS = {
  serverStaticPrivate: fill(32, 0x44),
  clientStaticPrivate: fill(32, 0x55),
  clientEphemeralPrivate: fill(32, 0x22),
  serverEphemeralPrivate: fill(32, 0x33),
  refusalToken: fill(16, 0xaa),
  clientResetToken: resetToken(0x11, CLIENT_CID),
  serverResetToken: resetToken(0x22, SERVER_CID),
  cookie: Uint8Array.from(Buffer.from('000003e8' + 'cc'.repeat(16), 'hex')),
};

const clientParams: TransportParams = {
  maxDatagramSize: 1200,
  initialWindow: 3606,
  idleTimeout: 30000,
  initialPacketNumber: 1000,
  initialTsn: 5000,
  resetToken: INPUTS.refusalToken,
  maxMessageSize: 4194304,
};
const serverParams: TransportParams = {
  maxDatagramSize: 1200,
  initialWindow: 3606,
  idleTimeout: 30000,
  initialPacketNumber: 0x7fff_fff0,
  initialTsn: 0xffff_fffe,
  resetToken: INPUTS.serverResetToken,
  maxMessageSize: 4194304,
};

export function computeVectors(): Record<string, string> {
  const serverStatic = { privateKey: INPUTS.serverStaticPrivate, publicKey: suite.x25519Public(INPUTS.serverStaticPrivate) };
  const clientStatic = { privateKey: INPUTS.clientStaticPrivate, publicKey: suite.x25519Public(INPUTS.clientStaticPrivate) };
  const out: Record<string, string> = {
    'server-static-public': hex(serverStatic.publicKey),
    'client-static-public': hex(clientStatic.publicKey),
    'client-ephemeral-public': hex(suite.x25519Public(INPUTS.clientEphemeralPrivate)),
    'server-ephemeral-public': hex(suite.x25519Public(INPUTS.serverEphemeralPrivate)),
  };
  for (const pattern of ['NK', 'IK'] as const) {
    const p = pattern.toLowerCase();
    const hello = startClientHandshake(suite, {
      cid: CLIENT_CID,
      params: clientParams,
      ePrivate: INPUTS.clientEphemeralPrivate,
      serverKey: serverStatic.publicKey,
      staticKey: pattern === 'IK' ? clientStatic : null,
      resetToken: INPUTS.clientResetToken,
    });
    out[`${p}-prologue`] = hex(secureInitialPrologue(CLIENT_CID, clientParams, pattern));
    out[`${p}-message-1`] = hex(hello.message);
    const initial = encodeSecurePacket({ type: 'secure-initial', scid: CLIENT_CID, params: clientParams, pattern, noise: hello.message, cookie: INPUTS.cookie });
    // The datagram without its zero padding and CRC (shown separately).
    const end = SECURE_INITIAL_PROLOGUE_SIZE + 2 + hello.message.length + 1 + INPUTS.cookie.length;
    out[`${p}-secure-initial-head`] = hex(initial.subarray(0, end));
    out[`${p}-secure-initial-crc`] = hex(initial.subarray(initial.length - 4));
    const answer = respondToClient(suite, {
      cid: CLIENT_CID,
      params: clientParams,
      pattern,
      message: hello.message,
      staticKey: serverStatic,
      ePrivate: INPUTS.serverEphemeralPrivate,
      serverCid: SERVER_CID,
      serverParams,
    });
    if (!answer.ok) throw new Error('vector handshake failed');
    out[`${p}-message-2`] = hex(answer.handshake.message);
    out[`${p}-secure-accept`] = hex(encodeSecurePacket({ type: 'secure-accept', dcid: CLIENT_CID, scid: SERVER_CID, noise: answer.handshake.message }));
    const done = finishClientHandshake(hello, answer.handshake.message, SERVER_CID);
    if (!done) throw new Error('vector handshake did not finish');
    out[`${p}-handshake-hash`] = hex(done.secrets.handshakeHash);
    out[`${p}-c2s-secret`] = hex(done.secrets.sendSecret);
    out[`${p}-s2c-secret`] = hex(done.secrets.recvSecret);
    if (pattern !== 'NK') continue;
    // Packet keys of the client → server direction, generation 0 and 1.
    const k0 = packetKey(suite, done.secrets.sendSecret, 0);
    const k1 = nextPacketKey(suite, k0);
    out['c2s-key-0'] = hex(k0.key);
    out['c2s-iv-0'] = hex(k0.iv);
    out['c2s-secret-1'] = hex(k1.secret);
    out['c2s-key-1'] = hex(k1.key);
    out['c2s-iv-1'] = hex(k1.iv);
    out['c2s-nonce-1000'] = hex(packetNonce(k0.iv, 1000, new Uint8Array(12)));
    // The client's first DATA packet (pn 1000, "hello" as one DATA frame), then PROTECTED.
    const plain = encodePacket({
      type: 'data',
      dcid: SERVER_CID,
      packetNumber: 1000,
      frames: [{ type: 'data', tsn: 5000, first: true, last: true, unordered: false, payload: new TextEncoder().encode('hello') }],
    });
    out['data-plain'] = hex(plain);
    const prot = new PacketProtection(suite, done.secrets.sendSecret, done.secrets.recvSecret, DEFAULT_PROTECTION_CONFIG, 0);
    out['protected-c2s'] = hex(prot.seal(0, plain));
  }
  return out;
}

if (process.argv[1]?.endsWith('secure-vectors.ts')) {
  for (const [k, v] of Object.entries(computeVectors())) console.log(`${k}: ${v}`);
}
