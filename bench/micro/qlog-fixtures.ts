/**
 * What the qlog micro benchmarks (qlog-received.ts, qlog-serialiser.ts) share: their arguments,
 * the bulk transfer's DATA packet, a record sink over one reused 64 KiB chunk, and the median.
 */
import type { QlogRecordSink } from '../../src/core/trace.js';
import { encodePacket } from '../../src/wire/packet.js';

/** `[rounds=7] [packetsPerRound=200000]` from the command line. */
export const rounds = Number(process.argv[2] ?? 7);
export const packets = Number(process.argv[3] ?? 200_000);

/** A data packet of a bulk transfer: one DATA frame of 1,150 bytes. */
export const dataPacket = encodePacket({
  type: 'data',
  dcid: 0x1234n,
  packetNumber: 5000,
  frames: [{ type: 'data', channel: undefined, tsn: 77, first: true, last: false, unordered: false, payload: new Uint8Array(1150) }],
});

/** A sink that writes into one reused 64 KiB chunk; `onFull(bytes)` is told each chunk's length before it is reused. */
export function chunkSink(onFull: (bytes: number) => void = () => {}): QlogRecordSink {
  return {
    origin: 0,
    buf: new Uint8Array(64 * 1024),
    pos: 0,
    open: () => true,
    reserve(): void {
      onFull(this.pos);
      this.pos = 0;
    },
    end(): void {},
  };
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
