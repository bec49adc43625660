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
  /** Cancel a timer (nothing happens if it already fired). */
  clearTimer(handle: TimerHandle): void;
  /** Optional: the timer no longer keeps the process alive (`Endpoint.unref()`). */
  unrefTimer?(handle: TimerHandle): void;
  /** Optional: undo `unrefTimer`. */
  refTimer?(handle: TimerHandle): void;
  /**
   * Optional: the shortest wait `setTimer` gives without spinning, ms (0 or absent: exact, as a
   * virtual clock). The engine's pacer never asks for a shorter one.
   */
  readonly granularity?: number;
}

/** An opaque timer handle, from {@link Clock.setTimer}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * Node's `setTimeout` cannot wait less than 1 ms. A deadline closer than half of that (an ACK
 * due now, a short delayed ACK) runs on `setImmediate` instead, after pending I/O, so that such
 * waits do not cost a whole millisecond each. One further away waits on `setTimeout`: waiting
 * for it on `setImmediate` would run the event loop flat out until it is due. (The engine's
 * pacer asks for no wait shorter than the granularity, `Clock.granularity`; by the time the
 * endpoint arms the timer a little of it has passed, which the half keeps on `setTimeout`.)
 */
const TIMEOUT_GRANULARITY = 1;
const IMMEDIATE_BELOW = TIMEOUT_GRANULARITY / 2;

type RealHandle = { kind: 'timeout'; t: NodeJS.Timeout } | { kind: 'immediate'; t: NodeJS.Immediate };

/** The real clock: `performance.now()`, `setTimeout` and, below 0.5 ms, `setImmediate`. */
export const realClock: Clock = {
  granularity: TIMEOUT_GRANULARITY,
  now: () => performance.now(),
  setTimer(deadline, fn) {
    const delay = deadline - performance.now();
    const handle: RealHandle =
      delay < IMMEDIATE_BELOW
        ? { kind: 'immediate', t: setImmediate(fn) }
        : { kind: 'timeout', t: setTimeout(fn, delay) };
    return handle as unknown as TimerHandle;
  },
  clearTimer(handle) {
    const h = handle as unknown as RealHandle;
    if (h.kind === 'immediate') clearImmediate(h.t);
    else clearTimeout(h.t);
  },
  unrefTimer(handle) {
    (handle as unknown as RealHandle).t.unref();
  },
  refTimer(handle) {
    (handle as unknown as RealHandle).t.ref();
  },
};
