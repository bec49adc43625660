/**
 * Small helpers for the wire tests: comparable views of decoded values and hex conversion.
 */

/**
 * Replace every Uint8Array (decoded fields are views into the datagram) by a plain array of its
 * bytes, so that `toEqual` compares content and never buffer offsets or subclasses.
 */
export function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(comparable);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = comparable(v);
    return out;
  }
  return value;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`not hex: ${hex.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** A copy of `datagram` with bit `bit` (0 = most significant bit of byte 0) inverted. */
export function flipBit(datagram: Uint8Array, bit: number): Uint8Array {
  const copy = datagram.slice();
  copy[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  return copy;
}
