import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW, ReplayWindow } from '../../../src/core/secure/replay-window.js';

describe('ReplayWindow (RFC 6479)', () => {
  it('accepts each number once, rejects repeats, and rejects numbers below the window', () => {
    const w = new ReplayWindow();
    expect(w.check(0)).toBe('fresh');
    w.accept(0);
    expect(w.check(0)).toBe('replay');
    w.accept(5);
    expect([w.check(3), w.check(5), w.check(6)]).toEqual(['fresh', 'replay', 'fresh']);
    w.accept(5 + REPLAY_WINDOW);
    expect(w.check(5)).toBe('old');
    expect(w.check(6)).toBe('fresh');
    // A jump beyond the whole ring clears it.
    w.accept(10 * REPLAY_WINDOW);
    expect(w.check(10 * REPLAY_WINDOW - 1)).toBe('fresh');
    expect(w.check(10 * REPLAY_WINDOW)).toBe('replay');
  });

  it('check never changes state (only accept does)', () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 100; i++) expect(w.check(1_000_000 + i)).toBe('fresh');
    expect(w.largest).toBe(-1);
  });

  it('agrees with an exact set model on arbitrary reordered sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30_000 }), { maxLength: 600 }), (pns) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let top = -1;
        for (const pn of pns) {
          const expected = pn > top ? 'fresh' : pn + REPLAY_WINDOW <= top ? 'old' : seen.has(pn) ? 'replay' : 'fresh';
          expect(w.check(pn)).toBe(expected);
          if (expected === 'fresh') {
            w.accept(pn);
            seen.add(pn);
            top = Math.max(top, pn);
          }
        }
      }),
      { seed: 6479, numRuns: 300 },
    );
  });
});
