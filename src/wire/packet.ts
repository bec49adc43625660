import { trailerMatches, writeTrailer } from './checksum.js';
import { frameSize, readFrames, writeFrame, writeU16, writeU32 } from './frames.js';
import { Reader } from './reader.js';
import { VARINT_MAX } from './varint.js';

const textEncoder = new TextEncoder();
import {
  CHECKSUM_SIZE,
  CID_SIZE,
  DATA_HEADER_SIZE,
  MAX_COOKIE_SIZE,
  MAX_MESSAGE_SIZE_PARAM_SIZE,
  MAX_REASON_SIZE,
  MAX_UDP_PAYLOAD,
  MIN_INITIAL_SIZE,
  PATH_DATA_SIZE,
  PROTOCOL_VERSION,
  PacketType,
  RESET_TOKEN_SIZE,
  TRANSPORT_PARAMS_SIZE,
  TransportParamId,
  type ConnectionId,
  type DecodeResult,
  type Frame,
  type Packet,
  type RejectReason,
  type TransportParams,
} from './types.js';

/**
 * Datagram layout (all integers big-endian):
 *
 *   byte 0      version (1; 0 only in VERSION_NEGOTIATION)
 *   byte 1      packet type
 *   bytes 2..9  destination connection ID (INITIAL: the client's own ID)
 *   ...         type-specific fields
 *   last 4      CRC-32 of every byte before it
 *
 * Bytes 0–9 are the same in every version ("invariants"), so a server can answer a packet of a
 * version it does not speak with VERSION_NEGOTIATION.
 */

/** Smallest possible datagram: version, type, connection ID, checksum. */
export const MIN_DATAGRAM_SIZE = 1 + 1 + CID_SIZE + CHECKSUM_SIZE;

/** The version-independent bytes of every datagram: version and packet type. */
export interface Invariants {
  version: number;
  type: number;
  /** Destination connection ID (for INITIAL, the client's chosen ID). */
  cid: ConnectionId;
}

/**
 * Read the version-independent bytes without validating the checksum. Used to route a datagram
 * and to answer unknown versions; returns null if the datagram is too short.
 */
export function readInvariants(datagram: Uint8Array): Invariants | null {
  if (datagram.length < MIN_DATAGRAM_SIZE) return null;
  const r = new Reader(datagram, 0, datagram.length);
  return { version: r.u8(), type: r.u8(), cid: r.u64() };
}

/** True when the trailing CRC-32 matches the rest of the datagram. */
export function verifyChecksum(datagram: Uint8Array): boolean {
  if (datagram.length < MIN_DATAGRAM_SIZE) return false;
  return trailerMatches(datagram);
}

/** Write the CRC-32 trailer over `buf[0, length)`; returns the datagram (a view of `buf`). */
export function seal(buf: Uint8Array, length: number): Uint8Array {
  return sealAt(buf, 0, length);
}

/** Write the CRC-32 trailer over `buf[start, end)`; returns the datagram `buf[start, end + 4)` (one view). */
export function sealAt(buf: Uint8Array, start: number, end: number): Uint8Array {
  const datagram = buf.subarray(start, end + CHECKSUM_SIZE);
  writeTrailer(datagram);
  return datagram;
}

export function writeCid(buf: Uint8Array, offset: number, cid: ConnectionId): number {
  writeU32(buf, offset, Number(cid >> 32n));
  return writeU32(buf, offset + 4, Number(cid & 0xffff_ffffn));
}

/**
 * Header of a DATA packet at `offset`, the connection ID given as its two 32-bit halves
 * (`cidHigh`, `cidLow`: no BigInt arithmetic per packet); returns the offset where frames start.
 */
export function writeDataHeaderAt(buf: Uint8Array, offset: number, dcidHi: number, dcidLo: number, packetNumber: number): number {
  buf[offset] = PROTOCOL_VERSION;
  buf[offset + 1] = PacketType.Data;
  writeU32(buf, offset + 2, dcidHi);
  writeU32(buf, offset + 6, dcidLo);
  return writeU32(buf, offset + 2 + CID_SIZE, packetNumber);
}

/** Header of a DATA packet; returns the offset where frames start. */
export function writeDataHeader(buf: Uint8Array, dcid: ConnectionId, packetNumber: number): number {
  buf[0] = PROTOCOL_VERSION;
  buf[1] = PacketType.Data;
  writeCid(buf, 2, dcid);
  return writeU32(buf, 2 + CID_SIZE, packetNumber);
}

