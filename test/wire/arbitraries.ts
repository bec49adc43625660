import fc from 'fast-check';
import { packetSize } from '../../src/wire/packet.js';
import {
  CHECKSUM_SIZE,
  DATA_FRAME_HEADER_SIZE,
  DATA_HEADER_SIZE,
  MAX_COOKIE_SIZE,
  MAX_REASON_SIZE,
  MAX_UDP_PAYLOAD,
  PROTOCOL_VERSION,
  RESET_TOKEN_SIZE,
  type AcceptPacket,
  type AckFrame,
  type CloseFrame,
  type ConnectionId,
  type DataFrame,
  type DataPartFrame,
  type DataPacket,
  type Frame,
  type InitialPacket,
  type Packet,
  type PingFrame,
  type ResetFrame,
  type RetryPacket,
  type StatelessResetPacket,
  type TransportParams,
  type UnreliableFrame,
  type VersionNegotiationPacket,
} from '../../src/wire/types.js';

/**
 * fast-check arbitraries for every valid packet and frame of wire version 1 (docs/protocol.md).
 * "Valid" means: every field within its wire range, so `encodePacket` accepts it and
 * `decodePacket` returns it unchanged. Shared by the wire tests and any suite that needs packets.
 *
 * Numbers are biased toward the edges of their ranges (fast-check does that for integers), and
 * varints are drawn per length class so that 1-, 2-, 4- and 8-byte encodings all occur.
 */

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const u64: fc.Arbitrary<ConnectionId> = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** The smallest and largest value of each varint length class (RFC 9000 §16). */
export const VARINT_CLASSES = [
  { bytes: 1, min: 0, max: 0x3f },
  { bytes: 2, min: 0x40, max: 0x3fff },
  { bytes: 4, min: 0x4000, max: 0x3fff_ffff },
  // The 8-byte class reaches 2^62 − 1 on the wire; JavaScript numbers stop at 2^53 − 1.
  { bytes: 8, min: 0x4000_0000, max: Number.MAX_SAFE_INTEGER },
] as const;

/** A varint value, each of the four length classes equally likely. */
export const varint = fc.oneof(...VARINT_CLASSES.map((c) => fc.integer({ min: c.min, max: c.max })));

/** A varint value of at least `min` (still covering every class above `min`). */
export function varintAtLeast(min: number): fc.Arbitrary<number> {
  return fc.oneof(
    ...VARINT_CLASSES.filter((c) => c.max >= min).map((c) =>
      fc.integer({ min: Math.max(c.min, min), max: c.max }),
    ),
  );
}

export function bytes(maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength, maxLength });
}

/**
 * A large byte string without asking fast-check for tens of thousands of separate integers:
 * a length and a seed, expanded with a small PRNG (fast enough for 64 KiB payloads).
 */
export function bulkBytes(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer({ min: minLength, max: maxLength }), fc.integer()).map(([length, seed]) => {
    const out = new Uint8Array(length);
    let x = seed | 1;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  });
}

export const resetToken = bytes(RESET_TOKEN_SIZE, RESET_TOKEN_SIZE);
export const cookie = bytes(MAX_COOKIE_SIZE);

export const transportParams: fc.Arbitrary<TransportParams> = fc.record(
  {
    maxDatagramSize: u16,
    initialWindow: u32,
    idleTimeout: u32,
    initialPacketNumber: u32,
    initialTsn: u32,
    resetToken,
    // Optional (§4.1): peers that predate it do not send it.
    maxMessageSize: u32,
  },
  { requiredKeys: ['maxDatagramSize', 'initialWindow', 'idleTimeout', 'initialPacketNumber', 'initialTsn', 'resetToken'] },
);

// ---------------------------------------------------------------- frames

export const pingFrame: fc.Arbitrary<PingFrame> = fc.constant({ type: 'ping' });
export const closeFrame: fc.Arbitrary<CloseFrame> = fc.constant({ type: 'close' });

/**
 * ACK frames valid on the wire. The wire cannot check ranges against `largest` (it is truncated),
 * so gaps and lengths are any varints; the engine validates them after expansion.
 */
export const ackFrame: fc.Arbitrary<AckFrame> = fc.record({
  type: fc.constant('ack' as const),
  largest: u32,
  ackDelay: varint,
  maxTsn: u32,
  firstRange: varint,
  ranges: fc.array(fc.tuple(varint, varint), { maxLength: 40 }).map((pairs) => pairs.flat()),
});

const utf8 = new TextEncoder();
export function utf8Length(s: string): number {
  return utf8.encode(s).length;
}

/**
 * RESET reasons: well-formed Unicode of at most 1024 UTF-8 bytes. Code points that are easy to
 * get wrong (a leading U+FEFF byte-order mark, NUL, multi-byte and astral characters) are
 * over-represented; long ASCII strings reach the 1024-byte limit exactly.
 */
export const resetReason: fc.Arbitrary<string> = fc.oneof(
  // At most 256 code points of at most 4 bytes each: never over 1024 bytes.
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('\uFEFF', '\0', 'é', '€', '\u{1F600}', '\uFFFF'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
    maxLength: MAX_REASON_SIZE / 4,
  }),
  fc.string({ unit: 'binary-ascii', minLength: MAX_REASON_SIZE - 8, maxLength: MAX_REASON_SIZE }),
  fc.string({ unit: 'grapheme', maxLength: 64 }).filter((s) => utf8Length(s) <= MAX_REASON_SIZE),
);

export const resetFrame: fc.Arbitrary<ResetFrame> = fc.record({
  type: fc.constant('reset' as const),
  code: u16,
  reason: resetReason,
});

