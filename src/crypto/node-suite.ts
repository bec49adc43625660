import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
} from 'node:crypto';
import { createRequire } from 'node:module';
import type { CryptoSuite, PacketCipher } from '../core/secure/suite.js';

/**
 * The crypto suite of the Node shell: SHA-256 and HMAC from node:crypto; ChaCha20-Poly1305 and
 * X25519 from sodium-native when that optional package is installed (one native call per packet,
 * ~1.7 µs per 1,200 bytes here) or else from node:crypto (`createCipheriv` per packet, ~7 µs,
 * most of it creating the cipher object). Both produce the same bytes (RFC 8439, RFC 7748), so
 * peers need not agree on the backend. bench/aead.ts measures them;
 * docs/performance.md "Packet protection" records the choice.
 */

const TAG = 16;
/**
 * Raw X25519 keys enter node:crypto as JWK: importing PKCS#8/SPKI DER goes through OpenSSL 3's
 * decoders, ~3 ms per key on this machine, JWK ~0.07 ms. A private JWK must carry `x` (the
 * public key) but Node builds the key from `d` alone (x is only type-checked), so a placeholder
 * does; test/core/secure/noise.test.ts checks the keys this derives against the Noise vectors.
 */
const PLACEHOLDER_X = Buffer.alloc(32).toString('base64url');

function privateKeyObject(raw: Uint8Array) {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(raw).toString('base64url'), x: PLACEHOLDER_X }, format: 'jwk' });
}

function publicKeyObject(raw: Uint8Array) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

function nodeCipher(key: Uint8Array): PacketCipher {
  const k = Buffer.from(key);
  return {
    seal(nonce, aad, plain, out, outOffset) {
      const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG });
      c.setAAD(aad, { plaintextLength: plain.length });
      const body = c.update(plain);
      c.final();
      out.set(body, outOffset);
      out.set(c.getAuthTag(), outOffset + body.length);
    },
    open(nonce, aad, sealed, out, outOffset) {
      if (sealed.length < TAG) return false;
      try {
        const d = createDecipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG });
        d.setAAD(aad, { plaintextLength: sealed.length - TAG });
        d.setAuthTag(sealed.subarray(sealed.length - TAG));
        const body = d.update(sealed.subarray(0, sealed.length - TAG));
        d.final();
        out.set(body, outOffset);
        return true;
      } catch {
        return false;
      }
    },
  };
}

interface SodiumNative {
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}

function loadSodium(): SodiumNative | null {
  if (process.env['RELIABLE_DGRAM_AEAD'] === 'node') return null;
  try {
    return createRequire(import.meta.url)('sodium-native') as SodiumNative;
  } catch {
    return null;
  }
}

/** Where sodium-native decrypts before the plaintext is copied into place (one for the process: used and done within a call). */
let scratch = new Uint8Array(2048);

function sodiumCipher(sodium: SodiumNative, key: Uint8Array): PacketCipher {
  const k = Buffer.from(key);
  return {
    seal(nonce, aad, plain, out, outOffset) {
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
        out.subarray(outOffset, outOffset + plain.length + TAG),
        plain,
        aad,
        null,
        nonce,
        k,
      );
    },
    open(nonce, aad, sealed, out, outOffset) {
      const length = sealed.length - TAG;
      if (length < 0) return false;
      // libsodium zeroes its output when the tag fails: decrypting in place would destroy a
      // packet that a second key (a key update) or nobody (a forgery) should have left intact.
      // So into the scratch buffer, then copied where it belongs.
      if (scratch.length < length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length));
      const m = scratch.subarray(0, length);
      try {
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, sealed, aad, nonce, k);
      } catch {
        return false;
      }
      out.set(m, outOffset);
      return true;
    },
  };
}

let sodium: SodiumNative | null | undefined;

/**
 * Build the suite. `aead: 'node'` forces node:crypto for everything, packets and X25519 alike
 * (benchmarks and tests compare the two backends; so does the environment variable
 * RELIABLE_DGRAM_AEAD=node).
 */
export function createNodeSuite(options: { aead?: 'auto' | 'node' } = {}): CryptoSuite {
  if (sodium === undefined) sodium = loadSodium();
  const s = options.aead === 'node' ? null : sodium;
  return {
    aeadBackend: s ? 'sodium-native' : 'node:crypto',
    x25519Public(privateKey) {
      if (s) {
        const out = new Uint8Array(32);
        s.crypto_scalarmult_base(out, privateKey);
        return out;
      }
      const jwk = createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' });
      return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
    },
    x25519(privateKey, publicKey) {
      let out: Uint8Array;
      try {
        if (s) {
          out = new Uint8Array(32);
          // libsodium refuses (throws for) a low-order point, whose result would be all zeros.
          s.crypto_scalarmult(out, privateKey, publicKey);
        } else {
          out = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) });
        }
      } catch {
        return null;
      }
      let acc = 0;
      for (const b of out) acc |= b;
      return acc === 0 ? null : new Uint8Array(out);
    },
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
    cipher: (key) => (s ? sodiumCipher(s, key) : nodeCipher(key)),
  };
}

let shared: CryptoSuite | null = null;

/** The process-wide default suite. */
export function nodeSuite(): CryptoSuite {
  return (shared ??= createNodeSuite());
}
