/**
 * What a received payload costs to keep. A payload decoded from a datagram is a view into the
 * datagram's buffer, and a view keeps its whole backing buffer alive: a 1-byte fragment cut
 * from a 60 KB datagram holds 60 KB. Every buffer that keeps payloads past the datagram that
 * carried them (receive buffer, unreliable reassembly, the inbox) counts them with these
 * functions, so that their limits are limits on the memory actually held.
 */

/**
 * Bytes charged per kept payload on top of its buffer: the typed-array view (and, for a copy,
 * its ArrayBuffer object) and the record and map entry around it. An estimate that errs high
 * (measured: about 200 bytes per buffered 1-byte fragment on Node 20), so that a flood of tiny
 * fragments is not free.
 */
export const OBJECT_OVERHEAD = 256;

/** A backing buffer this small is kept whatever its payload (no copy for tiny messages). */
const SMALL_BACKING = 512;

/**
 * The payload to keep: the view itself when its backing buffer is no larger than `maxBacking`
 * and either small or at most twice the payload (the common cases, one full fragment per
 * datagram or one small message: no copy), else a copy of just its bytes. No view keeps more
 * than `maxBacking` bytes alive, and `chargeOf` charges each view its whole buffer.
 */
export function detach(payload: Uint8Array, maxBacking: number): Uint8Array {
  const backing = payload.buffer.byteLength;
  if (backing <= maxBacking && (backing <= SMALL_BACKING || payload.length * 2 >= backing)) return payload;
  // Uint8Array.prototype.slice copies (a Node Buffer's own slice() would not).
  return Uint8Array.prototype.slice.call(payload);
}

/** Bytes a kept payload is charged: its backing buffer plus {@link OBJECT_OVERHEAD}. */
export function chargeOf(payload: Uint8Array): number {
  return payload.buffer.byteLength + OBJECT_OVERHEAD;
}
