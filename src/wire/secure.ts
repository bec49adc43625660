import { writeU16 } from './frames.js';
import {
  MIN_DATAGRAM_SIZE,
  extensionsSize,
  readExtensions,
  readParams,
  seal,
  verifyChecksum,
  writeCid,
  writeExtensions,
  writeParams,
} from './packet.js';
import { Reader } from './reader.js';
import {
  CHECKSUM_SIZE,
  CID_SIZE,
  MAX_COOKIE_SIZE,
  MIN_INITIAL_SIZE,
  PROTOCOL_VERSION,
  RESET_TOKEN_SIZE,
  TRANSPORT_PARAMS_SIZE,
  type ConnectionId,
  type DecodeResult,
  type RejectReason,
  type TransportParams,
} from './types.js';

/**
 * The packets of the secure handshake and the protected (encrypted) DATA packet, wire version 1
 * (docs/protocol.md §21–§25). They use packet types that a version-1 implementation without
 * encryption does not know (it drops them as `unknown-type`), so plaintext version 1 is unchanged.
 *
 *   SECURE_INITIAL  0x07  client → server: INITIAL + Noise message 1, padded to 1,200 bytes
 *   SECURE_ACCEPT   0x08  server → client: Noise message 2 (the server's parameters inside)
 *   REFUSE          0x09  server → client: a secure INITIAL was refused, with a reason
 *   PROTECTED       0x0a  DATA sealed with ChaCha20-Poly1305, key phase 0
 *                   0x0b  the same, key phase 1
 */
export const SecurePacketType = {
  SecureInitial: 0x07,
  SecureAccept: 0x08,
  Refuse: 0x09,
  Protected: 0x0a,
  ProtectedPhase1: 0x0b,
} as const;

/** Noise pattern codes (byte 44 of SECURE_INITIAL). */
export const HandshakePattern = { NK: 1, IK: 2, NX: 3, IX: 4 } as const;
/** The Noise pattern of a secure handshake, by name (docs/protocol.md §22.6). */
export type HandshakePatternName = keyof typeof HandshakePattern;
const PATTERN_NAMES: Record<number, HandshakePatternName> = { 1: 'NK', 2: 'IK', 3: 'NX', 4: 'IX' };

/** Reason codes of REFUSE. */
export const RefuseReason = {
  /** Limits, not accepting connections, or closing (as a plaintext refusal). */
  Refused: 1,
  /** The server could not complete the handshake: it has no key pair, or not the one the client named. */
  AuthenticationFailed: 2,
  /** The server's verifyPeer hook rejected the client's static key (or the client sent none). */
  PeerRejected: 3,
} as const;

/** Bytes of the clear header of a PROTECTED packet (the AEAD's associated data). */
export const PROTECTED_HEADER_SIZE = 1 + 1 + CID_SIZE + 4;
/** Bytes of the AEAD tag at the end of a PROTECTED packet. */
export const PROTECTED_TAG_SIZE = 16;
/** A PROTECTED packet is this many bytes longer than the DATA packet it carries (tag − CRC). */
export const PROTECTION_OVERHEAD = PROTECTED_TAG_SIZE - CHECKSUM_SIZE;
/** Offset of the Noise message in SECURE_INITIAL; the bytes before it are the Noise prologue. */
export const SECURE_INITIAL_PROLOGUE_SIZE = 1 + 1 + CID_SIZE + TRANSPORT_PARAMS_SIZE + 1;
/** Longest Noise message either handshake packet may carry. */
export const MAX_NOISE_MESSAGE_SIZE = 512;

/** SECURE_INITIAL (0x07): INITIAL plus Noise message 1 (docs/protocol.md §22.3). */
export interface SecureInitialPacket {
  type: 'secure-initial';
  /** The client's connection ID. */
  scid: ConnectionId;
  /**
   * The client's transport parameters, in clear (bound to the handshake as its prologue). Their
   * `resetToken` is only a refusal token here: it authenticates REFUSE and refusal resets; the
   * client's real stateless-reset token travels encrypted in the Noise payload.
   */
  params: TransportParams;
  pattern: HandshakePatternName;
  noise: Uint8Array;
  cookie: Uint8Array;
}

/** SECURE_ACCEPT (0x08): Noise message 2 (docs/protocol.md §22.4). */
export interface SecureAcceptPacket {
  type: 'secure-accept';
  dcid: ConnectionId;
  /** The server's connection ID (repeated, authenticated, inside the Noise payload). */
  scid: ConnectionId;
  noise: Uint8Array;
}

