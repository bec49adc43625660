/**
 * Password hashing with scrypt (node:crypto), OWASP parameters by default: N=2^17, r=8, p=1.
 * That needs 128·N·r = 128 MiB per hash, above Node's 32 MiB `maxmem` default, so maxmem is
 * raised. Hashing runs on libuv's thread pool (async API), never on the event loop, and at most
 * `concurrency` hashes run at once with a bounded queue behind them: a flood of logins cannot
 * exhaust memory, it gets BUSY.
 *
 * Stored format: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`; verification uses the stored
 * parameters, so a hash made with other parameters still verifies (and can be upgraded).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ChatError } from '../protocol/codes.js';

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1. */
export const OWASP_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.log2N;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    // 128·N·r bytes are needed; leave headroom for Node's own accounting.
    maxmem: 128 * N * params.r * params.p + 32 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function encode(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return `scrypt$${params.log2N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function decode(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [log2N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![log2N, r, p].every((n) => Number.isInteger(n) && n > 0 && n < 64)) return undefined;
  return { params: { log2N, r, p }, salt: Buffer.from(parts[4] ?? '', 'base64'), key: Buffer.from(parts[5] ?? '', 'base64') };
}

export interface PasswordHasherOptions {
  params?: ScryptParams;
  /** Hashes running at once (each holds 128·N·r bytes). Default 2. */
  concurrency?: number;
  /** Hash requests waiting for a slot before new ones are refused with BUSY. Default 64. */
  maxQueued?: number;
}

export class PasswordHasher {
  readonly params: ScryptParams;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Verified against when the user does not exist, so both cases cost one hash. */
  private dummyHash: Promise<string> | undefined;

  constructor(options: PasswordHasherOptions = {}) {
    this.params = options.params ?? OWASP_SCRYPT;
    this.concurrency = options.concurrency ?? 2;
    this.maxQueued = options.maxQueued ?? 64;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.limited(() => scryptAsync(password, salt, this.params));
    return encode(this.params, salt, key);
  }

  /** Constant-time check of `password` against a stored hash; false for a malformed hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const decoded = decode(stored);
    if (!decoded) return false;
    const key = await this.limited(() => scryptAsync(password, decoded.salt, decoded.params));
    return key.length === decoded.key.length && timingSafeEqual(key, decoded.key);
  }

  /** Burns the same work as a real verification, for unknown users. Always false. */
  async verifyNobody(password: string): Promise<false> {
    this.dummyHash ??= this.hash('not a password of anybody');
    await this.verify(password, await this.dummyHash);
    return false;
  }

  /** True when a stored hash uses other parameters than the current ones (rehash on login). */
  needsRehash(stored: string): boolean {
    const decoded = decode(stored);
    return !decoded || decoded.params.log2N !== this.params.log2N || decoded.params.r !== this.params.r || decoded.params.p !== this.params.p;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) throw new ChatError('BUSY');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter, or free it.
      if (next) next();
      else this.running--;
    }
  }
}