export function writeParams(buf: Uint8Array, offset: number, p: TransportParams): number {
  offset = writeU16(buf, offset, p.maxDatagramSize);
  offset = writeU32(buf, offset, p.initialWindow);
  offset = writeU32(buf, offset, p.idleTimeout);
  offset = writeU32(buf, offset, p.initialPacketNumber);
  offset = writeU32(buf, offset, p.initialTsn);
  buf.set(p.resetToken.subarray(0, RESET_TOKEN_SIZE), offset);
  return offset + RESET_TOKEN_SIZE;
}

export function readParams(r: Reader): TransportParams {
  return {
    maxDatagramSize: r.u16(),
    initialWindow: r.u32(),
    idleTimeout: r.u32(),
    initialPacketNumber: r.u32(),
    initialTsn: r.u32(),
    resetToken: r.bytes(RESET_TOKEN_SIZE),
  };
}

/** Bytes the optional parameters of `p` take (§4.1). */
export function extensionsSize(p: TransportParams): number {
  return p.maxMessageSize === undefined ? 0 : MAX_MESSAGE_SIZE_PARAM_SIZE;
}

export function writeExtensions(buf: Uint8Array, offset: number, p: TransportParams): number {
  if (p.maxMessageSize !== undefined) {
    buf[offset++] = TransportParamId.MaxMessageSize;
    buf[offset++] = 4;
    offset = writeU32(buf, offset, p.maxMessageSize);
  }
  return offset;
}

/**
 * Read optional parameters into `p` until the end of the packet or, in an INITIAL, a zero id
 * (padding starts there). Returns false if they are malformed: a length past the end, a known
 * id with the wrong length, or an id given twice.
 */
export function readExtensions(r: Reader, p: TransportParams, paddingFollows: boolean): boolean {
  const seen = new Set<number>();
  while (r.ok && r.remaining > 0) {
    const id = r.u8();
    if (id === 0) {
      if (!paddingFollows) return false;
      r.offset--; // the zero is the first padding byte
      return true;
    }
    const length = r.u8();
    if (seen.has(id)) return false;
    seen.add(id);
    if (id === TransportParamId.MaxMessageSize) {
      if (length !== 4) return false;
      p.maxMessageSize = r.u32();
    } else {
      r.bytes(length); // unknown: skipped
    }
  }
  return r.ok;
}

/** Bytes `packet` takes on the wire, checksum included (INITIAL: before padding). */
export function packetSize(packet: Packet): number {
  const common = 1 + 1 + CID_SIZE + CHECKSUM_SIZE;
  switch (packet.type) {
    case 'initial':
      return Math.max(MIN_INITIAL_SIZE, common + TRANSPORT_PARAMS_SIZE + 1 + packet.cookie.length + extensionsSize(packet.params));
    case 'retry':
      return common + 1 + packet.cookie.length;
    case 'accept':
      return common + CID_SIZE + TRANSPORT_PARAMS_SIZE + extensionsSize(packet.params);
    case 'data': {
      let size = DATA_HEADER_SIZE + CHECKSUM_SIZE;
      for (const f of packet.frames) size += frameSize(f);
      return size;
    }
    case 'stateless-reset':
      return common + RESET_TOKEN_SIZE;
    case 'version-negotiation':
      return common + 1 + packet.versions.length;
  }
}

/**
 * Encode `packet` into a new buffer. INITIAL packets are padded with zero bytes to
 * {@link MIN_INITIAL_SIZE}. Throws RangeError if a field is out of range (a programming error,
 * never the result of peer input).
 */
