/**
 * An encrypted, server-authenticated channel over any Transport, because reliable-dgram 0.1 has
 * only a CRC (no authentication, no secrecy) and a chat sends passwords and session tokens.
 *
 * Handshake (one round trip, before any chat message; X25519, HKDF-SHA256, ChaCha20-Poly1305):
 *
 *   client -> server   0x01 | e_c                      (client's ephemeral public key, 32 bytes)
 *   server -> client   0x02 | s | e_s | confirm        (server's static and ephemeral keys,
 *                                                       and an AEAD tag over nothing)
 *
 *   ikm  = X25519(e_c, e_s) | X25519(e_c, s)           (the second proves the server holds s)
 *   keys = HKDF-SHA256(ikm, salt = SHA-256(e_c | s | e_s), info = "reliable-dgram chat v1", 64)
 *          -> client-to-server key | server-to-client key
 *
 * `confirm` is the server-to-client AEAD of an empty message under nonce 0: the client checks it
 * before sending anything, so a server without the static key is caught at once. The client
 * decides whether `s` is the server it wants (pinned fingerprint, or trust on first use, as SSH
 * does). Every later message is sealed with ChaCha20-Poly1305; nonces are per-direction
 * counters, never sent: the transport is reliable and ordered, so both sides count alike, and a
 * message that fails to open ends the connection. Both sides' ephemeral keys give forward secrecy.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import type { Link, LinkStats, Listener, Transport } from './transport.js';

const HELLO = 0x01;
const WELCOME = 0x02;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const INFO = Buffer.from('reliable-dgram chat v1');
/** DER prefix of an X25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** A handshake that does not finish in this long is abandoned. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class SecureChannelError extends Error {
  constructor(readonly code: 'ERR_HANDSHAKE' | 'ERR_SERVER_KEY_MISMATCH' | 'ERR_DECRYPT', message: string) {
    super(message);
    this.name = 'SecureChannelError';
  }
}

/** The server's long-term identity. */
export interface ServerIdentity {
  privateKey: KeyObject;
  publicKey: Buffer;
}

export function generateServerIdentity(): { identity: ServerIdentity; pkcs8: Buffer } {
  const { privateKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { identity: identityFromPkcs8(pkcs8), pkcs8 };
}

export function identityFromPkcs8(pkcs8: Buffer): ServerIdentity {
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

/** A short, printable fingerprint of a server key: SHA-256, base64url, 22 characters (132 bits). */
export function fingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('base64url').slice(0, 22);
}

/** Client side: decide whether a server key is acceptable for host:port. */
export type TrustServer = (host: string, port: number, serverKey: Buffer) => boolean | Promise<boolean>;

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length);
}

function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function deriveKeys(ikm: Buffer, transcript: Buffer): { c2s: Buffer; s2c: Buffer } {
  const salt = createHash('sha256').update(transcript).digest();
  const okm = Buffer.from(hkdfSync('sha256', ikm, salt, INFO, 2 * KEY_BYTES));
  return { c2s: okm.subarray(0, KEY_BYTES), s2c: okm.subarray(KEY_BYTES) };
}

/** One direction of sealed messages: a key and a counter nonce. */
class Sealer {
  private counter = 0n;
  constructor(private readonly key: Buffer) {}

  private nextNonce(): Buffer {
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64LE(this.counter, 4);
    this.counter++;
    return nonce;
  }

  seal(plain: Uint8Array): Buffer {
    const cipher = createCipheriv('chacha20-poly1305', this.key, this.nextNonce(), { authTagLength: TAG_BYTES });
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([body, cipher.getAuthTag()]);
  }

  /** The plaintext, or null when the message is forged, altered or out of order. */
  open(sealed: Uint8Array): Buffer | null {
    if (sealed.byteLength < TAG_BYTES) return null;
    const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const decipher = createDecipheriv('chacha20-poly1305', this.key, this.nextNonce(), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return null;
    }
  }
}

/** A Link whose messages are sealed and opened on the way through. */
class SecureLink implements Link {
  private readonly messageListeners: ((data: Uint8Array) => void)[] = [];
  /** Messages that arrived before anyone listened (right after the handshake). */
  private early: Buffer[] | null = [];

