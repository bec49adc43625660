import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stateless address-validation cookies (design.md "Handshake" step 2).
 *
 *   cookie = u32 BE timestamp (seconds on the server's clock)
 *          ‖ first 16 bytes of HMAC-SHA256(secret, ip ‖ 0x00 ‖ port ‖ clientCid ‖ timestamp)
 *
 * The server keeps no per-client state: a cookie proves that whoever sends it received the RETRY
 * at the address it claims. Secrets rotate every `rotationMs`; cookies minted with the current or
 * the previous secret are accepted for `lifetimeMs`. HMAC is deterministic, so this stays sans-IO:
 * the only randomness (new secrets) comes from the injected `randomBytes`.
 */
export const COOKIE_SIZE = 4 + 16;
const SECRET_SIZE = 32;

export interface CookieJarOptions {
  randomBytes: (n: number) => Uint8Array;
  /** How often the secret changes, ms. Default 120,000. */
  rotationMs?: number;
  /** How long a cookie stays valid, ms. Default 10,000. */
  lifetimeMs?: number;
  now: number;
}

export type CookieCheck = 'ok' | 'expired' | 'invalid';

export class CookieJar {
  private current: Uint8Array;
  private previous: Uint8Array;
  private rotatedAt: number;
  private readonly randomBytes: (n: number) => Uint8Array;
  readonly rotationMs: number;
  readonly lifetimeMs: number;

  constructor(options: CookieJarOptions) {
    this.randomBytes = options.randomBytes;
    this.rotationMs = options.rotationMs ?? 120_000;
    this.lifetimeMs = options.lifetimeMs ?? 10_000;
    this.current = this.randomBytes(SECRET_SIZE);
    // No previous secret yet: a fresh random one that no cookie was made with.
    this.previous = this.randomBytes(SECRET_SIZE);
    this.rotatedAt = options.now;
  }

  /** Rotate lazily: the secret only needs to be right when a cookie is made or checked. */
  private rotate(now: number): void {
    const elapsed = now - this.rotatedAt;
    if (elapsed < this.rotationMs) return;
    if (elapsed >= 2 * this.rotationMs) {
      // Both secrets are too old to matter: replace both.
      this.previous = this.randomBytes(SECRET_SIZE);
      this.current = this.randomBytes(SECRET_SIZE);
    } else {
      this.previous = this.current;
      this.current = this.randomBytes(SECRET_SIZE);
    }
    this.rotatedAt = now - (elapsed % this.rotationMs);
  }

  mint(now: number, address: string, port: number, clientCid: bigint): Uint8Array {
    this.rotate(now);
    const timestamp = Math.floor(now / 1000) >>> 0;
    const cookie = new Uint8Array(COOKIE_SIZE);
    writeU32(cookie, 0, timestamp);
    cookie.set(tag(this.current, address, port, clientCid, timestamp), 4);
    return cookie;
  }

  check(now: number, address: string, port: number, clientCid: bigint, cookie: Uint8Array): CookieCheck {
    if (cookie.length !== COOKIE_SIZE) return 'invalid';
    this.rotate(now);
    const timestamp =
      ((cookie[0]! << 24) | (cookie[1]! << 16) | (cookie[2]! << 8) | cookie[3]!) >>> 0;
    const mac = cookie.subarray(4);
    const valid =
      timingSafeEqual(mac, tag(this.current, address, port, clientCid, timestamp)) ||
      timingSafeEqual(mac, tag(this.previous, address, port, clientCid, timestamp));
    if (!valid) return 'invalid';
    const nowSeconds = Math.floor(now / 1000);
    // Seconds are truncated, so a cookie may be up to one second older than it looks.
    const age = (nowSeconds - timestamp) * 1000;
    if (age < 0 || age > this.lifetimeMs) return 'expired';
    return 'ok';
  }
}

function tag(secret: Uint8Array, address: string, port: number, cid: bigint, timestamp: number): Uint8Array {
  const fixed = new Uint8Array(2 + 8 + 4);
  fixed[0] = (port >>> 8) & 0xff;
  fixed[1] = port & 0xff;
  new DataView(fixed.buffer).setBigUint64(2, cid);
  writeU32(fixed, 10, timestamp);
  const h = createHmac('sha256', secret);
  h.update(address, 'utf8');
  // A separator so that ("1.2.3.4", port) and ("1.2.3.41", other port) cannot collide.
  h.update(new Uint8Array([0]));
  h.update(fixed);
  return new Uint8Array(h.digest().subarray(0, 16));
}

function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** First 16 bytes of HMAC-SHA256(key, cid): the stateless-reset token for a connection ID. */
export function resetTokenFor(key: Uint8Array, cid: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, cid);
  return new Uint8Array(createHmac('sha256', key).update(b).digest().subarray(0, 16));
}

/** Compare two tokens in constant time (for equal lengths). */
export function tokensEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
