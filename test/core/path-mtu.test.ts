import { describe, expect, it } from 'vitest';
import {
  BASE_PLPMTU,
  BLACK_HOLE_HOLDOFF,
  BLACK_HOLE_THRESHOLD,
  MAX_PROBES,
  PathMtu,
  RAISE_INTERVAL,
  SEARCH_STEP,
} from '../../src/core/path-mtu.js';

/** Drive a PathMtu against a path that carries `pathMtu` bytes: every probe is acked or lost at once. */
function search(mtu: PathMtu, pathMtu: number, now = 0): number[] {
  const tried: number[] = [];
  for (let i = 0; i < 100 && mtu.state === 'searching'; i++) {
    const size = mtu.takeProbe();
    expect(size).toBeGreaterThan(0);
    tried.push(size);
    if (size <= pathMtu) mtu.onProbeAcked(now, size);
    else mtu.onProbeLost(now, size);
  }
  return tried;
}

describe('PathMtu (DPLPMTUD search)', () => {
  it('starts at 1,200 and tries the ceiling first', () => {
    const mtu = new PathMtu(1452);
    expect(mtu.current).toBe(BASE_PLPMTU);
    expect(mtu.state).toBe('searching');
    expect(mtu.takeProbe()).toBe(1452);
    mtu.onProbeAcked(0, 1452);
    expect(mtu.current).toBe(1452);
    expect(mtu.state).toBe('complete');
    expect(mtu.changes).toBe(1);
  });

  it('is disabled at a ceiling of 1,200', () => {
    const mtu = new PathMtu(1200);
    expect(mtu.state).toBe('disabled');
    expect(mtu.takeProbe()).toBe(0);
    expect(mtu.current).toBe(1200);
  });

  for (const path of [1200, 1280, 1400, 1451, 1452, 9000]) {
    it(`binary search finds a ${path}-byte path within ${SEARCH_STEP} bytes`, () => {
      const mtu = new PathMtu(1452);
      const tried = search(mtu, path);
      expect(mtu.state).toBe('complete');
      const expected = Math.min(path, 1452);
      expect(mtu.current).toBeLessThanOrEqual(expected);
      expect(expected - mtu.current).toBeLessThan(SEARCH_STEP);
      // Each size that fails takes MAX_PROBES probes; log2(252 / 20) ≈ 4 sizes at most, plus the ceiling.
      expect(tried.length).toBeLessThanOrEqual(6 * MAX_PROBES);
    });
  }

  it('gives a size up only after 3 lost probes: one random loss does not rule it out', () => {
    const mtu = new PathMtu(1452);
    expect([mtu.takeProbe(), mtu.takeProbe(), mtu.takeProbe(), mtu.takeProbe()]).toEqual([1452, 1452, 1452, 0]);
    mtu.onProbeLost(0, 1452);
    mtu.onProbeLost(0, 1452);
    expect(mtu.state).toBe('searching');
    mtu.onProbeAcked(0, 1452); // the third try got through
    expect(mtu.current).toBe(1452);
  });

  it('searches again every 10 minutes, from the current size up', () => {
    const mtu = new PathMtu(1452);
    search(mtu, 1300, 0);
    const found = mtu.current;
    expect(mtu.deadline).toBe(RAISE_INTERVAL);
    mtu.onTimeout(RAISE_INTERVAL - 1);
    expect(mtu.state).toBe('complete');
    mtu.onTimeout(RAISE_INTERVAL);
    expect(mtu.state).toBe('searching');
    search(mtu, 1452, RAISE_INTERVAL);
    expect(mtu.current).toBe(1452);
    expect(found).toBeLessThan(1452);
  });

  it('a completed search at the ceiling stays complete after the raise timer', () => {
    const mtu = new PathMtu(1452);
    search(mtu, 1452);
    mtu.onTimeout(RAISE_INTERVAL);
    expect(mtu.state).toBe('complete');
    expect(mtu.deadline).toBe(2 * RAISE_INTERVAL);
  });
});

describe('PathMtu black-hole detection', () => {
  function atCeiling(): PathMtu {
    const mtu = new PathMtu(1452);
    search(mtu, 1452);
    expect(mtu.current).toBe(1452);
    return mtu;
  }

  it(`declares a black hole after ${BLACK_HOLE_THRESHOLD} consecutive large losses once a small packet got through`, () => {
    const mtu = atCeiling();
    const changes: string[] = [];
    mtu.onChange = { pathMtuChanged: (size, reason) => changes.push(`${size}:${reason}`) };
    for (let pn = 100; pn < 100 + BLACK_HOLE_THRESHOLD; pn++) expect(mtu.onPacketLost(1000, pn, 1452)).toBe(false);
    // ... no small packet acknowledged yet: the whole path may be down, not only large packets.
    mtu.onPacketAcked(200, 1100);
    expect(mtu.onPacketLost(1000, 100 + BLACK_HOLE_THRESHOLD, 1452)).toBe(true);
    expect(mtu.current).toBe(BASE_PLPMTU);
    expect(mtu.blackHoles).toBe(1);
    expect(changes).toEqual(['1200:black-hole']);
    // ... and searches again later.
    expect(mtu.deadline).toBe(1000 + BLACK_HOLE_HOLDOFF);
    mtu.onTimeout(1000 + BLACK_HOLE_HOLDOFF);
    expect(mtu.state).toBe('searching');
    search(mtu, 1280, 2000);
    expect(mtu.current).toBeGreaterThan(1280 - SEARCH_STEP);
  });

  it('a large packet acknowledged after the losses breaks the run (ordinary loss)', () => {
    const mtu = atCeiling();
    mtu.onPacketAcked(50, 1000);
    for (let pn = 100; pn < 100 + BLACK_HOLE_THRESHOLD - 1; pn++) mtu.onPacketLost(0, pn, 1452);
    mtu.onPacketAcked(120, 1452);
    for (let pn = 121; pn < 121 + BLACK_HOLE_THRESHOLD - 1; pn++) expect(mtu.onPacketLost(0, pn, 1452)).toBe(false);
    // Losses older than a large packet that got through never count.
    for (let pn = 101; pn < 120; pn++) expect(mtu.onPacketLost(0, pn, 1452)).toBe(false);
    expect(mtu.current).toBe(1452);
  });

  it('losses of small packets and of probes never count', () => {
    const mtu = atCeiling();
    mtu.onPacketAcked(500, 1000);
    for (let pn = 1; pn < 100; pn++) expect(mtu.onPacketLost(0, pn, 1200)).toBe(false);
    expect(mtu.current).toBe(1452);
    expect(mtu.blackHoles).toBe(0);
  });
});
