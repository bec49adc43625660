import { describe, expect, it } from 'vitest';
import { ChannelScheduler, type ChannelReadiness } from '../../src/core/channel-scheduler.js';
import { closuresAndMaps, ownObjects } from '../helpers/footprint.js';

const readiness = (ready: (channel: number) => boolean): ChannelReadiness => ({ channelReady: ready });

/** Serve `frames` frames of `size` bytes; returns the channels in the order they were picked. */
function serve(s: ChannelScheduler, ready: Set<number>, frames: number, size = 100): number[] {
  const order: number[] = [];
  for (let i = 0; i < frames; i++) {
    const c = s.pick(readiness((ch) => ready.has(ch)));
    if (c < 0) break;
    order.push(c);
    s.charge(c, size);
  }
  return order;
}

const count = (order: number[], c: number): number => order.filter((x) => x === c).length;

describe('ChannelScheduler', () => {
  it('returns -1 when no channel is ready', () => {
    const s = new ChannelScheduler(1200);
    s.add(0);
    s.add(1);
    expect(s.pick(readiness(() => false))).toBe(-1);
  });

  it('serves a lower priority number strictly first', () => {
    const s = new ChannelScheduler(1200);
    for (const c of [0, 1, 2]) s.add(c);
    s.configure(1, { priority: 1, weight: 1 });
    s.configure(2, { priority: 1, weight: 100 });
    // Channel 0 (priority 0) takes every frame while it is ready, whatever the weights.
    expect(new Set(serve(s, new Set([0, 1, 2]), 50))).toEqual(new Set([0]));
    // Once it is idle the priority-1 channels share.
    expect(new Set(serve(s, new Set([1, 2]), 3000))).toEqual(new Set([1, 2]));
  });

  it('shares one level in proportion to the weights (deficit round robin)', () => {
    const s = new ChannelScheduler(1200);
    s.add(1);
    s.add(2);
    s.configure(1, { priority: 0, weight: 1 });
    s.configure(2, { priority: 0, weight: 3 });
    const order = serve(s, new Set([1, 2]), 4000, 1200);
    expect(count(order, 1) / order.length).toBeCloseTo(0.25, 2);
    expect(count(order, 2) / order.length).toBeCloseTo(0.75, 2);
  });

  it('is fair in bytes, not frames: a channel of small frames sends more of them', () => {
    const s = new ChannelScheduler(1200);
    s.add(1);
    s.add(2);
    let bytes1 = 0;
    let bytes2 = 0;
    for (let i = 0; i < 5000; i++) {
      const c = s.pick(readiness(() => true));
      const size = c === 1 ? 100 : 1200;
      if (c === 1) bytes1 += size;
      else bytes2 += size;
      s.charge(c, size);
    }
    expect(bytes1 / (bytes1 + bytes2)).toBeCloseTo(0.5, 1);
  });

  it('always finds a ready channel, also when its frames are larger than the quantum (the path MTU grew)', () => {
    // Made for 1,200-byte datagrams; path-MTU discovery then raised frames to ~1,440 bytes. Each
    // turn's credit no longer covers one frame: the channel must still be served every time
    // (it once got -1 every fifth pick, and the packet went out empty).
    const one = new ChannelScheduler(1200);
    one.add(0);
    expect(serve(one, new Set([0]), 1000, 1440)).toHaveLength(1000);

    const two = new ChannelScheduler(1200);
    two.add(0);
    two.add(1);
    two.configure(1, { priority: 0, weight: 3 });
    const order = serve(two, new Set([0, 1]), 4000, 1440);
    expect(order).toHaveLength(4000);
    expect(count(order, 1) / order.length).toBeCloseTo(0.75, 1);
  });

  it('an idle channel does not save up credit, and skips its turn', () => {
    const s = new ChannelScheduler(1200);
    s.add(1);
    s.add(2);
    const ready = new Set([2]);
    serve(s, ready, 100, 1200);
    ready.add(1);
    const order = serve(s, ready, 100, 1200);
    // Even shares from the moment channel 1 is ready again: no burst of saved credit.
    expect(Math.abs(count(order, 1) - count(order, 2))).toBeLessThanOrEqual(2);
    expect(order.slice(0, 6).filter((c) => c === 1).length).toBeLessThanOrEqual(4);
  });

  it('moves a channel between levels when its priority changes', () => {
    const s = new ChannelScheduler(1200);
    s.add(0);
    s.add(1);
    s.configure(1, { priority: 5, weight: 1 });
    expect(s.pick(readiness(() => true))).toBe(0);
    s.configure(0, { priority: 9, weight: 1 });
    expect(s.pick(readiness(() => true))).toBe(1);
    expect(s.settingsOf(0)).toEqual({ priority: 9, weight: 1 });
    expect(s.settingsOf(7)).toEqual({ priority: 0, weight: 1 });
  });

  it('channel 0 alone (no levels built, issue 11) picks exactly as the general form, and after a second channel joins', () => {
    // The general form for channel 0 alone: settings configured before it joins.
    const general = new ChannelScheduler(1200);
    general.configure(0, { priority: 0, weight: 1 });
    general.add(0);
    const solo = new ChannelScheduler(1200);
    solo.add(0);
    const seed = 7;
    const calls = { general: 0, solo: 0 };
    const trace = (s: ChannelScheduler, which: 'general' | 'solo', steps: number): string[] => {
      const out: string[] = [];
      let state = seed;
      for (let i = 0; i < steps; i++) {
        state = (state * 69069 + 1) >>> 0;
        const readyNow = state % 5 !== 0;
        const c = s.pick(readiness((ch) => (calls[which]++, ch === 0 ? readyNow : state % 3 === 0)));
        out.push(String(c));
        // Frames up to 1,500 bytes against a 1,200-byte quantum: overdrawn credit included.
        if (c >= 0) s.charge(c, 100 + (state % 1400));
      }
      return out;
    };
    expect(trace(solo, 'solo', 3000)).toEqual(trace(general, 'general', 3000));
    // One readiness call per pick where the general form makes two or three in a row for the
    // same member (the answer cannot change in between): the solo form is the per-frame path.
    expect(calls.solo).toBeLessThan(calls.general);
    expect(calls.solo).toBe(3000);
    const saved = calls.general - calls.solo;
    solo.add(1);
    general.add(1);
    expect(trace(solo, 'solo', 3000)).toEqual(trace(general, 'general', 3000));
    // Two members: the general form for both, the same readiness calls from here on.
    expect(calls.general - calls.solo).toBe(saved);
  });

  it('a channel configured before it has content takes its settings when it joins (channel 0 alone until then)', () => {
    const s = new ChannelScheduler(1200);
    s.add(0);
    s.configure(1, { priority: 1, weight: 1 });
    s.configure(2, { priority: 1, weight: 3 });
    s.configure(1, { priority: 1, weight: 2 });
    expect(s.settingsOf(1)).toEqual({ priority: 1, weight: 2 });
    expect(s.settingsOf(2)).toEqual({ priority: 1, weight: 3 });
    expect(s.settingsOf(3)).toEqual({ priority: 0, weight: 1 });
    expect(serve(s, new Set([0]), 10)).toEqual(Array(10).fill(0));
    s.add(1);
    s.add(2);
    // Priority 1: nothing of channels 1 and 2 while channel 0 is ready; then 2:3 by weight.
    expect(new Set(serve(s, new Set([0, 1, 2]), 50))).toEqual(new Set([0]));
    const order = serve(s, new Set([1, 2]), 5000, 1200);
    expect(count(order, 1) / order.length).toBeCloseTo(0.4, 2);
  });

  it('settings for a channel that never has content cost channel 0 alone no levels (the endpoint `channels` option on every connection)', () => {
    // What a scheduler owns beyond one without settings, counted object by object (deterministic):
    // before, the settings built the levels (a level, a member, their lists) and a Map.
    const plain = new ChannelScheduler(1200);
    plain.add(0);
    const configured = new ChannelScheduler(1200);
    configured.add(0);
    configured.configure(1, { priority: 1, weight: 1 });
    const own = new Map([...ownObjects(configured, plain)].filter(([, path]) => path !== 'root'));
    // The settings themselves: one array of small integers, nothing else.
    expect([...own.values()]).toEqual(['root.settings']);
    expect(Array.isArray([...own.keys()][0])).toBe(true);
    expect(closuresAndMaps(own)).toEqual([]);
  });
});
