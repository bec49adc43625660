import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/core/pacer.js';
import { Pair, prng } from '../helpers/pair.js';
import { sameMap } from '../helpers/v8-natives.js';

/**
 * The hot path reads deadlines from double fields (`Pacer.holds` → `wait`, `refreshTimeout` →
 * `timeoutAt`) instead of taking them as returned doubles or `number | null`, each of which was a
 * new heap number per datagram (issue 11, bench/analysis.md "Stop 24 investigations"). The field
 * forms must say exactly what the returning forms say.
 */
describe('deadlines in fields', () => {
  it("Pacer.holds and its wait agree with delay() over a random sequence, granularity or not", () => {
    for (const granularity of [0, 1]) {
      const rnd = prng(7 + granularity);
      const byDelay = new Pacer();
      const byHolds = new Pacer();
      let now = 0;
      let held = 0;
      for (let i = 0; i < 5000; i++) {
        now += rnd() < 0.3 ? 0 : rnd() * 3;
        const bytes = 100 + Math.floor(rnd() * 1400);
        const rate = rnd() < 0.05 ? Infinity : 50 + rnd() * 500;
        const capacity = 2000 + Math.floor(rnd() * 10_000);
        const wait = byDelay.delay(now, bytes, rate, capacity, granularity);
        const holds = byHolds.holds(now, bytes, rate, capacity, granularity);
        expect(holds).toBe(wait > 0);
        if (holds) {
          held++;
          expect(byHolds.wait).toBe(wait);
        } else {
          byDelay.consume(bytes);
          byHolds.consume(bytes);
        }
        if (rnd() < 0.02) {
          byDelay.forfeit(capacity);
          byHolds.forfeit(capacity);
        }
      }
      expect(held).toBeGreaterThan(100); // the sequence does make it wait
    }
  });

  it("a pacer that has waited keeps a fresh pacer's hidden class (its wait and tokens are doubles from the start)", () => {
    const fresh = new Pacer();
    const used = new Pacer();
    used.delay(0, 1000, 10, 1000);
    used.consume(999.5);
    expect(used.holds(0.25, 1000, 10, 1000)).toBe(true);
    expect(used.wait % 1).not.toBe(0);
    expect(sameMap(fresh, used)).toBe(true);
  });

  it("ConnectionCore.refreshTimeout's timeoutAt is pollTimeout() (Infinity for null) at every step of a lossy transfer", () => {
    const pair = new Pair({ seed: 11, link: { delay: 10, loss: 0.05, reorder: 0.05 }, config: { idleTimeout: 5000 } });
    pair.keepMessages = false;
    const bytes = 300_000;
    for (let sent = 0; sent < bytes; sent += 10_000) pair.a.send(new Uint8Array(10_000));
    let checked = 0;
    let finite = 0;
    pair.check = () => {
      for (const core of [pair.a, pair.b]) {
        const polled = core.pollTimeout();
        core.refreshTimeout();
        expect(core.timeoutAt).toBe(polled ?? Infinity);
        checked++;
        if (polled !== null) finite++;
      }
    };
    pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes);
    pair.a.close(pair.now);
    pair.runUntil(() => pair.a.state === 'closed' && pair.b.state === 'closed');
    expect(pair.a.pollTimeout()).toBeNull();
    pair.a.refreshTimeout();
    expect(pair.a.timeoutAt).toBe(Infinity);
    expect(checked).toBeGreaterThan(200);
    expect(finite).toBeGreaterThan(100);
  });
});
