/**
 * V8 treats an object field that only its initialiser has written as a constant ("const field
 * tracking"): optimised code that reads it may depend on that, and the first later write of
 * another value deoptimises every function that depended on it ("code dependencies" in
 * `--trace-deopt`). A field that only a rare path writes (the retransmission queue's count, the
 * PTO backoff, a fragment's retransmission state, most counters) therefore costs, the first time
 * that path runs, a deoptimisation and a recompile of the hot functions that read it. On
 * loopback that first time is typically a spurious PTO during the JIT warm-up (a compile stall
 * delays one reply past the PTO), and it threw away `pollTransmit`, `build`, `writeNewData` and
 * `hasSendableData` (now `SendScheduler.sendable`): tens of ms of recompilation inside the
 * traffic (docs/performance.md).
 *
 * `unpinFields` writes each listed field once with another value of the same type and then its
 * own again, so the field is an ordinary mutable one from the start. V8 keeps constness per hidden
 * class, so this matters once per object shape; done per object it costs two stores per field.
 * Names are strings so that private fields can be listed; a name that is not a number, boolean
 * or object field of `o` (a typo) throws. Numbers stay numbers (the other value is 0 or 1: a
 * small integer, which a double field takes as well; `v + 1` would be the same value for
 * Infinity), booleans stay booleans, an object field holds null for a moment (a field created
 * on first use by an `ensure…()` call, for example: its first replacement then deoptimises
 * nothing either), a field that is null until first use holds undefined for a moment.
 */
export function unpinFields<T extends object>(o: T, keys: readonly string[]): T {
  const r = o as unknown as Record<string, unknown>;
  for (const k of keys) {
    const v = r[k];
    if (typeof v === 'number') r[k] = v === 0 ? 1 : 0;
    else if (typeof v === 'boolean') r[k] = !v;
    else if (typeof v === 'object' && v !== null) r[k] = null;
    else if (v === null) r[k] = undefined;
    else throw new TypeError(`unpinFields: ${k} is not a number, a boolean, an object or null`);
    r[k] = v;
  }
  return o;
}

/**
 * Number fields that get their first fraction during traffic (a timestamp stored late, such as
 * BBR's `cycleStamp` when it enters ProbeBW hundreds of milliseconds into a transfer) start with
 * V8's small-integer representation; the first fraction changes it to a double one, which gives
 * the object a new hidden class and deoptimises every function compiled against the old one
 * ("wrong map" in `--trace-deopt`: on a bulk sender `nextDatagram`, `build`, `onPacketSent` and
 * `onAck`, recompiled inside the transfer). `unpinDoubles` writes 0.5 into each listed number
 * field and then its own value again: the field is a double field from the start (and mutable,
 * as with {@link unpinFields}). It costs a box per object and field (V8 keeps each double field's
 * value in its own HeapNumber: 16 bytes per idle connection for BBR's `cycleStamp` in
 * `bench/idle-heap.ts`), so it is for fields that do turn fractional late, not all.
 */
export function unpinDoubles<T extends object>(o: T, keys: readonly string[]): T {
  const r = o as unknown as Record<string, unknown>;
  for (const k of keys) {
    const v = r[k];
    if (typeof v !== 'number') throw new TypeError(`unpinDoubles: ${k} is not a number`);
    r[k] = 0.5;
    r[k] = v;
  }
  return o;
}

/**
 * An array of `n` zeros whose elements are doubles from the start (V8's elements kind
 * PACKED_DOUBLE_ELEMENTS), for a number array that takes fractions during traffic (BBR's
 * bandwidth filter, the blocked-time totals). A literal or `new Array(n).fill(0)` starts with
 * small-integer elements and changes kind at its first fraction: another hidden class for the
 * array, and code compiled on one kind deoptimises at the other ("wrong map"). A rebuilt
 * connection (dormant.ts) whose recorded values are whole numbers would keep the small-integer
 * kind where the array that slept had doubles, so the same hot code would meet both. Same size
 * as a small-integer array (8 bytes per element).
 */
export function doubles(n: number): number[] {
  const a = [0.5];
  a.length = 0;
  for (let i = 0; i < n; i++) a.push(0);
  return a;
}
