import { crc32 } from 'node:zlib';

/**
 * CRC-32 (ISO-HDLC, the polynomial of zlib, Ethernet and PNG) of `data`.
 *
 * Uses Node's native `zlib.crc32` (Node ≥ 20.15) for inputs over 256 bytes, and a table-driven
 * loop in JavaScript for smaller ones (the same values: see `SMALL` in the source). This is the only `node:*` import
 * below `src/node`: it is a pure function, so the sans-IO core stays deterministic.
 *
 * CRC-32 catches accidental corruption (every single-bit and burst error up to 32 bits, and all
 * but 2^-32 of the rest). It is not a MAC: an attacker can forge a valid checksum.
 */
export function checksum(data: Uint8Array): number {
  if (data.length <= SMALL) return crcRange(data, 0, data.length);
  // A wrapped typed array (a Proxy, as the decoder's read-tracing tests use) is not one to native
  // code: hand it the view it wraps.
  return crc32(ArrayBuffer.isView(data) ? data : (data as Uint8Array).subarray(0)) >>> 0;
}

/**
 * Up to this many bytes the CRC is computed here, not by `zlib.crc32`: each call into zlib costs
 * a fixed ~0.2–0.3 µs (argument checks, the C++ binding), more than the table loop takes over a
 * small datagram (a ping-pong packet of ~100 bytes: ~0.1 µs; the two are even at ~300 bytes).
 * Every ping-pong packet and every ACK-only packet is this small, four CRCs per round trip
 * (issue 11). The result is the same CRC either way (test/wire/checksum.test.ts).
 */
const SMALL = 256;

/**
 * Slicing-by-8 tables: `SLICES[k * 256 + b]` is the CRC register after byte `b` followed by `k`
 * zero bytes (k = 0: the classic reflected table), so eight bytes take eight lookups and no
 * shifts between them. Signed 32-bit entries (Int32Array): small integers or int32 in V8's
 * optimised code, no heap numbers.
 */
const SLICES = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  SLICES[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = SLICES[(k - 1) * 256 + n]!;
    SLICES[k * 256 + n] = (prev >>> 8) ^ SLICES[prev & 0xff]!;
  }
}

/** CRC-32 of `d[start, end)`, in JavaScript (small inputs: see {@link SMALL}). */
function crcRange(d: Uint8Array, start: number, end: number): number {
  const t = SLICES;
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + d[i + 4]!]! ^
      t[512 + d[i + 5]!]! ^
      t[256 + d[i + 6]!]! ^
      t[d[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/*
 * The trailer of a datagram is the CRC-32 of everything before it. A small datagram's is
 * computed over that range directly. zlib.crc32 takes no offset
 * or length, so checking or writing it would need a view of the datagram without its last four
 * bytes: an object per packet on the hot path. Instead both run over the whole datagram and
 * account for the trailer's four bytes arithmetically. CRC-32 continues over more bytes as
 * crc(M ‖ T) = step(step(step(step(crc(M), T0), T1), T2), T3), and each step is a bijection on
 * 32-bit values (the table's top bytes are all distinct), so it can be run backwards.
 */

/**
 * The reflected CRC-32 table (the first slice of `SLICES`, read unsigned), and the index of each
 * entry by its top byte (for stepping back).
 */
const TABLE = new Uint32Array(SLICES.buffer, 0, 256);
const BY_TOP_BYTE = new Uint8Array(256);
for (let n = 0; n < 256; n++) BY_TOP_BYTE[TABLE[n]! >>> 24] = n;

/** One byte forward, on the raw (not yet inverted) register. */
function step(reg: number, byte: number): number {
  return (TABLE[(reg ^ byte) & 0xff]! ^ (reg >>> 8)) >>> 0;
}

/** One byte backward: the register before `step(reg, byte)` produced `next`. */
function unstep(next: number, byte: number): number {
  const index = BY_TOP_BYTE[next >>> 24]!;
  const high = (next ^ TABLE[index]!) << 8;
  return (high | ((index ^ byte) & 0xff)) >>> 0;
}

/** True when the last four bytes of `datagram` (big-endian) are the CRC-32 of the rest. No allocation. */
export function trailerMatches(datagram: Uint8Array): boolean {
  const n = datagram.length;
  if (n < 4) return false;
  // The stored trailer, big-endian (read here, not by a helper compiled alone as well).
  const stored = ((datagram[n - 4]! << 24) | (datagram[n - 3]! << 16) | (datagram[n - 2]! << 8) | datagram[n - 1]!) >>> 0;
  if (n <= SMALL) return crcRange(datagram, 0, n - 4) === stored;
  // Continue the claimed CRC of the body over the trailer bytes and compare with the CRC of all.
  let reg = (stored ^ 0xffff_ffff) >>> 0;
  for (let i = n - 4; i < n; i++) reg = step(reg, datagram[i]!);
  return ((reg ^ 0xffff_ffff) >>> 0) === checksum(datagram);
}

/**
 * Write the CRC-32 of `datagram[0, n - 4)` into its last four bytes (big-endian), where `n` is
 * its length. No allocation: a small datagram's body is read as a range; for a large one the
 * CRC of the whole datagram (trailer zeroed) is stepped back over the four zero bytes.
 */
export function writeTrailer(datagram: Uint8Array): void {
  const n = datagram.length;
  if (n <= SMALL) {
    putTrailer(datagram, n, crcRange(datagram, 0, n - 4));
    return;
  }
  datagram[n - 4] = 0;
  datagram[n - 3] = 0;
  datagram[n - 2] = 0;
  datagram[n - 1] = 0;
  let reg = (checksum(datagram) ^ 0xffff_ffff) >>> 0;
  for (let i = 0; i < 4; i++) reg = unstep(reg, 0);
  putTrailer(datagram, n, (reg ^ 0xffff_ffff) >>> 0);
}

/** `crc` into the last four bytes of `datagram` (length `n`), big-endian. */
function putTrailer(datagram: Uint8Array, n: number, crc: number): void {
  datagram[n - 4] = crc >>> 24;
  datagram[n - 3] = (crc >>> 16) & 0xff;
  datagram[n - 2] = (crc >>> 8) & 0xff;
  datagram[n - 1] = crc & 0xff;
}
