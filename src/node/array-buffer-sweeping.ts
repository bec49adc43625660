import { setFlagsFromString } from 'node:v8';

/**
 * Where V8 frees the memory of dead ArrayBuffers: on the main thread, at the scavenge that
 * found them dead, instead of in a background job (`--no-concurrent-array-buffer-sweeping`).
 *
 * Why: node:dgram gives every received datagram a Buffer of its own (a malloc'ed backing store,
 * made on the main thread in `UDPWrap::OnRecv`). A bulk receiver makes ~700 of them per MB, and
 * they all die young. V8's default frees them after each scavenge from a worker thread, while the
 * main thread goes on allocating the next datagrams' stores from the same glibc arena: the two
 * threads contend for the arena lock (futex waits and wake-ups on both sides, the datagrams are
 * larger than glibc's per-thread cache takes). Freed on the main thread there is no contention:
 * the receiver's CPU per MB is ~10–20 % lower (bench/history.md, "Stop 24 investigations",
 * wt/recv). Nothing else changes: the same buffers die at the same scavenges.
 *
 * It is a process-wide V8 setting, so it is off unless asked for: the first endpoint created
 * with `sweepBuffersOnMainThread: true` sets it, once, and it stays for the process (closing
 * that endpoint does not undo it). The same without the option: `node
 * --no-concurrent-array-buffer-sweeping`. V8 reads the flag at every sweep, so setting it after
 * start-up takes effect (measured: bench/history.md).
 */
let applied = false;

/** The V8 flag this module sets (exported for tests). */
export const MAIN_THREAD_SWEEPING_FLAG = '--no-concurrent-array-buffer-sweeping';

/**
 * Ask V8, once per process, to free dead ArrayBuffers on the main thread. `set`: how (tests
 * pass their own). Returns true when this call set it.
 */
export function sweepArrayBuffersOnMainThread(set: (flags: string) => void = setFlagsFromString): boolean {
  if (applied) return false;
  applied = true;
  try {
    set(MAIN_THREAD_SWEEPING_FLAG);
  } catch {
    // A runtime that refuses flags after start-up (frozen flags): it keeps its default.
    return false;
  }
  return true;
}

/** For tests: forget that the flag was set, so that the next call sets it again. */
export function resetArrayBufferSweepingForTests(): void {
  applied = false;
}
