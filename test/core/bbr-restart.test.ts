import { describe, expect, it } from 'vitest';
import { impairedPair } from '../helpers/scenarios.js';

const MB = 1e6;

/** The sender's controller (the core keeps it in its loss recovery). */
function controller(pair: ReturnType<typeof impairedPair>): { mode: string; pacingRate: number } {
  return (pair.a as unknown as { recovery: { cc: { mode: string; pacingRate: number } } }).recovery.cc;
}

/**
 * 20 MB through the impairment workload's path (10 ms each way, 4 MB queue, the default datagram
 * size), its bottleneck `slowRate` for the first `slowMs` ms, then `rate` (bytes/s): the real proxy's
 * warm-up, when the compilers of three processes on two cores starve it (bench/impair-sim.ts
 * --starve). Returns the controller's modes in order and when the pacing rate first reached `reach` (bytes/ms) after the speed-up.
 */
function transfer(seed: number, loss: number, slowMs: number, slowRate: number, rate: number, reach: number): { modes: string[]; reachedAt: number } {
  const pair = impairedPair(seed, loss, { maxDatagramSize: 1452, rate: slowMs > 0 ? slowRate : rate });
  const chunk = new Uint8Array(64 * 1024);
  const bytes = 20 * MB;
  for (let left = bytes; left > 0; left -= chunk.length) pair.a.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
  const modes: string[] = [];
  let reachedAt = Infinity;
  let slow = slowMs > 0;
  pair.runUntil(() => {
    const cc = controller(pair);
    if (modes.at(-1) !== cc.mode) modes.push(cc.mode);
    if (reachedAt === Infinity && !slow && cc.pacingRate >= reach) reachedAt = pair.now;
    if (slow && pair.now >= slowMs) {
      slow = false;
      pair.flows[0]!.links.forward.configure({ delay: 10, rate, queue: 4e6, loss });
    }
    return pair.sides[1].deliveredBytes >= bytes;
  }, 60_000);
  return { modes, reachedAt };
}

describe('BBR returns to Startup when ProbeBW finds the pipe was not full', () => {
  it('after a start on a starved path, finds the capacity that appears within a few round trips', () => {
    // 15 MB/s for 300 ms, then 80. Startup ends at the starved rate; v1's ProbeBW cruised at it
    // until its probe phase came round, and paced at 60 MB/s 325 ms after the path sped up; back
    // in Startup it does 207 ms after.
    const { modes, reachedAt } = transfer(1, 0, 300, 15e6, 80e6, 60e3);
    const cruising = modes.indexOf('probe-bw');
    expect(cruising).toBeGreaterThan(0);
    expect(modes.indexOf('startup', cruising)).toBeGreaterThan(cruising);
    expect(reachedAt - 300).toBeLessThan(250);
  });

  it('does not leave ProbeBW on a path whose capacity never changed, lossy or not', () => {
    for (const [seed, loss] of [[1, 0], [2, 0.01], [3, 0.05], [4, 0.2]] as const) {
      const { modes } = transfer(seed, loss, 0, 0, 60e6, Infinity);
      const cruising = modes.indexOf('probe-bw');
      expect(cruising, `seed ${seed}, ${loss * 100} %: ${modes.join(' ')}`).toBeGreaterThan(0);
      expect(modes.indexOf('startup', cruising), `seed ${seed}, ${loss * 100} %: ${modes.join(' ')}`).toBe(-1);
    }
  });
});
