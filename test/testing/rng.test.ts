import { describe, expect, it } from 'vitest';
import { Rng, splitmix32 } from '../../src/testing/index.js';

describe('Rng', () => {
  it('replays the same stream from the same seed', () => {
    const a = new Rng(1234);
    const b = new Rng(1234);
    const xs = Array.from({ length: 1000 }, () => a.nextU32());
    const ys = Array.from({ length: 1000 }, () => b.nextU32());
    expect(xs).toEqual(ys);
  });

  it('gives unrelated streams for neighbouring seeds', () => {
    const a = new Rng(1);
    const b = new Rng(2);
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a.nextU32() === b.nextU32()) same++;
    expect(same).toBe(0);
  });

  it('is pinned: a seed gives the same numbers in every version (replays stay valid)', () => {
    const rng = new Rng(42);
    const first = [rng.nextU32(), rng.nextU32(), rng.nextU32()];
    // If this changes, every recorded failing seed stops replaying: do not change it lightly.
    expect(first).toEqual([1028872839, 2516511472, 400437680]);
    expect(splitmix32(0)()).toBe(splitmix32(0)());
  });

  it('next() is in [0, 1) and roughly uniform', () => {
    const rng = new Rng(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]!++;
    }
    // Each bucket expects 10 000 with sd ≈ 95; ±600 is > 6 sd.
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(600);
  });

  it('int(n) stays in range and hits every value', () => {
    const rng = new Rng(9);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(6);
      expect(Number.isInteger(v) && v >= 0 && v < 6).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(6);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.int(1.5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('bool(p) honours the probability, and the edges without drawing', () => {
    const rng = new Rng(11);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (rng.bool(0.3)) hits++;
    // mean 3000, sd ≈ 46
    expect(hits).toBeGreaterThan(2750);
    expect(hits).toBeLessThan(3250);
    const probe = new Rng(5);
    const twin = new Rng(5);
    expect(probe.bool(0)).toBe(false);
    expect(probe.bool(1)).toBe(true);
    expect(probe.nextU32()).toBe(twin.nextU32());
  });

  it('fork() gives a reproducible, independent child', () => {
    const parent1 = new Rng(99);
    const parent2 = new Rng(99);
    const child1 = parent1.fork();
    const child2 = parent2.fork();
    const c1 = Array.from({ length: 100 }, () => child1.nextU32());
    expect(Array.from({ length: 100 }, () => child2.nextU32())).toEqual(c1);
    const p1 = Array.from({ length: 100 }, () => parent1.nextU32());
    expect(p1).not.toEqual(c1);
  });

  it('derive() depends on seed and label only', () => {
    const a = Rng.derive(3, 'link:a>b');
    const b = Rng.derive(3, 'link:a>b');
    const c = Rng.derive(3, 'link:b>a');
    const d = Rng.derive(4, 'link:a>b');
    const x = a.nextU32();
    expect(b.nextU32()).toBe(x);
    expect(c.nextU32()).not.toBe(x);
    expect(d.nextU32()).not.toBe(x);
  });

  it('bytes(n) returns n reproducible bytes', () => {
    const a = new Rng(1).bytes(7);
    expect(a).toHaveLength(7);
    expect(new Rng(1).bytes(7)).toEqual(a);
    expect(new Rng(2).bytes(7)).not.toEqual(a);
  });

  it('rejects a non-number seed', () => {
    expect(() => new Rng(Number.NaN)).toThrow(TypeError);
  });
});
