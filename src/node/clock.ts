/**
 * The one clock interface: real (`realClock`, below) or virtual (`VirtualClock` in
 * `reliable-dgram/testing`). Shells read time and arm timers only through it, so the same shell
 * code runs in real time over UDP and in virtual time over the simulator.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (fractions allowed). */
  now(): number;
  /** Call `fn` once at (or after) `deadline`, a value of `now()`. Returns a handle. */
  setTimer(deadline: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The real clock: `performance.now()` and `setTimeout` (unref'd handles are up to the shell). */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(deadline, fn) {
    const t = setTimeout(fn, Math.max(0, deadline - performance.now()));
    return t as unknown as TimerHandle;
  },
  clearTimer(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};
