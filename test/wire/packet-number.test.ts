import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expand32, truncate32 } from '../../src/wire/packet-number.js';

/**
 * Packet numbers and TSNs travel as their low 32 bits; the receiver restores them with
 * expand32(truncated, expected). Correct whenever the true value is within 2^31 of `expected`.
 */

const W = 2 ** 32;
const HALF = 2 ** 31;
const MAX = Number.MAX_SAFE_INTEGER;

/** `expected` anywhere, and especially near 0, near multiples of 2^32, and near 2^53. */
const expected = fc.oneof(
  fc.integer({ min: 0, max: MAX }),
  fc.integer({ min: 0, max: 4096 }),
  fc
    .tuple(fc.integer({ min: 0, max: Math.floor(MAX / W) }), fc.integer({ min: -4096, max: 4096 }))
    .map(([k, d]) => k * W + d)
    .filter((e) => e >= 0 && e <= MAX),
  fc.integer({ min: MAX - W, max: MAX }),
);

/** Distances within the window, biased toward its edges. */
const delta = fc.oneof(
  fc.integer({ min: -(HALF - 1), max: HALF - 1 }),
  fc.integer({ min: -(HALF - 1), max: -(HALF - 4096) }),
  fc.integer({ min: HALF - 4096, max: HALF - 1 }),
  fc.integer({ min: -4096, max: 4096 }),
);

describe('truncate32 / expand32', () => {
  it('expand32(truncate32(full), expected) === full whenever |full − expected| < 2^31', () => {
    fc.assert(
      fc.property(expected, delta, (e, d) => {
        const full = e + d;
        fc.pre(full >= 0 && full <= MAX);
        expect(expand32(truncate32(full), e)).toBe(full);
      }),
      { seed: 42, numRuns: 20_000 },
    );
  });

  it('truncate32 keeps the low 32 bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX }), (full) => {
        const t = truncate32(full);
        expect(t).toBeGreaterThanOrEqual(0);
        expect(t).toBeLessThan(W);
        expect(BigInt(t)).toBe(BigInt(full) & 0xffff_ffffn);
      }),
      { seed: 42, numRuns: 5000 },
    );
  });

  it('exhaustive around every wrap point near the start and near 2^53', () => {
    const centres = [0, 1, HALF, W - 1, W, W + 1, 2 * W, 3 * W + HALF, MAX - W, MAX - 1, MAX];
    for (const c of centres) {
      for (let de = -3; de <= 3; de++) {
        const e = c + de;
        if (e < 0 || e > MAX) continue;
        for (const d of [-(HALF - 1), -(HALF - 2), -1, 0, 1, HALF - 2, HALF - 1]) {
          const full = e + d;
          if (full < 0 || full > MAX) continue;
          expect(expand32(truncate32(full), e), `expected=${e} full=${full}`).toBe(full);
        }
      }
    }
  });

  it('worked examples (docs/protocol.md)', () => {
    // Largest received 0x1_0000_0004: expected 0x1_0000_0005.
    expect(expand32(0xffff_fff0, 0x1_0000_0005)).toBe(0xffff_fff0);
    expect(expand32(0x0000_0007, 0x1_0000_0005)).toBe(0x1_0000_0007);
    // 0x8000_0004 is 2^31 + 1 below but 2^31 − 1 above: the one above wins.
    expect(expand32(0x8000_0004, 0x1_0000_0005)).toBe(0x1_8000_0004);
    expect(expand32(0x8000_0006, 0x1_0000_0005)).toBe(0x8000_0006);
    // At the start nothing is negative: the candidate below 0 is not chosen.
    expect(expand32(0xffff_ffff, 0)).toBe(0xffff_ffff);
    // Never above 2^53 − 1.
    expect(expand32(0xffff_ffff, MAX)).toBe(MAX);
  });
});
