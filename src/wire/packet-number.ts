/**
 * Packet numbers (and data sequence numbers, TSNs) are counted as unbounded integers inside the
 * engine but travel as their low 32 bits. The receiver restores the full value by choosing the
 * candidate closest to the value it expects next, exactly as RFC 9000 Appendix A.3 does for
 * QUIC; this is correct as long as the sender never has more than 2^31 numbers outstanding.
 */

const WINDOW = 0x1_0000_0000; // 2^32
const HALF_WINDOW = 0x8000_0000; // 2^31

/** The 32 bits of `full` that go on the wire. */
export function truncate32(full: number): number {
  return full % WINDOW >>> 0;
}

/**
 * Recover a full number from its low 32 bits, given the value the receiver expects next
 * (largest seen + 1). Returns the candidate within 2^31 of `expected`; never negative.
 */
export function expand32(truncated: number, expected: number): number {
  const candidate = expected - (expected % WINDOW) + truncated;
  if (candidate <= expected - HALF_WINDOW && candidate + WINDOW <= Number.MAX_SAFE_INTEGER) {
    return candidate + WINDOW;
  }
  if (candidate > expected + HALF_WINDOW && candidate >= WINDOW) {
    return candidate - WINDOW;
  }
  return candidate;
}