/** REFUSE (0x09): a secure INITIAL refused, with a reason (docs/protocol.md §22.5). */
export interface RefusePacket {
  type: 'refuse';
  dcid: ConnectionId;
  /** The refusal token of the client's SECURE_INITIAL. */
  token: Uint8Array;
  reason: number;
}

/** A packet of the secure handshake. */
export type SecurePacket = SecureInitialPacket | SecureAcceptPacket | RefusePacket;

/** True for the packet types of the secure handshake (SECURE_INITIAL, SECURE_ACCEPT, REFUSE). */
export function isSecureHandshakeType(type: number): boolean {
  return type === SecurePacketType.SecureInitial || type === SecurePacketType.SecureAccept || type === SecurePacketType.Refuse;
}

/** True for PROTECTED packets (either key phase). */
export function isProtectedType(type: number): boolean {
  return type === SecurePacketType.Protected || type === SecurePacketType.ProtectedPhase1;
}

/** The bytes a SECURE_INITIAL binds as Noise prologue: version through pattern (45 bytes). */
export function secureInitialPrologue(scid: ConnectionId, params: TransportParams, pattern: HandshakePatternName): Uint8Array {
  const buf = new Uint8Array(SECURE_INITIAL_PROLOGUE_SIZE);
  buf[0] = PROTOCOL_VERSION;
  buf[1] = SecurePacketType.SecureInitial;
  let o = writeCid(buf, 2, scid);
  o = writeParams(buf, o, params);
  buf[o] = HandshakePattern[pattern];
  return buf;
}

function checkLength(n: number, max: number, name: string): void {
  if (n > max) throw new RangeError(`${name} of ${n} bytes exceeds ${max}`);
}

/**
 * Encode a packet of the secure handshake (SECURE_INITIAL padded to 1,200 bytes). Throws
 * RangeError when a field is out of range (a programming error, never peer input).
 */
export function encodeSecurePacket(packet: SecurePacket): Uint8Array {
  switch (packet.type) {
    case 'secure-initial': {
      checkLength(packet.noise.length, MAX_NOISE_MESSAGE_SIZE, 'Noise message');
      checkLength(packet.cookie.length, MAX_COOKIE_SIZE, 'cookie');
      const body = SECURE_INITIAL_PROLOGUE_SIZE + 2 + packet.noise.length + 1 + packet.cookie.length;
      const size = Math.max(MIN_INITIAL_SIZE, body + CHECKSUM_SIZE);
      const buf = new Uint8Array(size);
      buf.set(secureInitialPrologue(packet.scid, packet.params, packet.pattern), 0);
      let o = writeU16(buf, SECURE_INITIAL_PROLOGUE_SIZE, packet.noise.length);
      buf.set(packet.noise, o);
      o += packet.noise.length;
      buf[o++] = packet.cookie.length;
      buf.set(packet.cookie, o);
      return seal(buf, size - CHECKSUM_SIZE);
    }
    case 'secure-accept': {
      checkLength(packet.noise.length, MAX_NOISE_MESSAGE_SIZE, 'Noise message');
      const buf = new Uint8Array(2 + 2 * CID_SIZE + 2 + packet.noise.length + CHECKSUM_SIZE);
      buf[0] = PROTOCOL_VERSION;
      buf[1] = SecurePacketType.SecureAccept;
      let o = writeCid(buf, 2, packet.dcid);
      o = writeCid(buf, o, packet.scid);
      o = writeU16(buf, o, packet.noise.length);
      buf.set(packet.noise, o);
      return seal(buf, o + packet.noise.length);
    }
    case 'refuse': {
      if (packet.token.length !== RESET_TOKEN_SIZE) throw new RangeError(`token must be ${RESET_TOKEN_SIZE} bytes`);
      const buf = new Uint8Array(2 + CID_SIZE + RESET_TOKEN_SIZE + 1 + CHECKSUM_SIZE);
      buf[0] = PROTOCOL_VERSION;
      buf[1] = SecurePacketType.Refuse;
      let o = writeCid(buf, 2, packet.dcid);
      buf.set(packet.token, o);
      o += RESET_TOKEN_SIZE;
      buf[o++] = packet.reason & 0xff;
      return seal(buf, o);
    }
  }
}

function reject(reason: RejectReason): DecodeResult<never> {
  return { ok: false, reason };
}

