/**
 * AEAD micro-benchmark: the cost of sealing and opening one packet with each candidate the
 * transport could use (docs/performance.md "Packet protection: which AEAD").
 *
 *   node --import tsx bench/aead.ts [--size 1200] [--packets 20000] [--rounds 5]
 *
 * Each row seals `packets` packets of `size` bytes (14 bytes of header as associated data, a
 * fresh nonce per packet, as the transport does) and then opens them, and reports the median
 * per-packet time of the fastest of `rounds` rounds (the round least disturbed by other load on
 * a shared machine). Read the ratios, not the absolute figures.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const SIZE = arg('size', 1200);
const PACKETS = arg('packets', 20_000);
const ROUNDS = arg('rounds', 5);
const HEADER = 14;
const TAG = 16;

interface Candidate {
  name: string;
  seal(nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array;
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

const key = randomBytes(32);
const iv = randomBytes(12);

function nonceFor(n: number, out: Uint8Array): Uint8Array {
  out.set(iv);
  out[8] = iv[8]! ^ ((n >>> 24) & 0xff);
  out[9] = iv[9]! ^ ((n >>> 16) & 0xff);
  out[10] = iv[10]! ^ ((n >>> 8) & 0xff);
  out[11] = iv[11]! ^ (n & 0xff);
  return out;
}

function nodeCipher(algorithm: 'chacha20-poly1305' | 'aes-256-gcm', keyObject: boolean): Candidate {
  const k = keyObject ? createSecretKey(key) : key;
  return {
    name: `node:crypto ${algorithm}${keyObject ? ' (KeyObject)' : ''}`,
    seal(nonce, aad, plain) {
      const c = createCipheriv(algorithm as 'chacha20-poly1305', k, nonce, { authTagLength: TAG });
      c.setAAD(aad, { plaintextLength: plain.length });
      const body = c.update(plain);
      c.final();
      const out = Buffer.allocUnsafe(body.length + TAG);
      out.set(body, 0);
      out.set(c.getAuthTag(), body.length);
      return out;
    },
    open(nonce, aad, sealed) {
      const d = createDecipheriv(algorithm as 'chacha20-poly1305', k, nonce, { authTagLength: TAG });
      d.setAAD(aad, { plaintextLength: sealed.length - TAG });
      d.setAuthTag(sealed.subarray(sealed.length - TAG));
      const body = d.update(sealed.subarray(0, sealed.length - TAG));
      try {
        d.final();
      } catch {
        return null;
      }
      return body;
    },
  };
}

interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}

function sodiumNative(): Candidate | null {
  let s: SodiumNative;
  try {
    s = require('sodium-native') as SodiumNative;
  } catch {
    return null;
  }
  return {
    name: 'sodium-native chacha20-poly1305',
    seal(nonce, aad, plain) {
      const out = Buffer.allocUnsafe(plain.length + TAG);
      s.crypto_aead_chacha20poly1305_ietf_encrypt(out, plain, aad, null, nonce, key);
      return out;
    },
    open(nonce, aad, sealed) {
      const out = Buffer.allocUnsafe(sealed.length - TAG);
      try {
        s.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, aad, nonce, key);
      } catch {
        return null;
      }
      return out;
    },
  };
}

interface LibsodiumWrappers {
  ready: Promise<void>;
  crypto_aead_chacha20poly1305_ietf_encrypt(m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): Uint8Array;
  crypto_aead_chacha20poly1305_ietf_decrypt(nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): Uint8Array;
}

async function libsodiumWrappers(): Promise<Candidate | null> {
  let s: LibsodiumWrappers;
  try {
    s = require('libsodium-wrappers') as LibsodiumWrappers;
    await s.ready;
  } catch {
    return null;
  }
  return {
    name: 'libsodium-wrappers (WASM) chacha20-poly1305',
    seal: (nonce, aad, plain) => s.crypto_aead_chacha20poly1305_ietf_encrypt(plain, aad, null, nonce, key),
    open(nonce, aad, sealed) {
      try {
        return s.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, aad, nonce, key);
      } catch {
        return null;
      }
    },
  };
}

function fastest(xs: number[]): number {
  return Math.min(...xs);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(c: Candidate): { sealUs: number; openUs: number } {
  const aad = randomBytes(HEADER);
  const plain = randomBytes(SIZE - HEADER - TAG);
  const nonce = new Uint8Array(12);
  const sealed: Uint8Array[] = new Array(PACKETS);
  // Correctness first: a candidate that does not round-trip or accepts a forgery is no candidate.
  const probe = c.seal(nonceFor(0, nonce), aad, plain);
  const back = c.open(nonceFor(0, nonce), aad, probe);
  if (!back || Buffer.compare(Buffer.from(back), plain) !== 0) throw new Error(`${c.name}: round trip failed`);
  const forged = Uint8Array.from(probe);
  forged[3]! ^= 1;
  if (c.open(nonceFor(0, nonce), aad, forged) !== null) throw new Error(`${c.name}: accepted a forgery`);

  const seals: number[] = [];
  const opens: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < PACKETS; i++) sealed[i] = c.seal(nonceFor(i, nonce), aad, plain);
    seals.push(Number(process.hrtime.bigint() - t) / 1000 / PACKETS);
    t = process.hrtime.bigint();
    for (let i = 0; i < PACKETS; i++) {
      if (c.open(nonceFor(i, nonce), aad, sealed[i]!) === null) throw new Error(`${c.name}: open failed`);
    }
    opens.push(Number(process.hrtime.bigint() - t) / 1000 / PACKETS);
  }
  return { sealUs: fastest(seals), openUs: fastest(opens) };
}

/**
 * The whole per-packet path of an encrypted connection at the endpoint boundary
 * (src/core/secure/packet-protection.ts): the engine's DATA datagram in, PROTECTED out (header
 * copy, seal, new buffer) and back (replay window, open, CRC for the engine), beside the bare
 * AEAD rows above: the difference is what the boundary costs on top of the cipher.
 */
