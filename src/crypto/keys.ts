import { generateKeyPairSync } from 'node:crypto';
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { nodeSuite } from './node-suite.js';

/** A static X25519 key pair: an endpoint's long-term identity for encrypted connections. */
export interface KeyPair {
  /** 32 bytes. Share it: clients pin it (`connect(port, host, { serverKey })`). */
  publicKey: Buffer;
  /** 32 bytes. Keep it secret, and keep it across restarts (clients pin the public half). */
  privateKey: Buffer;
}

/** A key as accepted by the API: 32 raw bytes, or their base64 (standard or URL-safe) encoding. */
export type KeyInput = Uint8Array | string;

/**
 * Generate a fresh X25519 key pair (from the operating system's randomness).
 *
 * @example
 * const keyPair = generateKeyPair();
 * const server = await createEndpoint({ port: 4000, keyPair });
 * console.log(keyPair.publicKey.toString('base64')); // give this to clients
 */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { publicKey: Buffer.from(pub.subarray(pub.length - 32)), privateKey: Buffer.from(priv.subarray(priv.length - 32)) };
}

/** Turn a key argument into 32 bytes; throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE. */
export function parseKey(value: unknown, name: string): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') {
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) throw new InvalidArgValueError(`${name} must be 32 bytes or their base64, got a string that is not base64`);
    bytes = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  } else if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else {
    throw new InvalidArgTypeError(`${name} must be a Buffer, Uint8Array or base64 string, got ${value === null ? 'null' : typeof value}`);
  }
  if (bytes.length !== 32) throw new InvalidArgValueError(`${name} must be 32 bytes, got ${bytes.length}`);
  return bytes;
}

/**
 * Validate a key pair argument: both halves 32 bytes (or base64), and the public key must be the
 * private key's (a mismatched pair would fail every handshake, far from its cause).
 */
export function parseKeyPair(value: unknown, name: string): KeyPair {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) {
    throw new InvalidArgTypeError(`${name} must be an object { publicKey, privateKey }`);
  }
  const v = value as Record<string, unknown>;
  const privateKey = parseKey(v['privateKey'], `${name}.privateKey`);
  const derived = Buffer.from(nodeSuite().x25519Public(privateKey));
  if (v['publicKey'] === undefined) return { publicKey: derived, privateKey };
  const publicKey = parseKey(v['publicKey'], `${name}.publicKey`);
  if (!publicKey.equals(derived)) throw new InvalidArgValueError(`${name}.publicKey is not the public key of ${name}.privateKey`);
  return { publicKey, privateKey };
}