/** Channel 0 (no field, as decoded) most of the time, else a channel byte 1–255. */
const channelField = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }).map((channel) => ({ channel })) },
);

export function dataFrameWith(payload: fc.Arbitrary<Uint8Array>): fc.Arbitrary<DataFrame> {
  return fc
    .record({
      type: fc.constant('data' as const),
      tsn: u32,
      first: fc.boolean(),
      last: fc.boolean(),
      unordered: fc.boolean(),
      payload,
    })
    .chain((frame) => channelField.map((c): DataFrame => ({ ...frame, ...c })));
}

export const dataFrame: fc.Arbitrary<DataFrame> = dataFrameWith(bytes(1500));

/** DATA_PART frames: a non-empty piece that lies within its fragment. */
export const dataPartFrame: fc.Arbitrary<DataPartFrame> = bytes(1500)
  .filter((b) => b.length > 0)
  .chain((payload) =>
    fc.integer({ min: payload.length, max: 0xffff }).chain((length) =>
      fc.record({
        type: fc.constant('data-part' as const),
        tsn: u32,
        first: fc.boolean(),
        last: fc.boolean(),
        unordered: fc.boolean(),
        length: fc.constant(length),
        offset: fc.integer({ min: 0, max: length - payload.length }),
        payload: fc.constant(payload),
      }),
    ),
  );

export function unreliableFrameWith(payload: fc.Arbitrary<Uint8Array>): fc.Arbitrary<UnreliableFrame> {
  return varintAtLeast(1).chain((count) =>
    fc.record({
      type: fc.constant('unreliable' as const),
      messageId: u32,
      index: fc.oneof(fc.integer({ min: 0, max: count - 1 }), fc.constant(count - 1)),
      count: fc.constant(count),
      payload,
    }).chain((frame) => channelField.map((c): UnreliableFrame => ({ ...frame, ...c }))),
  );
}

export const unreliableFrame: fc.Arbitrary<UnreliableFrame> = unreliableFrameWith(bytes(1500));

/** PATH_CHALLENGE and PATH_RESPONSE frames: 8 bytes each. */
export const pathFrame: fc.Arbitrary<Frame> = fc.record({
  type: fc.constantFrom('path-challenge' as const, 'path-response' as const),
  data: fc.uint8Array({ minLength: 8, maxLength: 8 }),
});

/** Every frame type (PADDING is not a frame value: the decoder skips it). */
export const frame: fc.Arbitrary<Frame> = fc.oneof(
  pathFrame,
  pingFrame,
  ackFrame,
  closeFrame,
  resetFrame,
  dataFrame,
  dataPartFrame,
  unreliableFrame,
);

// ---------------------------------------------------------------- packets

export const initialPacket: fc.Arbitrary<InitialPacket> = fc.record({
  type: fc.constant('initial' as const),
  version: fc.constant(PROTOCOL_VERSION),
  scid: u64,
  params: transportParams,
  cookie,
});

export const retryPacket: fc.Arbitrary<RetryPacket> = fc.record({
  type: fc.constant('retry' as const),
  dcid: u64,
  cookie,
});

export const acceptPacket: fc.Arbitrary<AcceptPacket> = fc.record({
  type: fc.constant('accept' as const),
  dcid: u64,
  scid: u64,
  params: transportParams,
});

/** Largest payload one DATA frame can carry in a maximum-size UDP datagram. */
export const MAX_SINGLE_DATA_PAYLOAD = MAX_UDP_PAYLOAD - DATA_HEADER_SIZE - CHECKSUM_SIZE - DATA_FRAME_HEADER_SIZE;

/** DATA packets with up to 8 frames of any type, within the 65,507-byte datagram limit. */
export const dataPacket: fc.Arbitrary<DataPacket> = fc
  .record({
    type: fc.constant('data' as const),
    dcid: u64,
    packetNumber: u32,
    frames: fc.array(frame, { maxLength: 8 }),
  })
  .filter((p) => packetSize(p) <= MAX_UDP_PAYLOAD);

/** DATA packets at or near the largest UDP datagram (one big DATA or UNRELIABLE frame). */
export const jumboDataPacket: fc.Arbitrary<DataPacket> = fc.record({
  type: fc.constant('data' as const),
  dcid: u64,
  packetNumber: u32,
  frames: fc
    .oneof(
      dataFrameWith(bulkBytes(MAX_SINGLE_DATA_PAYLOAD - 64, MAX_SINGLE_DATA_PAYLOAD)),
      // UNRELIABLE has a longer header (up to 1+4+8+8+2 bytes): stay below its limit.
      unreliableFrameWith(bulkBytes(MAX_SINGLE_DATA_PAYLOAD - 64, MAX_SINGLE_DATA_PAYLOAD - 16)),
    )
    .map((f) => [f]),
});

export const statelessResetPacket: fc.Arbitrary<StatelessResetPacket> = fc.record({
  type: fc.constant('stateless-reset' as const),
  dcid: u64,
  token: resetToken,
});

export const versionNegotiationPacket: fc.Arbitrary<VersionNegotiationPacket> = fc.record({
  type: fc.constant('version-negotiation' as const),
  dcid: u64,
  versions: fc.array(u8, { maxLength: 255 }),
});

/** Every packet type, each equally likely (sizes stay small enough to bit-flip every bit). */
export const packet: fc.Arbitrary<Packet> = fc.oneof(
  initialPacket,
  retryPacket,
  acceptPacket,
  dataPacket,
  statelessResetPacket,
  versionNegotiationPacket,
);
