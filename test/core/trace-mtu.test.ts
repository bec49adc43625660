import { describe, expect, it } from 'vitest';
import { BASE_PLPMTU } from '../../src/core/path-mtu.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { TraceRecorder } from '../../src/testing/trace-recorder.js';
import { Pair } from '../helpers/pair.js';

/**
 * Path-MTU changes in the trace: connectivity:mtu_updated (qlog 0.3 `old`, `new`, `done`, plus
 * our `trigger`), in virtual time over links with the test kit's `mtu` impairment.
 */

const ONE_WAY = 10;

interface MtuUpdated {
  old: number;
  new: number;
  done: boolean;
  trigger: string;
}

const mtuEvents = (events: TraceEvent[]): (MtuUpdated & { time: number })[] =>
  events.filter((e) => e.name === 'connectivity:mtu_updated').map((e) => ({ time: e.time, ...(e.data as unknown as MtuUpdated) }));

describe('connectivity:mtu_updated', () => {
  it('a search on a 1,400-byte link: one event per size change, matching the path-mtu events and stats(), the last one done', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const rec = new TraceRecorder();
      const pair = new Pair({ seed, link: { delay: ONE_WAY, mtu: 1400 }, config: { maxDatagramSize: 1452 }, trace: rec });
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 100; i++) pair.a.send(chunk);
      const changes: number[] = [];
      pair.runUntil(() => {
        for (const e of pair.sides[0].events) if (e.type === 'path-mtu') changes.push(e.size);
        pair.sides[0].events.length = 0;
        return pair.now >= 400;
      });
      const stats = pair.a.stats();
      const events = mtuEvents(rec.traces[0]!.events);
      const changed = events.filter((e) => e.old !== e.new);
      expect(changed.length, `seed ${seed}`).toBe(stats.pathMtuChanges);
      expect(changed.map((e) => e.new)).toEqual(changes);
      expect(changed.length).toBeGreaterThan(0);
      // A chain: each starts where the previous ended, from the base size.
      expect(events[0]!.old).toBe(BASE_PLPMTU);
      for (let i = 1; i < events.length; i++) expect(events[i]!.old).toBe(events[i - 1]!.new);
      const last = events.at(-1)!;
      expect(last.new).toBe(stats.pathMtu);
      expect(1400 - last.new).toBeLessThan(20);
      expect(last.done).toBe(true);
      // Only the end of the search is `done`; the steps before it are not.
      expect(events.filter((e) => e.done)).toHaveLength(1);
      expect(events.every((e) => e.trigger === 'probe')).toBe(true);
    }
  });

  it('a black hole (the link MTU drops to 1,200 mid-transfer): back to the base size, trigger black-hole', () => {
    const rec = new TraceRecorder();
    const link = { delay: ONE_WAY };
    const pair = new Pair({ seed: 2, link, config: { maxDatagramSize: 1452 }, trace: rec });
    const chunk = new Uint8Array(16 * 1024);
    for (let i = 0; i < 1024; i++) pair.a.send(chunk);
    pair.runUntil(() => {
      if (pair.now >= 100 && pair.links[0].impairment.mtu === undefined) pair.links[0].configure({ ...link, mtu: 1200 });
      return pair.sides[1].deliveredBytes >= 1024 * chunk.length;
    }, 60_000);
    const events = mtuEvents(rec.traces[0]!.events);
    const hole = events.find((e) => e.trigger === 'black-hole');
    expect(hole).toMatchObject({ old: 1452, new: BASE_PLPMTU });
    expect(hole!.time).toBeGreaterThanOrEqual(100);
    expect(pair.a.stats().blackHolesDetected).toBe(1);
    expect(events.filter((e) => e.old !== e.new)).toHaveLength(pair.a.stats().pathMtuChanges);
  });

  it('no discovery (a ceiling of 1,200): no mtu_updated at all', () => {
    const rec = new TraceRecorder();
    const pair = new Pair({ seed: 1, link: { delay: ONE_WAY }, config: { maxDatagramSize: 1200 }, trace: rec });
    pair.a.send(new Uint8Array(200_000));
    pair.runUntil(() => pair.sides[1].deliveredBytes >= 200_000);
    expect(mtuEvents(rec.traces[0]!.events)).toEqual([]);
  });
});
