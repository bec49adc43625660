import { describe, expect, it } from 'vitest';
import { COOKIE_SIZE, CookieJar, resetTokenFor, tokensEqual } from '../../src/core/cookie.js';
import { seededRandomBytes } from './endpoint-harness.js';

function jar(lifetimeMs = 10_000, rotationMs = 120_000) {
  return new CookieJar({ randomBytes: seededRandomBytes(9), lifetimeMs, rotationMs, now: 0 });
}

describe('CookieJar', () => {
  it('mints 20-byte cookies bound to address, port and client CID', () => {
    const j = jar();
    const c = j.mint(1000, '10.0.0.1', 5000, 42n);
    expect(c.length).toBe(COOKIE_SIZE);
    expect(j.check(1000, '10.0.0.1', 5000, 42n, c)).toBe('ok');
    expect(j.check(1000, '10.0.0.2', 5000, 42n, c)).toBe('invalid');
    expect(j.check(1000, '10.0.0.1', 5001, 42n, c)).toBe('invalid');
    expect(j.check(1000, '10.0.0.1', 5000, 43n, c)).toBe('invalid');
    // Address/port boundary ambiguity cannot collide: "10.0.0.1" port 15000 vs "10.0.0.11" port 5000.
    expect(j.check(1000, '10.0.0.11', 5000, 42n, j.mint(1000, '10.0.0.1', 15000, 42n))).toBe('invalid');
  });

  it('rejects a flipped bit anywhere, a truncated cookie and a forged timestamp', () => {
    const j = jar();
    const c = j.mint(5000, 'a', 1, 1n);
    for (let i = 0; i < c.length; i++) {
      const bad = new Uint8Array(c);
      bad[i]! ^= 1;
      expect(j.check(5000, 'a', 1, 1n, bad), `byte ${i}`).not.toBe('ok');
    }
    expect(j.check(5000, 'a', 1, 1n, c.subarray(0, 19))).toBe('invalid');
    expect(j.check(5000, 'a', 1, 1n, new Uint8Array(0))).toBe('invalid');
  });

  it('expires cookies after their lifetime (and from the future)', () => {
    const j = jar(10_000);
    const c = j.mint(20_000, 'a', 1, 1n);
    expect(j.check(29_999, 'a', 1, 1n, c)).toBe('ok');
    expect(j.check(30_000, 'a', 1, 1n, c)).toBe('ok');
    expect(j.check(31_000, 'a', 1, 1n, c)).toBe('expired');
    expect(j.check(19_000, 'a', 1, 1n, c)).toBe('expired');
  });

  it('accepts the previous secret after one rotation, not after two', () => {
    const j = jar(1_000_000, 120_000);
    const c = j.mint(100_000, 'a', 1, 1n);
    expect(j.check(130_000, 'a', 1, 1n, c)).toBe('ok'); // rotated once: previous secret
    expect(j.check(250_000, 'a', 1, 1n, c)).toBe('invalid'); // rotated twice
    const d = j.mint(250_000, 'a', 1, 1n);
    // A long silence replaces both secrets.
    expect(j.check(900_000, 'a', 1, 1n, d)).toBe('invalid');
  });

  it('two jars (two servers, or a restart) do not accept each other’s cookies', () => {
    const a = new CookieJar({ randomBytes: seededRandomBytes(1), now: 0 });
    const b = new CookieJar({ randomBytes: seededRandomBytes(2), now: 0 });
    expect(b.check(0, 'x', 1, 1n, a.mint(0, 'x', 1, 1n))).toBe('invalid');
  });
});

describe('reset tokens', () => {
  it('are 16 bytes, deterministic per key and CID, and compared exactly', () => {
    const key = new Uint8Array(32).fill(1);
    const t = resetTokenFor(key, 5n);
    expect(t.length).toBe(16);
    expect(tokensEqual(t, resetTokenFor(key, 5n))).toBe(true);
    expect(tokensEqual(t, resetTokenFor(key, 6n))).toBe(false);
    expect(tokensEqual(t, resetTokenFor(new Uint8Array(32).fill(2), 5n))).toBe(false);
    expect(tokensEqual(t, t.subarray(0, 15))).toBe(false);
  });
});
