import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CongestionAlgorithm } from '../../src/core/types.js';
import { checker, instrument } from '../helpers/invariants.js';
import { Pair } from '../helpers/pair.js';
import { share, transfer } from '../helpers/scenarios.js';

const SEED = Number(process.env['FC_SEED'] ?? 7);

/**
 * Every controller, on arbitrary bottlenecks (rate, queue, delay, random loss): the window and
 * pacing rate stay finite and positive, nothing is sent beyond the window, and the transfer
 * always completes (no stall).
 */
describe('congestion controllers: invariants on arbitrary bottlenecks', () => {
  for (const cc of ['bbr', 'newreno', 'ledbat'] as CongestionAlgorithm[]) {
    it(`${cc}: invariants hold at every step and transfers complete (60 schedules)`, () => {
      fc.assert(
        fc.property(
          fc.integer(),
          fc.integer({ min: 1, max: 100 }), // Mbit/s
          fc.integer({ min: 1, max: 60 }), // one-way delay, ms
          fc.double({ min: 0.1, max: 4, noNaN: true }), // queue in BDPs
          fc.double({ min: 0, max: 0.2, noNaN: true }),
          fc.integer({ min: 1, max: 1024 }), // KiB
          (seed, mbit, delay, queueBdp, loss, kib) => {
            const rate = (mbit * 1e6) / 8;
            const queue = Math.max(3000, rate * ((2 * delay) / 1000) * queueBdp);
            const pair = new Pair({
              seed,
              link: { delay, rate, queue, loss },
              reverse: { delay, loss },
              config: { congestion: cc, idleTimeout: 0, keepAliveInterval: 0 },
              check: checker(),
            });
            instrument(pair);
            pair.keepMessages = false;
            const bytes = kib * 1024;
            pair.a.send(new Uint8Array(bytes));
            pair.runUntil(() => pair.sides[1].deliveredBytes === bytes, 3_600_000);
          },
        ),
        { seed: SEED, numRuns: 60 },
      );
    });
  }
});

/**
 * The behaviour the default controller is chosen for (docs/performance.md has the full table
 * from `npm run bench:sim`). Deterministic: virtual time, fixed seeds.
 */
describe('congestion behaviour on a 10 Mbit/s, 40 ms, 1-BDP bottleneck', () => {
  it('BBR keeps the median queueing delay under one min RTT', () => {
    const r = transfer('bbr', 0, 4 * 1024 * 1024);
    expect(r.queueDelayMedian).toBeLessThan(40);
    expect(r.fraction).toBeGreaterThan(0.9);
  });

  it('BBR keeps most of the capacity under 10 % random loss, where NewReno collapses', () => {
    const bbr = transfer('bbr', 0.1, 4 * 1024 * 1024);
    const reno = transfer('newreno', 0.1, 1024 * 1024);
    expect(bbr.fractionOfLossFree).toBeGreaterThan(0.7);
    expect(reno.fractionOfLossFree).toBeLessThan(bbr.fractionOfLossFree / 2);
  });

  it('two BBR flows converge to a fair share (Jain index ≥ 0.9 from 10 s to 20 s)', () => {
    const r = share(['bbr', 'bbr']);
    expect(r.jain).toBeGreaterThanOrEqual(0.9);
    expect(r.utilisation).toBeGreaterThan(0.9);
  });

  it('a LEDBAT (scavenger) flow yields to a BBR flow: under 10 % of the link', () => {
    const r = share(['bbr', 'ledbat']);
    expect(r.shares[1]).toBeLessThan(0.1);
    expect(r.utilisation).toBeGreaterThan(0.9);
  });
});
