import { describe, expect, it } from 'vitest';
import { ChatError } from '../../src/protocol/codes.js';
import { OWASP_SCRYPT, PasswordHasher } from '../../src/server/passwords.js';
import { LoginThrottle, TokenBuckets } from '../../src/server/throttle.js';
import { hashToken, newToken } from '../../src/server/tokens.js';
import { TEST_SCRYPT } from '../support/harness.js';

describe('password hashing', () => {
  it('defaults to OWASP scrypt parameters (N=2^17, r=8, p=1)', () => {
    expect(OWASP_SCRYPT).toEqual({ log2N: 17, r: 8, p: 1 });
    expect(new PasswordHasher().params).toEqual(OWASP_SCRYPT);
  });

  it('hashes with a fresh 16-byte salt and verifies in constant time', async () => {
    const hasher = new PasswordHasher({ params: TEST_SCRYPT });
    const a = await hasher.hash('correct horse battery');
    const b = await hasher.hash('correct horse battery');
    expect(a).not.toBe(b);
    expect(Buffer.from(a.split('$')[4] ?? '', 'base64')).toHaveLength(16);
    expect(await hasher.verify('correct horse battery', a)).toBe(true);
    expect(await hasher.verify('correct horse batterY', a)).toBe(false);
    expect(await hasher.verify('anything', 'not-a-hash')).toBe(false);
    expect(await hasher.verifyNobody('anything')).toBe(false);
  });

  it('verifies hashes made with other parameters and flags them for rehashing', async () => {
    const old = new PasswordHasher({ params: { log2N: 5, r: 8, p: 1 } });
    const current = new PasswordHasher({ params: TEST_SCRYPT });
    const stored = await old.hash('password-1');
    expect(await current.verify('password-1', stored)).toBe(true);
    expect(current.needsRehash(stored)).toBe(true);
    expect(current.needsRehash(await current.hash('password-1'))).toBe(false);
  });

  it('runs at most `concurrency` hashes and refuses work beyond its queue with BUSY', async () => {
    const hasher = new PasswordHasher({ params: TEST_SCRYPT, concurrency: 1, maxQueued: 2 });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => hasher.hash(`password-${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(ChatError);
    expect((rejected[0]?.reason as ChatError).code).toBe('BUSY');
  });
});

describe('session tokens', () => {
  it('are 32 random bytes, stored as SHA-256', () => {
    const token = newToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(newToken()).not.toBe(token);
    expect(hashToken(token)).toHaveLength(32);
    expect(hashToken(token).equals(hashToken(token))).toBe(true);
  });
});

describe('throttling', () => {
  it('allows a burst, then one try per refill period', () => {
    const buckets = new TokenBuckets({ burst: 3, refillMs: 1000 });
    for (let i = 0; i < 3; i++) {
      expect(buckets.retryAfter('k', 0)).toBe(0);
      buckets.spend('k', 0);
    }
    expect(buckets.retryAfter('k', 0)).toBe(1000);
    expect(buckets.retryAfter('k', 400)).toBe(600);
    expect(buckets.retryAfter('k', 1000)).toBe(0);
    // Full again after 3 refills: the key is forgotten, memory stays bounded.
    expect(buckets.retryAfter('k', 4000)).toBe(0);
    expect(buckets.size).toBe(0);
  });

  it('counts per user (case-insensitively) and per address', () => {
    const t = new LoginThrottle({ perUser: { burst: 2, refillMs: 1000 }, perAddress: { burst: 3, refillMs: 1000 } });
    t.reserve('Alice', '10.0.0.1', 0);
    t.reserve('alice', '10.0.0.2', 0);
    expect(t.retryAfter('ALICE', '10.0.0.3', 0)).toBeGreaterThan(0);
    expect(t.retryAfter('bob', '10.0.0.3', 0)).toBe(0);
    t.reserve('x', '10.0.0.9', 0);
    t.reserve('y', '10.0.0.9', 0);
    t.reserve('z', '10.0.0.9', 0);
    expect(t.retryAfter('bob', '10.0.0.9', 0)).toBeGreaterThan(0);
  });
});