export function encodePacket(packet: Packet): Uint8Array {
  checkPacket(packet);
  const size = packetSize(packet);
  if (size > MAX_UDP_PAYLOAD) throw new RangeError(`packet of ${size} bytes exceeds a UDP datagram`);
  const buf = new Uint8Array(size);
  let o = 2;
  buf[0] = packet.type === 'version-negotiation' ? 0 : PROTOCOL_VERSION;
  switch (packet.type) {
    case 'initial':
      buf[0] = packet.version;
      buf[1] = PacketType.Initial;
      o = writeCid(buf, o, packet.scid);
      o = writeParams(buf, o, packet.params);
      if (packet.cookie.length > MAX_COOKIE_SIZE) throw new RangeError('cookie too long');
      buf[o++] = packet.cookie.length;
      buf.set(packet.cookie, o);
      writeExtensions(buf, o + packet.cookie.length, packet.params);
      // The rest up to the checksum stays zero: padding.
      o = size - CHECKSUM_SIZE;
      break;
    case 'retry':
      buf[1] = PacketType.Retry;
      o = writeCid(buf, o, packet.dcid);
      if (packet.cookie.length > MAX_COOKIE_SIZE) throw new RangeError('cookie too long');
      buf[o++] = packet.cookie.length;
      buf.set(packet.cookie, o);
      o += packet.cookie.length;
      break;
    case 'accept':
      buf[1] = PacketType.Accept;
      o = writeCid(buf, o, packet.dcid);
      o = writeCid(buf, o, packet.scid);
      o = writeParams(buf, o, packet.params);
      o = writeExtensions(buf, o, packet.params);
      break;
    case 'data':
      o = writeDataHeader(buf, packet.dcid, packet.packetNumber);
      for (const f of packet.frames) o = writeFrame(buf, o, f);
      break;
    case 'stateless-reset':
      buf[1] = PacketType.StatelessReset;
      o = writeCid(buf, o, packet.dcid);
      buf.set(packet.token.subarray(0, RESET_TOKEN_SIZE), o);
      o += RESET_TOKEN_SIZE;
      break;
    case 'version-negotiation':
      buf[1] = PacketType.VersionNegotiation;
      o = writeCid(buf, o, packet.dcid);
      buf[o++] = packet.versions.length;
      for (const v of packet.versions) buf[o++] = v;
      break;
  }
  return seal(buf, o);
}

// ------------------------------------------------------------------ encoder argument checks

/*
 * encodePacket promises a RangeError for out-of-range fields. Without these checks the writers
 * would silently wrap or truncate (a u32 of 2^32 becomes 0, a 256-entry version list gets a
 * count of 0, a 1,025-byte reason is written but rejected by every decoder), producing packets
 * the peer discards as malformed, which is much harder to debug than an exception here.
 */

function checkUint(value: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
}

const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffff_ffff;
const U64 = (1n << 64n) - 1n;

function checkCid(cid: ConnectionId, name: string): void {
  if (cid < 0n || cid > U64) throw new RangeError(`${name} must be a 64-bit unsigned integer`);
}

