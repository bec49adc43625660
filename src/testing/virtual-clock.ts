import type { Clock, TimerHandle } from '../node/clock.js';
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';

/**
 * One scheduled timer. It is also the handle `setTimer` returns, and it remembers its slot in the
 * heap so `clearTimer` is O(log n) instead of leaving dead entries behind (shells re-arm their
 * idle timer on every packet; lazy deletion would let those pile up).
 */
class Timer {
  constructor(
    readonly deadline: number,
    readonly seq: number,
    readonly fn: (arg: unknown) => void,
    readonly arg: unknown,
    public index: number,
  ) {}
}

/** Safety net against a timer that re-arms itself at the same instant forever. */
const MAX_FIRES_PER_INSTANT = 1_000_000;

/**
 * A {@link Clock} whose time only moves when the test says so. Timers sit in a binary min-heap
 * ordered by (deadline, insertion order), so two timers due at the same instant always fire in
 * the order they were set: runs are deterministic.
 *
 * A timer set for a time already past fires at the next `advanceTo`/`runNext`, never inside
 * `setTimer` itself (as with `setTimeout(fn, 0)`).
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.setTimer(10, () => console.log('at', clock.now())); // prints "at 10"
 * clock.advanceTo(5);  // nothing due yet
 * clock.runNext();     // jumps to 10 and fires
 * ```
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly heap: Timer[] = [];

  constructor(start = 0) {
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw new InvalidArgTypeError(`start must be a finite number, got ${String(start)}`);
    }
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(deadline: number, fn: () => void): TimerHandle {
    return this.schedule(deadline, fn as (arg: unknown) => void, undefined);
  }

  /**
   * Like `setTimer`, but calls `fn(arg)`: lets hot paths (the simulator delivers every datagram
   * through here) share one function instead of allocating a closure per event.
   */
  schedule<T>(deadline: number, fn: (arg: T) => void, arg: T): TimerHandle {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw new InvalidArgTypeError(`deadline must be a number, got ${String(deadline)}`);
    }
    if (typeof fn !== 'function') throw new InvalidArgTypeError('timer callback must be a function');
    const timer = new Timer(deadline, this.seq++, fn as (arg: unknown) => void, arg, this.heap.length);
    this.heap.push(timer);
    this.siftUp(timer.index);
    return timer;
  }

  /** Cancel a timer (nothing happens if it already fired or was cleared). */
  clearTimer(handle: TimerHandle): void {
    if (!(handle instanceof Timer)) return;
    const i = handle.index;
    if (i < 0 || this.heap[i] !== handle) return; // already fired or cleared
    this.removeAt(i);
  }

  /** Number of timers still waiting to fire. */
  get pending(): number {
    return this.heap.length;
  }

  /** Deadline of the earliest waiting timer, or `null` when none is set. */
  get nextDeadline(): number | null {
    const top = this.heap[0];
    return top === undefined ? null : top.deadline;
  }

  /**
   * Move time forward to `t`, firing every timer due on the way, in order; timers those timers
   * set are honoured too if they fall before `t`. Time never goes backwards: a `t` in the past
   * only fires what is already due. Returns the number of timers fired.
   */
  advanceTo(t: number): number {
    if (typeof t !== 'number' || Number.isNaN(t)) {
      throw new InvalidArgValueError(`advanceTo needs a number, got ${String(t)}`);
    }
    let fired = 0;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.deadline > t) break;
      fired += this.fireDue();
    }
    if (t > this.time) this.time = t;
    return fired;
  }

  /** `advanceTo(now() + ms)`. */
  advanceBy(ms: number): number {
    return this.advanceTo(this.time + ms);
  }

  /**
   * Jump to the earliest timer's deadline (if it is in the future) and fire every timer due at
   * that instant, including ones set meanwhile for that instant or earlier. Returns `false` when
   * no timer was waiting.
   */
  runNext(): boolean {
    if (this.heap.length === 0) return false;
    this.fireDue();
    return true;
  }

  /** Fire everything due at max(now, earliest deadline). */
  private fireDue(): number {
    const first = this.heap[0];
    if (first === undefined) return 0;
    if (first.deadline > this.time) this.time = first.deadline;
    let fired = 0;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.deadline > this.time) return fired;
      this.removeAt(0);
      if (++fired > MAX_FIRES_PER_INSTANT) {
        throw new Error(
          `VirtualClock: more than ${MAX_FIRES_PER_INSTANT} timers fired at t=${this.time}; ` +
            'a timer keeps re-arming itself without letting time advance',
        );
      }
      top.fn(top.arg);
    }
  }

  private less(x: Timer, y: Timer): boolean {
    return x.deadline < y.deadline || (x.deadline === y.deadline && x.seq < y.seq);
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const removed = heap[i]!;
    const last = heap.pop()!;
    removed.index = -1;
    if (last === removed) return;
    heap[i] = last;
    last.index = i;
    this.siftDown(i);
    this.siftUp(last.index);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.less(item, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = parentIndex;
    }
    heap[i] = item;
    item.index = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = heap[l]!;
      let childIndex = l;
      if (r < n && this.less(heap[r]!, child)) {
        child = heap[r]!;
        childIndex = r;
      }
      if (!this.less(child, item)) break;
      heap[i] = child;
      child.index = i;
      i = childIndex;
    }
    heap[i] = item;
    item.index = i;
  }
}
