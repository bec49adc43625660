import { crc32 } from 'node:zlib';

/**
 * CRC-32 (ISO-HDLC, the polynomial of zlib, Ethernet and PNG) of `data`.
 *
 * Uses Node's native `zlib.crc32` (Node ≥ 20.15). This is the only `node:*` import below
 * `src/node`: it is a pure function, so the sans-IO core stays deterministic.
 *
 * CRC-32 catches accidental corruption (every single-bit and burst error up to 32 bits, and all
 * but 2^-32 of the rest). It is not a MAC: an attacker can forge a valid checksum.
 */
export function checksum(data: Uint8Array): number {
  return crc32(data) >>> 0;
}