function checkBytes(bytes: Uint8Array, length: number, name: string): void {
  if (bytes.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${bytes.length}`);
}

function checkParams(p: TransportParams): void {
  checkUint(p.maxDatagramSize, U16, 'maxDatagramSize');
  checkUint(p.initialWindow, U32, 'initialWindow');
  checkUint(p.idleTimeout, U32, 'idleTimeout');
  checkUint(p.initialPacketNumber, U32, 'initialPacketNumber');
  checkUint(p.initialTsn, U32, 'initialTsn');
  checkBytes(p.resetToken, RESET_TOKEN_SIZE, 'resetToken');
  if (p.maxMessageSize !== undefined) checkUint(p.maxMessageSize, U32, 'maxMessageSize');
}

function checkFrame(f: Frame): void {
  switch (f.type) {
    case 'ping':
    case 'close':
      return;
    case 'path-challenge':
    case 'path-response':
      checkBytes(f.data, PATH_DATA_SIZE, `${f.type}.data`);
      return;
    case 'ack':
      checkUint(f.largest, U32, 'ack.largest');
      checkUint(f.ackDelay, VARINT_MAX, 'ack.ackDelay');
      checkUint(f.maxTsn, U32, 'ack.maxTsn');
      checkUint(f.firstRange, VARINT_MAX, 'ack.firstRange');
      if (f.ranges.length % 2 !== 0) throw new RangeError('ack.ranges must hold (gap, length) pairs');
      for (const n of f.ranges) checkUint(n, VARINT_MAX, 'ack.ranges[]');
      return;
    case 'reset':
      checkUint(f.code, U16, 'reset.code');
      if (textEncoder.encode(f.reason).length > MAX_REASON_SIZE) {
        throw new RangeError(`reset.reason exceeds ${MAX_REASON_SIZE} UTF-8 bytes`);
      }
      return;
    case 'data':
      checkUint(f.tsn, U32, 'data.tsn');
      checkUint(f.payload.length, U16, 'data.payload.length');
      return;
    case 'unreliable':
      checkUint(f.messageId, U32, 'unreliable.messageId');
      checkUint(f.count, VARINT_MAX, 'unreliable.count');
      checkUint(f.index, VARINT_MAX, 'unreliable.index');
      if (f.count === 0 || f.index >= f.count) throw new RangeError('unreliable frames need 0 <= index < count');
      checkUint(f.payload.length, U16, 'unreliable.payload.length');
      return;
  }
}

function checkPacket(packet: Packet): void {
  switch (packet.type) {
    case 'initial':
      checkUint(packet.version, U8, 'version');
      checkCid(packet.scid, 'scid');
      checkParams(packet.params);
      checkUint(packet.cookie.length, MAX_COOKIE_SIZE, 'cookie.length');
      return;
    case 'retry':
      checkCid(packet.dcid, 'dcid');
      checkUint(packet.cookie.length, MAX_COOKIE_SIZE, 'cookie.length');
      return;
    case 'accept':
      checkCid(packet.dcid, 'dcid');
      checkCid(packet.scid, 'scid');
      checkParams(packet.params);
      return;
    case 'data':
      checkCid(packet.dcid, 'dcid');
      checkUint(packet.packetNumber, U32, 'packetNumber');
      for (const f of packet.frames) checkFrame(f);
      return;
    case 'stateless-reset':
      checkCid(packet.dcid, 'dcid');
      checkBytes(packet.token, RESET_TOKEN_SIZE, 'token');
      return;
    case 'version-negotiation':
      checkCid(packet.dcid, 'dcid');
      checkUint(packet.versions.length, U8, 'versions.length');
      for (const v of packet.versions) checkUint(v, U8, 'versions[]');
      return;
  }
}

function reject(reason: RejectReason): DecodeResult<never> {
  return { ok: false, reason };
}

/**
 * Decode one datagram. Never throws and never reads outside `datagram`: any problem is reported
 * as `{ ok: false, reason }`. The checksum is verified first, so every other field is trusted
 * only after it matched. `authenticated`: the caller already verified the datagram more strongly
 * (an opened PROTECTED packet, docs/protocol.md §22.9), so its CRC field is not checked.
 */
export function decodePacket(datagram: Uint8Array, authenticated = false): DecodeResult<Packet> {
  const n = datagram.length;
  if (n < MIN_DATAGRAM_SIZE) return reject('too-short');
  if (!authenticated && !verifyChecksum(datagram)) return reject('checksum');
  const end = n - CHECKSUM_SIZE;
  const r = new Reader(datagram, 0, end);
  const version = r.u8();
  const type = r.u8();
  if (version === 0) {
    if (type !== PacketType.VersionNegotiation) return reject('malformed');
    const dcid = r.u64();
    const count = r.u8();
    const versions: number[] = [];
    for (let i = 0; i < count; i++) versions.push(r.u8());
    if (!r.ok || r.remaining !== 0) return reject('malformed');
    return { ok: true, value: { type: 'version-negotiation', dcid, versions } };
  }
  if (version !== PROTOCOL_VERSION) return reject('version');
  switch (type) {
    case PacketType.Initial: {
      if (n < MIN_INITIAL_SIZE) return reject('too-small-initial');
      const scid = r.u64();
      const params = readParams(r);
      const cookie = r.bytes(r.u8());
      if (!r.ok || !readExtensions(r, params, true)) return reject('malformed');
      // Everything after the optional parameters is padding and must be zero.
      for (let i = r.offset; i < end; i++) if (datagram[i] !== 0) return reject('malformed');
      return { ok: true, value: { type: 'initial', version, scid, params, cookie } };
    }
    case PacketType.Retry: {
      const dcid = r.u64();
      const cookie = r.bytes(r.u8());
      if (!r.ok || r.remaining !== 0) return reject('malformed');
      return { ok: true, value: { type: 'retry', dcid, cookie } };
    }
    case PacketType.Accept: {
      const dcid = r.u64();
      const scid = r.u64();
      const params = readParams(r);
      if (!r.ok || !readExtensions(r, params, false)) return reject('malformed');
      return { ok: true, value: { type: 'accept', dcid, scid, params } };
    }
    case PacketType.Data: {
      const dcid = r.u64();
      const packetNumber = r.u32();
      if (!r.ok) return reject('malformed');
      const frames = readFrames(r);
      if (frames === null) return reject('malformed');
      return { ok: true, value: { type: 'data', dcid, packetNumber, frames } };
    }
    case PacketType.StatelessReset: {
      const dcid = r.u64();
      const token = r.bytes(RESET_TOKEN_SIZE);
      if (!r.ok || r.remaining !== 0) return reject('malformed');
      return { ok: true, value: { type: 'stateless-reset', dcid, token } };
    }
    default:
      return reject('unknown-type');
  }
}
