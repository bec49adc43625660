import type { ConnectionId } from './types.js';

/**
 * A connection ID's high 32 bits as a signed 32-bit integer: with {@link cidLow}, how the hot
 * paths compare and write CIDs (no BigInt per packet). Signed, not unsigned, so that the value
 * is always a V8 small integer: an unsigned half ≥ 2^31 (every other CID) is a 16-byte heap
 * number in each field that holds it, and a new one each time it is read from a datagram.
 */
export function cidHigh(cid: ConnectionId): number {
  return Number(BigInt.asIntN(32, cid >> 32n));
}

/** A connection ID's low 32 bits as a signed 32-bit integer (see {@link cidHigh}). */
export function cidLow(cid: ConnectionId): number {
  return Number(BigInt.asIntN(32, cid));
}