  constructor(private readonly inner: Link, private readonly out: Sealer, private readonly inbound: Sealer) {}

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  send(data: Uint8Array): boolean {
    return this.inner.send(this.out.seal(data));
  }
  /** Called by the handshake code with every message after it. */
  deliver(sealed: Uint8Array): void {
    const plain = this.inbound.open(sealed);
    if (!plain) {
      this.inner.destroy(new SecureChannelError('ERR_DECRYPT', 'a message failed authentication'));
      return;
    }
    if (this.early) this.early.push(plain);
    else for (const l of this.messageListeners) l(plain);
  }
  onMessage(listener: (data: Uint8Array) => void): void {
    this.messageListeners.push(listener);
    const early = this.early;
    if (!early) return;
    this.early = null;
    queueMicrotask(() => {
      for (const plain of early) for (const l of this.messageListeners) l(plain);
    });
  }
  onClose(listener: (err?: Error) => void): void {
    this.inner.onClose(listener);
  }
  onDrain(listener: () => void): void {
    this.inner.onDrain(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  destroy(err?: Error): void {
    this.inner.destroy(err);
  }
  stats(): LinkStats {
    return this.inner.stats?.() ?? { rttMs: NaN, packetsSent: 0, packetsLost: 0 };
  }
}

export interface SecureTransportOptions {
  /** Server side: its static key. Required to listen. */
  identity?: ServerIdentity;
  /** Client side: which server keys to accept. Required to connect. */
  trust?: TrustServer;
}

export class SecureTransport implements Transport {
  constructor(private readonly inner: Transport, private readonly options: SecureTransportOptions) {}

  async listen(host: string, port: number): Promise<Listener> {
    const identity = this.options.identity;
    if (!identity) throw new TypeError('SecureTransport.listen needs a server identity');
    const listener = await this.inner.listen(host, port);
    return {
      host: listener.host,
      port: listener.port,
      onLink: (onSecureLink) => listener.onLink((link) => acceptHandshake(link, identity, onSecureLink)),
      close: () => listener.close(),
    };
  }

  async connect(host: string, port: number, options?: { signal?: AbortSignal }): Promise<Link> {
    const trust = this.options.trust;
    if (!trust) throw new TypeError('SecureTransport.connect needs a trust function');
    const link = await this.inner.connect(host, port, options);
    try {
      return await clientHandshake(link, host, port, trust);
    } catch (err) {
      link.destroy();
      throw err;
    }
  }
}

function acceptHandshake(link: Link, identity: ServerIdentity, onSecureLink: (link: Link) => void): void {
  let secure: SecureLink | null = null;
  const timer = setTimeout(() => {
    if (!secure) link.destroy(new SecureChannelError('ERR_HANDSHAKE', 'handshake timed out'));
  }, HANDSHAKE_TIMEOUT_MS);
  timer.unref();
  link.onClose(() => clearTimeout(timer));
  link.onMessage((data) => {
    if (secure) {
      secure.deliver(data);
      return;
    }
    clearTimeout(timer);
    if (data.byteLength !== 1 + KEY_BYTES || data[0] !== HELLO) {
      link.destroy(new SecureChannelError('ERR_HANDSHAKE', 'expected a handshake'));
      return;
    }
    try {
      const clientEphemeral = data.subarray(1);
      const { publicKey, privateKey } = generateKeyPairSync('x25519');
      const serverEphemeral = rawPublicKey(publicKey);
      const peer = publicKeyFromRaw(clientEphemeral);
      const ikm = Buffer.concat([
        diffieHellman({ privateKey, publicKey: peer }),
        diffieHellman({ privateKey: identity.privateKey, publicKey: peer }),
      ]);
      const keys = deriveKeys(ikm, Buffer.concat([clientEphemeral, identity.publicKey, serverEphemeral]));
      const out = new Sealer(keys.s2c);
      const confirm = out.seal(new Uint8Array(0));
      secure = new SecureLink(link, out, new Sealer(keys.c2s));
      link.send(Buffer.concat([Buffer.of(WELCOME), identity.publicKey, serverEphemeral, confirm]));
      onSecureLink(secure);
    } catch {
      // An invalid public key (e.g. a low-order point) makes X25519 throw.
      link.destroy(new SecureChannelError('ERR_HANDSHAKE', 'bad handshake'));
    }
  });
}

function clientHandshake(link: Link, host: string, port: number, trust: TrustServer): Promise<Link> {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const clientEphemeral = rawPublicKey(publicKey);
  return new Promise<Link>((resolve, reject) => {
    let secure: SecureLink | null = null;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => fail(new SecureChannelError('ERR_HANDSHAKE', 'handshake timed out')), HANDSHAKE_TIMEOUT_MS);
    link.onClose((err) => fail(err ?? new SecureChannelError('ERR_HANDSHAKE', 'closed during the handshake')));
    link.onMessage((data) => {
      if (secure) {
        secure.deliver(data);
        return;
      }
      if (settled) return;
      void (async () => {
        if (data.byteLength !== 1 + 2 * KEY_BYTES + TAG_BYTES || data[0] !== WELCOME) {
          throw new SecureChannelError('ERR_HANDSHAKE', 'unexpected handshake reply');
        }
        const serverKey = Buffer.from(data.subarray(1, 1 + KEY_BYTES));
        const serverEphemeral = data.subarray(1 + KEY_BYTES, 1 + 2 * KEY_BYTES);
        const ikm = Buffer.concat([
          diffieHellman({ privateKey, publicKey: publicKeyFromRaw(serverEphemeral) }),
          diffieHellman({ privateKey, publicKey: publicKeyFromRaw(serverKey) }),
        ]);
        const keys = deriveKeys(ikm, Buffer.concat([clientEphemeral, serverKey, serverEphemeral]));
        const inbound = new Sealer(keys.s2c);
        if (!inbound.open(data.subarray(1 + 2 * KEY_BYTES))) {
          throw new SecureChannelError('ERR_HANDSHAKE', 'the server could not prove it holds its key');
        }
        // Messages may follow the welcome at once: from here on they are opened, not parsed.
        secure = new SecureLink(link, new Sealer(keys.c2s), inbound);
        if (!(await trust(host, port, serverKey))) {
          throw new SecureChannelError('ERR_SERVER_KEY_MISMATCH', `the server key of ${host}:${port} (${fingerprint(serverKey)}) is not the trusted one`);
        }
        settled = true;
        clearTimeout(timer);
        resolve(secure);
      })().catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))));
    });
    link.send(Buffer.concat([Buffer.of(HELLO), clientEphemeral]));
  });
}
