/**
 * The cryptographic primitives the secure handshake and packet protection need, as an interface
 * the shell injects (src/crypto/node-suite.ts implements it with node:crypto, and with
 * sodium-native for the per-packet AEAD when that optional package is installed). Keeping them
 * behind an interface keeps src/core free of node:* imports and lets tests substitute a suite.
 *
 * Every primitive is deterministic: randomness (ephemeral keys) comes from the endpoint's
 * injected `randomBytes`, so a seeded simulation replays a handshake byte for byte.
 */

/** Bytes of an X25519 key (private or public) and of its shared secret. */
export const KEY_SIZE = 32;
/** Bytes of a ChaCha20-Poly1305 tag. */
export const TAG_SIZE = 16;
/** Bytes of a ChaCha20-Poly1305 nonce. */
export const NONCE_SIZE = 12;

/** ChaCha20-Poly1305 (RFC 8439) bound to one key: the per-packet fast path. */
export interface PacketCipher {
  /**
   * Encrypt `plain` and write ciphertext then the 16-byte tag into `out` at `outOffset`
   * (`plain.length + 16` bytes). `plain` may be a view of `out` at the same offset (in place).
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array, out: Uint8Array, outOffset: number): void;
  /**
   * Verify and decrypt `sealed` (ciphertext ‖ tag) into `out` at `outOffset`
   * (`sealed.length - 16` bytes). `sealed` may be a view of `out` at the same offset (in place:
   * packet protection opens a received datagram where it lies). Returns false, leaving `out`
   * untouched, if the tag does not verify (the tag is checked before anything is written).
   * Never throws for bad input.
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array, outOffset: number): boolean;
}

export interface CryptoSuite {
  /** Name of the AEAD implementation (for stats and benchmarks), e.g. 'sodium-native'. */
  readonly aeadBackend: string;
  /** The X25519 public key of a 32-byte private key (RFC 7748 clamping applies). */
  x25519Public(privateKey: Uint8Array): Uint8Array;
  /** X25519(privateKey, publicKey); null when the peer's key is invalid (an all-zero result). */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** A ChaCha20-Poly1305 cipher for `key` (32 bytes). */
  cipher(key: Uint8Array): PacketCipher;
}
