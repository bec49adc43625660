import { VARINT_PRIME_ROUNDS, VARINT_PRIMES, writeVarint } from './varint.js';

/**
 * A bounds-checked cursor over one datagram. Every read checks the remaining length first and
 * reports failure through {@link Reader.ok} instead of throwing, so decoding arbitrary bytes can
 * never read past the end or raise an exception. Reads after a failure return 0 and keep `ok`
 * false; callers check `ok` once at the end of a structure.
 */
export class Reader {
  offset: number;
  ok = true;

  constructor(
    public buf: Uint8Array,
    offset: number,
    /** Exclusive end of the readable region (the checksum is outside it). */
    public end: number,
  ) {
    this.offset = offset;
  }

  /** Point this reader at another region (one reader reused for every datagram: no allocation). */
  reset(buf: Uint8Array, offset: number, end: number): void {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
    this.ok = true;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): boolean {
    if (!this.ok || this.end - this.offset < n) {
      this.ok = false;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.need(1)) return 0;
    return this.buf[this.offset++]!;
  }

  u16(): number {
    if (!this.need(2)) return 0;
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  u32(): number {
    if (!this.need(4)) return 0;
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /** A 64-bit unsigned big-endian integer (connection IDs). */
  u64(): bigint {
    if (!this.need(8)) return 0n;
    const high = this.u32();
    const low = this.u32();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /**
   * One bounds check for every length (the first byte's top bits give it: 1 << prefix bytes),
   * then straight reads: the reader is inlined into the frame readers (`body`) and the ACK
   * decoders, and each inlined copy is compiled again (issue 11, the warm-up), so it is kept
   * short rather than one `need` per length.
   */
  varint(): number {
    const b = this.buf;
    const o = this.offset;
    const first = o < this.end ? b[o]! : 0;
    const n = 1 << (first >>> 6);
    if (!this.ok || this.end - o < n) {
      this.ok = false;
      return 0;
    }
    this.offset = o + n;
    if (n === 1) return first;
    if (n === 2) return ((first & 0x3f) << 8) | b[o + 1]!;
    const high = (((first & 0x3f) << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    if (n === 4) return high;
    // Values of 2^53 and above cannot be represented exactly: treat as malformed.
    if (high >= 0x20_0000) {
      this.ok = false;
      return 0;
    }
    return high * 0x1_0000_0000 + (((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0);
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    if (n < 0 || !this.need(n)) return EMPTY;
    const o = this.offset;
    this.offset = o + n;
    return this.buf.subarray(o, o + n);
  }

  /** Step over the next `n` bytes. */
  skip(n: number): void {
    if (n < 0 || !this.need(n)) return;
    this.offset += n;
  }

  fail(): void {
    this.ok = false;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Read each varint length (see varint.ts) from `buf` (8 bytes or more, overwritten), so that the
 * first multi-byte value met in optimised code (an ACK delay of 64 µs or more) finds type
 * feedback for its branch instead of deoptimising the frame reader it is inlined into
 * (DataPacketReader's `body`). Done at load with a Uint8Array; a shell whose datagrams are of
 * another class (Node's Buffers) primes with one of those too (src/node/engine.ts), or the first
 * long value in one of them is a "wrong map" deoptimisation instead.
 */
export function primeVarintReader(buf: Uint8Array): void {
  const primer = new Reader(buf, 0, 8);
  for (let round = 0; round < VARINT_PRIME_ROUNDS; round++) {
    for (const v of VARINT_PRIMES) {
      writeVarint(buf, 0, v);
      primer.reset(buf, 0, 8);
      primer.varint();
    }
  }
}
primeVarintReader(new Uint8Array(8));