/** Decode SECURE_INITIAL, SECURE_ACCEPT or REFUSE. Never throws. */
export function decodeSecurePacket(datagram: Uint8Array): DecodeResult<SecurePacket> {
  const n = datagram.length;
  if (n < MIN_DATAGRAM_SIZE) return reject('too-short');
  if (!verifyChecksum(datagram)) return reject('checksum');
  const end = n - CHECKSUM_SIZE;
  const r = new Reader(datagram, 0, end);
  if (r.u8() !== PROTOCOL_VERSION) return reject('version');
  switch (r.u8()) {
    case SecurePacketType.SecureInitial: {
      if (n < MIN_INITIAL_SIZE) return reject('too-small-initial');
      const scid = r.u64();
      const params = readParams(r);
      const pattern = PATTERN_NAMES[r.u8()];
      const noise = r.bytes(r.u16());
      const cookie = r.bytes(r.u8());
      if (!r.ok || pattern === undefined || noise.length > MAX_NOISE_MESSAGE_SIZE) return reject('malformed');
      for (let i = r.offset; i < end; i++) if (datagram[i] !== 0) return reject('malformed');
      return { ok: true, value: { type: 'secure-initial', scid, params, pattern, noise, cookie } };
    }
    case SecurePacketType.SecureAccept: {
      const dcid = r.u64();
      const scid = r.u64();
      const noise = r.bytes(r.u16());
      if (!r.ok || r.remaining !== 0 || noise.length > MAX_NOISE_MESSAGE_SIZE) return reject('malformed');
      return { ok: true, value: { type: 'secure-accept', dcid, scid, noise } };
    }
    case SecurePacketType.Refuse: {
      const dcid = r.u64();
      const token = r.bytes(RESET_TOKEN_SIZE);
      const reason = r.u8();
      if (!r.ok || r.remaining !== 0) return reject('malformed');
      return { ok: true, value: { type: 'refuse', dcid, token, reason } };
    }
    default:
      return reject('unknown-type');
  }
}

/**
 * The payload of Noise message 2: the server's connection ID, its transport parameters, then
 * its optional parameters (§4.1) up to the end. ACCEPT_PAYLOAD_SIZE is the part before those.
 */
export const ACCEPT_PAYLOAD_SIZE = CID_SIZE + TRANSPORT_PARAMS_SIZE;

/** The payload of Noise message 2. */
export function encodeAcceptPayload(scid: ConnectionId, params: TransportParams): Uint8Array {
  const buf = new Uint8Array(ACCEPT_PAYLOAD_SIZE + extensionsSize(params));
  writeExtensions(buf, writeParams(buf, writeCid(buf, 0, scid), params), params);
  return buf;
}

/** Read the payload of Noise message 2; null if malformed. */
export function decodeAcceptPayload(payload: Uint8Array): { scid: ConnectionId; params: TransportParams } | null {
  const r = new Reader(payload, 0, payload.length);
  const scid = r.u64();
  const params = readParams(r);
  if (!r.ok || !readExtensions(r, params, false)) return null;
  return { scid, params: { ...params, resetToken: new Uint8Array(params.resetToken) } };
}

/**
 * The payload of Noise message 1: the client's 16-byte reset token when the pattern encrypts it
 * (NK, IK), then the client's optional parameters (§4.1) up to the end.
 */
export function encodeHelloPayload(resetToken: Uint8Array | null, params: TransportParams): Uint8Array {
  const head = resetToken ? RESET_TOKEN_SIZE : 0;
  const buf = new Uint8Array(head + extensionsSize(params));
  if (resetToken) buf.set(resetToken.subarray(0, RESET_TOKEN_SIZE));
  writeExtensions(buf, head, params);
  return buf;
}

/** Read message 1's payload into a copy of the clear `params`; null if malformed. */
export function decodeHelloPayload(
  payload: Uint8Array,
  withToken: boolean,
  params: TransportParams,
): { resetToken: Uint8Array | null; params: TransportParams } | null {
  const r = new Reader(payload, 0, payload.length);
  const resetToken = withToken ? new Uint8Array(r.bytes(RESET_TOKEN_SIZE)) : null;
  const out: TransportParams = { ...params, resetToken: new Uint8Array(params.resetToken) };
  delete out.maxMessageSize;
  if (!r.ok || !readExtensions(r, out, false)) return null;
  return { resetToken, params: out };
}
