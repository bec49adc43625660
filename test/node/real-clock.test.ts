import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { realClock } from '../../src/node/clock.js';

/**
 * The Node shell's real clock on vitest's fake timers (deterministic): `postponeTimer` restarts
 * the same `Timeout` in place when its whole milliseconds from now fit before the new deadline,
 * and otherwise leaves it exactly as it was and says so (null), so that the endpoint clears it
 * and makes a new one. The clock reads `performance.now()` of `node:perf_hooks` (not the global
 * the fake timers replace): it is tied to the fake time here.
 */
describe('realClock.postponeTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'], now: 0 });
    vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('moves a timer later in place when its whole milliseconds from now fit: same handle, fires once, at the new time', () => {
    const fired: number[] = [];
    const handle = realClock.setTimer(10, () => fired.push(Date.now()));
    vi.advanceTimersByTime(4);
    expect(realClock.postponeTimer!(handle, 20)).toBe(14);
    vi.advanceTimersByTime(9); // t = 13: the old deadline (10) has passed, nothing fired.
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([14]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([14]);
  });

  it('does not fit (now + its milliseconds is past the new deadline): returns null and leaves the timer as it was', () => {
    const fired: number[] = [];
    const handle = realClock.setTimer(10, () => fired.push(Date.now()));
    vi.advanceTimersByTime(5);
    // A deadline earlier than the armed timer would fire by (the PTO shrank): 5 + 10 > 12.
    expect(realClock.postponeTimer!(handle, 12)).toBeNull();
    // Also a later one that the whole span does not fit before: 5 + 10 > 14.
    expect(realClock.postponeTimer!(handle, 14)).toBeNull();
    vi.advanceTimersByTime(5);
    expect(fired).toEqual([10]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([10]);
  });

  it('what the endpoint does then: clear the timer and make a new one; only the new one fires', () => {
    const fired: string[] = [];
    let handle = realClock.setTimer(10, () => fired.push(`old@${Date.now()}`));
    vi.advanceTimersByTime(5);
    const deadline = 8;
    if (realClock.postponeTimer!(handle, deadline) === null) {
      realClock.clearTimer(handle);
      handle = realClock.setTimer(deadline, () => fired.push(`new@${Date.now()}`));
    }
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['new@8']);
  });

  it('a fractional delay waits its whole milliseconds (setTimeout truncates), so a deadline inside the last fraction still fits', () => {
    const fired: number[] = [];
    const handle = realClock.setTimer(3.7, () => fired.push(Date.now()));
    vi.advanceTimersByTime(1);
    // Armed for trunc(3.7) = 3 ms: from t = 1 it fires by 4 ≤ 4.2.
    expect(realClock.postponeTimer!(handle, 4.2)).toBe(4);
    expect(realClock.postponeTimer!(handle, 3.9)).toBeNull();
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([4]);
  });

  it('an immediate (a deadline under half a millisecond away) cannot be moved: null, and it still runs', () => {
    let ran = 0;
    const handle = realClock.setTimer(0.2, () => ran++);
    expect(realClock.postponeTimer!(handle, 50)).toBeNull();
    vi.advanceTimersByTime(0);
    vi.runAllTicks();
    vi.advanceTimersByTime(1);
    expect(ran).toBe(1);
  });
});
