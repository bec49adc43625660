import { describe, expect, it } from 'vitest';
import { WindowTuner } from '../../src/core/window-tuner.js';

const MiB = 1024 * 1024;
const MESSAGE = 64 * 1024;

describe('WindowTuner: the rate is judged over the last round trip', () => {
  it('grows within a round trip of the application reading at more than a window per 4 RTTs, after a slow start', () => {
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    let t = 0;
    // A sender's ramp: 64 KiB every 5 ms (13 MB/s, a quarter of a window per 4 RTTs) for 100 ms.
    for (; t < 100; t += 5) tuner.onReleased(MESSAGE, t);
    expect(tuner.window).toBe(4 * MiB);
    // Then 64 KiB per ms (65 MB/s: a 4 MiB window lasts 64 ms, under 4 RTTs of 20 ms). An epoch
    // of half a window (quic-go's) still spans the slow 100 ms and judges the average, under the
    // threshold; the round trip's own rate shows the window is the limit.
    let grewAt = -1;
    for (; t <= 160 && grewAt < 0; t += 1) if (tuner.onReleased(MESSAGE, t)) grewAt = t;
    expect(tuner.window).toBe(8 * MiB);
    expect(grewAt).toBeGreaterThan(100);
    expect(grewAt).toBeLessThanOrEqual(100 + 2 * 20);
  });

  it('does not grow for a steady reader slower than a window per 4 RTTs, however long it reads', () => {
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    // 64 KiB every 1.5 ms: 44 MB/s, a 4 MiB window lasts 96 ms, more than 4 RTTs.
    for (let i = 0; i < 2000; i++) tuner.onReleased(MESSAGE, i * 1.5);
    expect(tuner.window).toBe(4 * MiB);
  });

  it('grows at a release the receiver judges the peer to wait on credit, whatever the rate', () => {
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    // The slow reader above for 300 ms, then one release while the peer waits on credit.
    let i = 0;
    for (; i < 200; i++) tuner.onReleased(MESSAGE, i * 1.5);
    expect(tuner.window).toBe(4 * MiB);
    expect(tuner.onReleased(MESSAGE, i * 1.5, true)).toBe(true);
    expect(tuner.window).toBe(8 * MiB);
    // Never beyond the maximum.
    tuner.onReleased(MESSAGE, ++i * 1.5, true);
    tuner.onReleased(MESSAGE, ++i * 1.5, true);
    expect(tuner.window).toBe(16 * MiB);
  });

  it('judges a release rate that doubles every round trip (a sender in Startup) by the rate it is heading for', () => {
    // Each 20 ms round trip releases twice the last: 64, 128, 256, 512 KiB, 1 MiB, 2 MiB in
    // 16 KiB messages spread over the round trip. Judged by its own rate alone, an epoch is fast
    // only when it releases more than a quarter of the 4 MiB window in a round trip: the 2 MiB
    // round, judged at 120 ms, a round trip after the sender's flight outgrew the window. With
    // the trend (this epoch's rate twice the last's) the 1 MiB round is enough: 100 ms.
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    let grewAt = -1;
    for (let round = 0, bytes = 64 * 1024; round < 7 && grewAt < 0; round++, bytes *= 2) {
      const messages = bytes / (16 * 1024);
      for (let i = 0; i < messages && grewAt < 0; i++) {
        const t = round * 20 + (20 * i) / messages;
        if (tuner.onReleased(16 * 1024, t)) grewAt = t;
      }
    }
    expect(tuner.window).toBe(8 * MiB);
    expect(grewAt).toBeGreaterThanOrEqual(100);
    expect(grewAt).toBeLessThanOrEqual(100.5);
  });

  it('does not count a steady reader as ramping: the trend is the growth of the rate, not the rate', () => {
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    // 64 KiB about every 1.8 ms (a 4 MiB window lasts 115 ms, 5.8 RTTs: slower than the rule's
    // 4 RTTs, faster than the 8 of its largest trend), each release up to 1.4 ms late (seeded),
    // so that the epochs' rates differ a little: a trend taken from the rate itself, or a fixed
    // one, would grow the window; the growth of a steady rate stays about 1.
    let seed = 7;
    const late = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 4000; i++) tuner.onReleased(MESSAGE, i * 1.8 + 1.4 * late());
    expect(tuner.window).toBe(4 * MiB);
  });
  it('does not read a steady reader resuming after a pause as a ramp: the trend is against the best rate, not the last', () => {
    // 64 KiB every 1.8 ms (a 4 MiB window lasts 115 ms, 5.8 RTTs: slower than the rule's 4 RTTs,
    // faster than the 8 of its largest trend), with a 60 ms pause every 300 ms (a reader busy
    // elsewhere, or a hole waiting for its repair). The epoch that spans a pause releases at a
    // fraction of the rate; judged against it, the next epoch (the same steady rate again) looks
    // like a rate that doubled and the window doubled once (Linux's tcp_rcv_space_adjust grows
    // only against the most the application ever copied in a round trip, which never falls).
    const tuner = new WindowTuner(4 * MiB, 16 * MiB, { smoothed: 20 }, null);
    let t = 0;
    for (let i = 0; i < 3000; i++) {
      t += 1.8;
      if (i % 167 === 166) t += 60;
      tuner.onReleased(MESSAGE, t);
    }
    expect(tuner.window).toBe(4 * MiB);
  });
});
