/**
 * Variable-length integers, encoded exactly as QUIC does (RFC 9000 §16): the two most significant
 * bits of the first byte give the length (00 → 1 byte, 01 → 2, 10 → 4, 11 → 8), the remaining
 * bits hold the value in network byte order.
 *
 * JavaScript numbers are exact up to 2^53 − 1, so the 8-byte form is accepted on decode only for
 * values below 2^53; anything larger is treated as malformed by the callers.
 */

/** Largest value a varint can carry in this implementation (2^53 − 1). */
export const VARINT_MAX = Number.MAX_SAFE_INTEGER;

/** Number of bytes `value` needs as a varint. */
export function varintLength(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x4000_0000) return 4;
  return 8;
}

/**
 * Write `value` at `offset` and return the offset after it. The caller guarantees room
 * (see {@link varintLength}) and that `0 <= value <= VARINT_MAX` is an integer.
 *
 * Short rather than one straight branch per length: it is inlined into every ACK writer
 * (`writeAckFrame`: four call sites) and each inlined copy is compiled again (issue 11, the
 * warm-up). One loop writes the bytes after the first, last to first, shifting the value's low
 * 32 bits right and the high ones (8-byte values only) in behind them; what is left is the
 * first byte, under the length prefix.
 */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  if (value < 0x40) {
    buf[offset] = value;
    return offset + 1;
  }
  const n = value < 0x4000 ? 2 : value < 0x4000_0000 ? 4 : 8;
  let high = n === 8 ? Math.floor(value / 0x1_0000_0000) : 0;
  let low = value >>> 0;
  for (let i = offset + n - 1; i > offset; i--) {
    buf[i] = low & 0xff;
    low = (low >>> 8) | ((high & 0xff) << 24);
    high >>>= 8;
  }
  // 1 << 6 for 2 bytes, 2 << 6 for 4, 3 << 6 for 8.
  buf[offset] = low | ((31 - Math.clz32(n)) << 6);
  return offset + n;
}

/**
 * One value of each length: primes the encoder here, at load, and the decoder the same way
 * (reader.ts). V8 collects type feedback per branch, and the first value of a length never met
 * before (an ACK delay of 64 µs or more, after a bulk transfer's first thousands of 1-byte ones)
 * would otherwise deoptimise every function these are inlined into (`writeAckFrame`,
 * `ackFrameSize`, the packet builder), to be compiled again.
 */
export const VARINT_PRIMES: readonly number[] = [0, 0x40, 0x4000, 0x4000_0000];
/**
 * Rounds of the primes: V8 gives a function its feedback vector only once it has run for a while
 * (`--lazy-feedback-allocation`: about 8 × its bytecode size of interpreted bytecode), and what
 * runs before that records nothing. One call per length left no feedback at all, so the first
 * 2-byte value (a bulk receiver's first ACK delay of 64 µs or more) still deoptimised
 * `writeAckFrame`, `ackFrameSize` and `build`, and the sender's `body`.
 */
export const VARINT_PRIME_ROUNDS = 16;
const primeBuffer = new Uint8Array(8);
for (let round = 0; round < VARINT_PRIME_ROUNDS; round++) {
  for (const v of VARINT_PRIMES) {
    varintLength(v);
    writeVarint(primeBuffer, 0, v);
  }
}