async function protectionRow(aead: 'auto' | 'node'): Promise<void> {
  const { PacketProtection, DEFAULT_PROTECTION_CONFIG } = await import('../src/core/secure/packet-protection.js');
  const { createNodeSuite } = await import('../src/crypto/node-suite.js');
  const { encodePacket } = await import('../src/wire/packet.js');
  const suite = createNodeSuite({ aead });
  const sendSecret = randomBytes(32);
  const recvSecret = randomBytes(32);
  const tx = new PacketProtection(suite, sendSecret, recvSecret, DEFAULT_PROTECTION_CONFIG, 0);
  const rx = new PacketProtection(suite, recvSecret, sendSecret, DEFAULT_PROTECTION_CONFIG, 0);
  const payload = randomBytes(SIZE - 18 - 12 - 7);
  const plain: Uint8Array[] = [];
  for (let i = 0; i < PACKETS * ROUNDS; i++) {
    plain.push(encodePacket({ type: 'data', dcid: 7n, packetNumber: i, frames: [{ type: 'data', tsn: i, first: true, last: true, unordered: false, payload }] }));
  }
  const seals: number[] = [];
  const opens: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = plain.slice(round * PACKETS, (round + 1) * PACKETS);
    let t = process.hrtime.bigint();
    const sealed = batch.map((p) => tx.seal(0, p));
    seals.push(Number(process.hrtime.bigint() - t) / 1000 / PACKETS);
    t = process.hrtime.bigint();
    for (const d of sealed) if (rx.open(0, d) === null) throw new Error('PacketProtection: open failed');
    opens.push(Number(process.hrtime.bigint() - t) / 1000 / PACKETS);
  }
  const sealUs = fastest(seals);
  const openUs = fastest(opens);
  console.log(`| PacketProtection (${suite.aeadBackend}), DATA in → PROTECTED → DATA | ${sealUs.toFixed(2)} | ${openUs.toFixed(2)} | ${(sealUs + openUs).toFixed(2)} | ${(SIZE / sealUs).toFixed(0)} |`);
}

async function main(): Promise<void> {
  const candidates: Candidate[] = [
    nodeCipher('chacha20-poly1305', false),
    nodeCipher('chacha20-poly1305', true),
    nodeCipher('aes-256-gcm', false),
    nodeCipher('aes-256-gcm', true),
  ];
  const sn = sodiumNative();
  if (sn) candidates.push(sn);
  else console.log('sodium-native: not installed');
  const lw = await libsodiumWrappers();
  if (lw) candidates.push(lw);
  else console.log('libsodium-wrappers: not installed');

  console.log(`AEAD per packet: ${SIZE}-byte datagrams, ${PACKETS} packets × ${ROUNDS} rounds, fastest round, µs per packet`);
  console.log('| AEAD | seal µs | open µs | seal+open µs | MB/s (seal) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const c of candidates) {
    const { sealUs, openUs } = measure(c);
    const mbs = SIZE / sealUs;
    console.log(`| ${c.name} | ${sealUs.toFixed(2)} | ${openUs.toFixed(2)} | ${(sealUs + openUs).toFixed(2)} | ${mbs.toFixed(0)} |`);
  }
  await protectionRow('node');
  if (sn) await protectionRow('auto');
}

await main();
