import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/index.js';

describe('VirtualClock', () => {
  it('does not move on its own and fires timers in deadline order', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(30, () => log.push(`c@${clock.now()}`));
    clock.setTimer(10, () => log.push(`a@${clock.now()}`));
    clock.setTimer(20, () => log.push(`b@${clock.now()}`));
    expect(clock.now()).toBe(0);
    expect(clock.pending).toBe(3);
    expect(clock.nextDeadline).toBe(10);
    clock.advanceTo(25);
    expect(log).toEqual(['a@10', 'b@20']);
    expect(clock.now()).toBe(25);
    clock.advanceTo(100);
    expect(log).toEqual(['a@10', 'b@20', 'c@30']);
    expect(clock.pending).toBe(0);
    expect(clock.nextDeadline).toBeNull();
  });

  it('breaks ties by insertion order', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    for (let i = 0; i < 50; i++) clock.setTimer(5, () => log.push(i));
    clock.runNext();
    expect(log).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('runNext jumps to the earliest deadline and fires everything due, even timers set meanwhile', () => {
    const clock = new VirtualClock(100);
    const log: string[] = [];
    clock.setTimer(150, () => {
      log.push('first');
      clock.setTimer(150, () => log.push('same instant'));
      clock.setTimer(120, () => log.push('already past'));
      clock.setTimer(151, () => log.push('later'));
    });
    expect(clock.runNext()).toBe(true);
    expect(clock.now()).toBe(150);
    expect(log).toEqual(['first', 'already past', 'same instant']);
    expect(clock.runNext()).toBe(true);
    expect(log.at(-1)).toBe('later');
    expect(clock.runNext()).toBe(false);
  });

  it('clearTimer cancels, anywhere in the heap, and is idempotent', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const handles = Array.from({ length: 100 }, (_, i) => clock.setTimer((i * 37) % 101, () => fired.push(i)));
    for (let i = 0; i < 100; i += 3) clock.clearTimer(handles[i]!);
    clock.clearTimer(handles[0]!);
    clock.clearTimer({});
    clock.advanceTo(1000);
    const expected = Array.from({ length: 100 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .sort((x, y) => ((x * 37) % 101) - ((y * 37) % 101));
    expect(fired).toEqual(expected);
    clock.clearTimer(handles[1]!); // already fired: no effect
    expect(clock.pending).toBe(0);
  });

  it('a timer in the past fires on the next step, not inside setTimer, and time never goes back', () => {
    const clock = new VirtualClock(50);
    let fired = false;
    clock.setTimer(10, () => (fired = true));
    expect(fired).toBe(false);
    clock.advanceTo(40);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(50);
  });

  it('stays ordered under a random workload (heap property)', () => {
    const clock = new VirtualClock();
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const handles: object[] = [];
    let last = -Infinity;
    let fired = 0;
    for (let i = 0; i < 2000; i++) {
      handles.push(
        clock.setTimer(Math.floor(rand() * 500), () => {
          expect(clock.now()).toBeGreaterThanOrEqual(last);
          last = clock.now();
          fired++;
        }),
      );
      if (rand() < 0.3) clock.clearTimer(handles[Math.floor(rand() * handles.length)]!);
    }
    const pending = clock.pending;
    while (clock.runNext()) {
      /* drain */
    }
    expect(fired).toBe(pending);
  });

  it('advanceBy moves relative to now', () => {
    const clock = new VirtualClock(10);
    clock.advanceBy(5);
    expect(clock.now()).toBe(15);
  });
});
