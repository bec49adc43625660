/**
 * Login throttling is race-free on one node too: each attempt reserves its try in the store
 * (one transaction) before the password is checked, so 30 concurrent guesses on 30 connections
 * check exactly the user's burst of 5, however the hashing interleaves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, errorCode, type Harness } from '../support/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('login throttle under concurrency', { timeout: 10_000 }, () => {
  it('checks at most the burst of passwords when guesses arrive together', async () => {
    h = await createHarness();
    const setup = await h.client();
    await setup.register('alice', 'the-right-password');
    const guessers = await Promise.all(Array.from({ length: 30 }, () => h.client()));
    const codes = await Promise.all(guessers.map((c, i) => errorCode(c.login('alice', `wrong-guess-${i}`))));
    expect(codes.filter((c) => c === 'AUTH_FAILED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(25);
    expect(h.logs.filter((l) => l.startsWith('login failed '))).toHaveLength(5);
  });

  it('gives a successful attempt its try back', async () => {
    h = await createHarness();
    const c = await h.client();
    await c.register('bob', 'bob-password');
    // Ten right logins in a row never use up bob's five tries.
    for (let i = 0; i < 10; i++) await c.login('bob', 'bob-password');
    for (let i = 0; i < 5; i++) expect(await errorCode(c.login('bob', 'nope-nope'))).toBe('AUTH_FAILED');
    expect(await errorCode(c.login('bob', 'bob-password'))).toBe('RATE_LIMITED');
  });
});
