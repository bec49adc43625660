import { NONCE_SIZE, type CryptoSuite, type PacketCipher } from './suite.js';

/**
 * From the handshake's two keys to packet keys (docs/protocol.md §24):
 *
 *   secret[0] of a direction = the Noise Split() output for it
 *                              (initiator → responder: the first; responder → initiator: the second)
 *   key       = HKDF-Expand(secret[g], "reliable-dgram key", 32)
 *   iv        = HKDF-Expand(secret[g], "reliable-dgram iv", 12)
 *   secret[g+1] = HKDF-Expand(secret[g], "reliable-dgram ku", 32)     (key update)
 *
 * HKDF-Expand is RFC 5869 with SHA-256; every output here fits in one block, so it is
 * HMAC-SHA256(secret, label ‖ 0x01) cut to length.
 */
const encoder = new TextEncoder();
const LABEL_KEY = encoder.encode('reliable-dgram key');
const LABEL_IV = encoder.encode('reliable-dgram iv');
const LABEL_KU = encoder.encode('reliable-dgram ku');

export function hkdfExpand(suite: CryptoSuite, secret: Uint8Array, label: Uint8Array, length: number): Uint8Array {
  if (length > 32) throw new RangeError('hkdfExpand: at most one SHA-256 block');
  const info = new Uint8Array(label.length + 1);
  info.set(label);
  info[label.length] = 1;
  return suite.hmacSha256(secret, info).slice(0, length);
}

/** The packet key of one direction and one generation. */
export interface PacketKey {
  readonly generation: number;
  readonly secret: Uint8Array;
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
  readonly cipher: PacketCipher;
}

export function packetKey(suite: CryptoSuite, secret: Uint8Array, generation: number): PacketKey {
  const key = hkdfExpand(suite, secret, LABEL_KEY, 32);
  const iv = hkdfExpand(suite, secret, LABEL_IV, NONCE_SIZE);
  return { generation, secret, key, iv, cipher: suite.cipher(key) };
}

/** The key of the next generation (a key update). */
export function nextPacketKey(suite: CryptoSuite, current: PacketKey): PacketKey {
  return packetKey(suite, hkdfExpand(suite, current.secret, LABEL_KU, 32), current.generation + 1);
}

/**
 * nonce = iv XOR (the full packet number as a 96-bit big-endian integer), as QUIC does
 * (RFC 9001 §5.3). Packet numbers are never reused under one key, so neither are nonces.
 * Writes into `out` (12 bytes) and returns it.
 */
export function packetNonce(iv: Uint8Array, pn: number, out: Uint8Array): Uint8Array {
  out.set(iv);
  let v = pn;
  for (let i = NONCE_SIZE - 1; i >= NONCE_SIZE - 7 && v > 0; i--) {
    out[i] = out[i]! ^ v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
