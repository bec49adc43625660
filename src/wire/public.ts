/**
 * `reliable-dgram/wire`: the codec of wire version 1, for tools and interoperating peers
 * (packet inspectors, fuzzers, an implementation in another language checked against this one).
 * An application that only sends messages never needs it: the main entry, `reliable-dgram`, is
 * the API. `docs/protocol.md` (shipped in the package) is the normative description of every
 * byte; the names here match its headings.
 *
 * ```ts
 * import { decodePacket, encodePacket, PacketType } from 'reliable-dgram/wire';
 *
 * const result = decodePacket(datagram); // never throws: { ok: false, reason } when malformed
 * if (result.ok && result.value.type === 'data') console.log(result.value.frames);
 * ```
 *
 * @packageDocumentation
 * @module reliable-dgram/wire
 */
export {
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  PacketType,
  FrameType,
  DataFlag,
  CHECKSUM_SIZE,
  CID_SIZE,
  RESET_TOKEN_SIZE,
  DATA_HEADER_SIZE,
  DATA_OVERHEAD,
  DATA_PART_HEADER_SIZE,
  PATH_DATA_SIZE,
  PATH_FRAME_SIZE,
  MIN_INITIAL_SIZE,
  MAX_UDP_PAYLOAD,
  MAX_COOKIE_SIZE,
  MAX_REASON_SIZE,
} from './types.js';
export type {
  ConnectionId,
  TransportParams,
  PingFrame,
  AckFrame,
  CloseFrame,
  ResetFrame,
  DataFrame,
  DataPartFrame,
  PathChallengeFrame,
  PathResponseFrame,
  UnreliableFrame,
  Frame,
  InitialPacket,
  RetryPacket,
  AcceptPacket,
  DataPacket,
  StatelessResetPacket,
  VersionNegotiationPacket,
  Packet,
  RejectReason,
  DecodeResult,
} from './types.js';
export { encodePacket, decodePacket, packetSize, readInvariants, verifyChecksum, MIN_DATAGRAM_SIZE } from './packet.js';
export type { Invariants } from './packet.js';
export { checksum } from './checksum.js';
export {
  SecurePacketType,
  HandshakePattern,
  RefuseReason,
  PROTECTED_HEADER_SIZE,
  PROTECTED_TAG_SIZE,
  PROTECTION_OVERHEAD,
  encodeSecurePacket,
  decodeSecurePacket,
} from './secure.js';
export type { HandshakePatternName, SecureInitialPacket, SecureAcceptPacket, RefusePacket, SecurePacket } from './secure.js';
export { truncate32, expand32 } from './packet-number.js';
