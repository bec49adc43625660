// A woken connection's stages must have the hidden classes (V8 maps) a never-slept connection's
// have. dormant.ts keeps a sleeping connection's numbers in one double array; the rebuild wrote
// them back as HeapNumbers, so a counter that had only ever held small integers (packetsSent,
// nextTsn, BBR's roundCount, ...) became a double field at the first wake: a new hidden class for
// that stage in every connection of the process, the old one deprecated, and every compiled
// function of a busy neighbour's hot path that checks it thrown away ("wrong map": ~85
// deoptimisations at the first wake in bench/dormant-deopts.ts). Checked with V8's own view
// (%HaveSameMap), object by object, against a connection of the same traffic that never slept.
import { afterEach, describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { sameMap } from '../helpers/v8-natives.js';
import { COMPACT_AFTER_MS } from '../../src/core/state.js';
import type { ConnectionCore } from '../../src/core/connection.js';
import { setDormantStages } from '../../src/core/dormant-stages.js';

afterEach(() => setDormantStages(true));

function isDormant(core: ConnectionCore): boolean {
  return (core as unknown as { dormant: unknown }).dormant !== null;
}

/** Walks two graphs side by side from the engine's own fields; the paths of objects whose hidden classes differ. */
function mapsThatDiffer(a: Record<string, unknown>, b: Record<string, unknown>): { compared: number; differ: string[] } {
  const seen = new Set<object>();
  const differ: string[] = [];
  let compared = 0;
  const visit = (x: unknown, y: unknown, path: string): void => {
    if (typeof x !== 'object' || x === null || typeof y !== 'object' || y === null) return;
    if (seen.has(x) || x === y) return;
    seen.add(x);
    compared++;
    if (!sameMap(x, y)) differ.push(`${path} (${x.constructor?.name ?? 'Object'})`);
    if (ArrayBuffer.isView(x) || x instanceof Map || x instanceof Set) return;
    const xr = x as Record<string, unknown>;
    const yr = y as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(x)) {
      if (key === 'config' || !(key in yr)) continue;
      visit(xr[key], yr[key], `${path}.${key}`);
    }
  };
  for (const key of Object.keys(a)) visit(a[key], b[key], key);
  return { compared, differ };
}

/** The engine's own fields as they are now (the stage objects it holds), without waking it. */
function fields(core: ConnectionCore): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(core)) if (key !== 'dormant' && key !== 'events') own[key] = (core as unknown as Record<string, unknown>)[key];
  return own;
}

describe('a woken connection keeps the hidden classes of its stages', () => {
  it('every object of the graph built on wake has the map of the same object in the graph that went to sleep', () => {
    const pair = new Pair({ seed: 31, link: { delay: 5 } });
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    pair.b.send(new Uint8Array(30_000).fill(1), 'ordered');
    pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
    const before = [fields(pair.a), fields(pair.b)];
    pair.runTo(pair.now + COMPACT_AFTER_MS + 400);
    expect(isDormant(pair.a)).toBe(true);
    expect(isDormant(pair.b)).toBe(true);
    // Any input wakes it.
    pair.a.send(Buffer.from('again'), 'ordered');
    pair.b.send(Buffer.from('again'), 'ordered');
    expect(isDormant(pair.a) || isDormant(pair.b)).toBe(false);
    for (const [i, core] of [pair.a, pair.b].entries()) {
      const woken = fields(core);
      // New objects, not the ones that slept.
      expect(woken.sender).not.toBe(before[i]!.sender);
      const { compared, differ } = mapsThatDiffer(woken, before[i]!);
      expect(compared).toBeGreaterThan(25);
      expect(differ).toEqual([]);
    }
  });
});
