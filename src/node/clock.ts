import { performance } from 'node:perf_hooks';

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
   * Optional: move an armed timer later, to fire at or before `deadline`, keeping its handle,
   * when the clock can do that cheaply. Returns the time by which it now fires (at most
   * `deadline`), or null when it cannot (the timer stays as it was). Shells move their one
   * timer this way while traffic keeps pushing its deadline back (the loss-probe timer of a
   * busy connection), instead of letting it fire early and re-arming it.
   */
  postponeTimer?(handle: TimerHandle, deadline: number): number | null;
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

/** One shape for both kinds; `ms`: the whole milliseconds `setTimeout` waits (0 for an immediate). */
type RealHandle = { kind: 'timeout'; t: NodeJS.Timeout; ms: number } | { kind: 'immediate'; t: NodeJS.Immediate; ms: number };

/**
 * The real clock: `performance.now()`, `setTimeout` and, below 0.5 ms, `setImmediate`.
 * `postponeTimer` uses `Timeout.refresh()`: Node restarts the same timer object for its whole
 * milliseconds from the loop's time (which is never ahead of `performance.now()`), so it fires
 * by `now + ms`; no new object, no callback in between. `performance` is the module's object:
 * Node 20's global `performance` is an accessor, a getter call on every reading of the clock.
 */
export const realClock: Clock = {
  granularity: TIMEOUT_GRANULARITY,
  now: () => performance.now(),
  setTimer(deadline, fn) {
    const delay = deadline - performance.now();
    const handle: RealHandle =
      delay < IMMEDIATE_BELOW
        ? { kind: 'immediate', t: setImmediate(fn), ms: 0 }
        : // setTimeout waits at least 1 ms (a shorter delay is taken as 1).
          { kind: 'timeout', t: setTimeout(fn, delay), ms: Math.max(TIMEOUT_GRANULARITY, Math.trunc(delay)) };
    return handle as unknown as TimerHandle;
  },
  postponeTimer(handle, deadline) {
    const h = handle as unknown as RealHandle;
    if (h.kind !== 'timeout') return null;
    const at = performance.now() + h.ms;
    if (at > deadline) return null;
    h.t.refresh();
    return at;
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
