/**
 * The chat server's long-term identity and the client's trust in it, on reliable-dgram's own
 * transport encryption (the library's README "Encryption"): the server's endpoint holds an X25519
 * key pair, each client connection runs the library's authenticated handshake, and the client
 * judges the server's key through the endpoint's `verifyPeer` hook (reliable-dgram.ts): pinned by
 * fingerprint (`--server-key`) or trusted on first use (client/known-servers.ts).
 *
 * The identity is stored as PKCS#8 DER (the server database's `server-identity` secret), as it
 * was when the chat had its own secure channel, so existing servers keep their key and existing
 * clients their pins.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

/** The server's long-term key pair, raw 32-byte X25519 keys (what reliable-dgram's `keyPair` takes). */
export interface ServerIdentity {
  publicKey: Buffer;
  privateKey: Buffer;
}

/** Client side: decide whether a server key is acceptable for host:port (synchronously). */
export type TrustServer = (host: string, port: number, serverKey: Buffer) => boolean;

/** The client refused the server's key: what a man in the middle (or a reinstalled server) looks like. */
export class ServerKeyMismatchError extends Error {
  readonly code = 'ERR_SERVER_KEY_MISMATCH' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerKeyMismatchError';
  }
}

export function generateServerIdentity(): { identity: ServerIdentity; pkcs8: Buffer } {
  const { privateKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { identity: identityFromPkcs8(pkcs8), pkcs8 };
}

export function identityFromPkcs8(pkcs8: Buffer): ServerIdentity {
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  // X25519 DER encodings end with the raw 32-byte key.
  return { publicKey: Buffer.from(spki.subarray(spki.length - 32)), privateKey: Buffer.from(pkcs8.subarray(pkcs8.length - 32)) };
}

/** A short, printable fingerprint of a server key: SHA-256, base64url, 22 characters (132 bits). */
export function fingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('base64url').slice(0, 22);
}
