/**
 * The packets and frames of reliable-dgram wire version 1, as plain data.
 * `docs/protocol.md` is the normative description; the names here match its headings.
 */

/** The wire version this implementation speaks. */
export const PROTOCOL_VERSION = 1;
/** Versions this implementation accepts, in order of preference. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/** Packet type codes (byte 1 of every datagram). */
export const PacketType = {
  Initial: 0x01,
  Retry: 0x02,
  Accept: 0x03,
  Data: 0x04,
  StatelessReset: 0x05,
  VersionNegotiation: 0x06,
} as const;

/** Frame type codes inside a DATA packet. */
export const FrameType = {
  Padding: 0x00,
  Ping: 0x01,
  Ack: 0x02,
  Close: 0x03,
  Reset: 0x04,
  Unreliable: 0x05,
  /** A piece of a DATA fragment too large for the datagram size now in force (path MTU fell). */
  DataPart: 0x06,
  /** 0x08–0x0f: reliable data; the low three bits are {@link DataFlag}s. */
  Data: 0x08,
  /** Path validation (connection migration, docs/protocol.md §5.10): 8 unpredictable bytes to echo. */
  PathChallenge: 0x20,
  /** The echo of a PATH_CHALLENGE's 8 bytes (§5.10). */
  PathResponse: 0x21,
} as const;

/** Bytes of the data a PATH_CHALLENGE carries and its PATH_RESPONSE echoes. */
export const PATH_DATA_SIZE = 8;
/** Bytes of a PATH_CHALLENGE or PATH_RESPONSE frame: type and data. */
export const PATH_FRAME_SIZE = 1 + PATH_DATA_SIZE;

/**
 * Set in the type byte of a DATA (0x18–0x1f), DATA_PART (0x16) or UNRELIABLE (0x15) frame whose channel is not 0:
 * one channel byte (1–255) follows the type byte. Channel 0 frames never set it, so a
 * connection that only uses channel 0 sends exactly the frames of the first version 1.
 */
export const CHANNEL_FLAG = 0x10;

/** Flag bits in the low three bits of a DATA frame's type byte. */
export const DataFlag = {
  First: 0x01,
  Last: 0x02,
  Unordered: 0x04,
} as const;

/** Bytes of the checksum trailer. */
export const CHECKSUM_SIZE = 4;
/** Bytes of a connection ID. */
export const CID_SIZE = 8;
/** Bytes of a stateless-reset token. */
export const RESET_TOKEN_SIZE = 16;
/** Bytes of the header of a DATA packet: version, type, destination CID, packet number. */
export const DATA_HEADER_SIZE = 1 + 1 + CID_SIZE + 4;
/** Fixed overhead of a DATA packet: header plus checksum. */
export const DATA_OVERHEAD = DATA_HEADER_SIZE + CHECKSUM_SIZE;
/** Header bytes of a DATA frame before its payload: type, TSN, length. */
export const DATA_FRAME_HEADER_SIZE = 1 + 4 + 2;
/** Header bytes of a DATA_PART frame before its payload: type, TSN, flags, fragment length, offset, length. */
export const DATA_PART_HEADER_SIZE = 1 + 4 + 1 + 2 + 2 + 2;
/** An INITIAL datagram is padded to at least this many bytes; shorter ones are ignored. */
export const MIN_INITIAL_SIZE = 1200;
/** Largest UDP payload over IPv4 (65,535 − 8 − 20). */
export const MAX_UDP_PAYLOAD = 65507;
/** Longest cookie a RETRY may carry. */
export const MAX_COOKIE_SIZE = 255;
/** Longest reason text in a RESET frame, in bytes. */
export const MAX_REASON_SIZE = 1024;
/** Size of the fixed transport-parameter block in INITIAL and ACCEPT. */
export const TRANSPORT_PARAMS_SIZE = 2 + 4 + 4 + 4 + 4 + RESET_TOKEN_SIZE;
/**
 * Ids of the optional transport parameters that follow the fixed block (docs/protocol.md §4.1):
 * each is `id u8, length u8, value`. An id this implementation does not know is skipped.
 */
export const TransportParamId = {
  /** `u32`: the largest message (bytes) the announcing side accepts. */
  MaxMessageSize: 0x01,
} as const;
/** Bytes the maxMessageSize extension takes (id, length, u32). */
export const MAX_MESSAGE_SIZE_PARAM_SIZE = 1 + 1 + 4;

/** A 64-bit connection ID, chosen at random by the side that receives packets carrying it. */
export type ConnectionId = bigint;

/** What each side tells the other in its handshake packet (INITIAL or ACCEPT). */
export interface TransportParams {
  /** Largest datagram (bytes, checksum included) the sender of these parameters accepts. */
  maxDatagramSize: number;
  /** Receive window in DATA fragments (TSNs) granted to the peer at the start. */
  initialWindow: number;
  /** Idle timeout in milliseconds this side will apply (0: none). */
  idleTimeout: number;
  /** First packet number this side will send (low 32 bits of it). */
  initialPacketNumber: number;
  /** First TSN this side will send (low 32 bits of it). */
  initialTsn: number;
  /** Token that authenticates a stateless reset for the connection ID this side chose. */
  resetToken: Uint8Array;
  /**
   * Largest message (bytes) this side accepts; optional parameter 0x01 (§4.1). Absent: the peer
   * predates the parameter and did not say (its limit is unknown; the reference assumes none).
   */
  maxMessageSize?: number;
}

/** PING (0x01): ack-eliciting, no content (docs/protocol.md §5.1). */
export interface PingFrame {
  type: 'ping';
}

/** ACK (0x02): acknowledged packet ranges and the flow-control limit (§5.3). */
export interface AckFrame {
  type: 'ack';
  /** Low 32 bits of the largest packet number acknowledged. */
  largest: number;
  /** Microseconds between receiving `largest` and sending this ACK. */
  ackDelay: number;
  /** Low 32 bits of the highest TSN the sender of this frame will accept (flow control). */
  maxTsn: number;
  /** Packets acknowledged immediately below `largest` (so `firstRange + 1` packets in all). */
  firstRange: number;
  /** Further ranges, as on the wire: flattened (gap, length) pairs, highest first. */
  ranges: number[];
}

/** CLOSE (0x03): graceful close, the sender has nothing more to send (§5.4). */
export interface CloseFrame {
  type: 'close';
}

/** RESET (0x04): abortive close with a code and a reason (§5.5, §18.3). */
export interface ResetFrame {
  type: 'reset';
  /** Why (§18.3): 0 ABORT, 1 PROTOCOL_VIOLATION, ... */
  code: number;
  /** UTF-8 text for humans and logs, at most 1,024 bytes. */
  reason: string;
}

/** DATA (0x08–0x0f): one fragment of a reliable message (§5.2). */
export interface DataFrame {
  type: 'data';
  /**
   * Ordering scope, 1–255; absent means channel 0 (no channel byte on the wire). TSNs are
   * numbered per channel.
   */
  channel?: number | undefined;
  /** Low 32 bits of this fragment's transmission sequence number (in its channel's space). */
  tsn: number;
  /** This fragment starts a message. */
  first: boolean;
  /** This fragment ends a message. */
  last: boolean;
  /** The message may be delivered out of order. */
  unordered: boolean;
  payload: Uint8Array;
}

/**
 * DATA_PART (0x06, §5.8): a piece of the DATA fragment with this TSN: bytes [offset, offset + payload.length) of its
 * `length`-byte payload. Only for retransmitting a fragment cut for a larger path MTU than the
 * one now in force; the receiver reassembles the fragment and handles it as one DATA frame.
 */
export interface DataPartFrame {
  type: 'data-part';
  /** Channel of the fragment, 1–255; absent means channel 0 (no channel byte). Its TSN space. */
  channel?: number | undefined;
  tsn: number;
  first: boolean;
  last: boolean;
  unordered: boolean;
  /** Payload length of the whole fragment. */
  length: number;
  offset: number;
  payload: Uint8Array;
}

/** UNRELIABLE (0x05): one fragment of an unreliable message (§5.6). */
export interface UnreliableFrame {
  type: 'unreliable';
  /** Channel, 1–255; absent means channel 0 (no channel byte). A label for the receiver. */
  channel?: number | undefined;
  /** Low 32 bits of the sender's unreliable message counter. */
  messageId: number;
  /** Index of this fragment within its message. */
  index: number;
  /** Number of fragments in the message (at least 1). */
  count: number;
  payload: Uint8Array;
}

/**
 * PATH_CHALLENGE (0x20, §5.10): asks whoever receives it to echo `data` in a PATH_RESPONSE. Sent
 * to a new remote address (and to the current one) before a connection moves there.
 */
export interface PathChallengeFrame {
  type: 'path-challenge';
  /** 8 unpredictable bytes. */
  data: Uint8Array;
}

/** PATH_RESPONSE (0x21, §5.10): the 8 bytes of a PATH_CHALLENGE, echoed. */
export interface PathResponseFrame {
  type: 'path-response';
  /** The challenge's 8 bytes. */
  data: Uint8Array;
}

/** Any frame of a DATA packet. */
export type Frame =
  | PingFrame
  | AckFrame
  | CloseFrame
  | ResetFrame
  | DataFrame
  | DataPartFrame
  | UnreliableFrame
  | PathChallengeFrame
  | PathResponseFrame;

/** INITIAL (0x01): the client opens a connection (§3.1). */
export interface InitialPacket {
  type: 'initial';
  version: number;
  /** The connection ID the client chose: the server puts it in every packet it sends back. */
  scid: ConnectionId;
  params: TransportParams;
  /** The cookie from a RETRY, or empty on the first attempt. */
  cookie: Uint8Array;
}

/** RETRY (0x02): the server asks the client to repeat its INITIAL with a cookie (§3.2). */
export interface RetryPacket {
  type: 'retry';
  dcid: ConnectionId;
  cookie: Uint8Array;
}

/** ACCEPT (0x03): the server accepts and announces its parameters (§3.3). */
export interface AcceptPacket {
  type: 'accept';
  dcid: ConnectionId;
  /** The connection ID the server chose. */
  scid: ConnectionId;
  params: TransportParams;
}

/** DATA (0x04): every packet of an established connection (§3.4). */
export interface DataPacket {
  type: 'data';
  dcid: ConnectionId;
  /** Low 32 bits of the packet number. */
  packetNumber: number;
  frames: Frame[];
}

/** STATELESS_RESET (0x05): ends a connection the sender no longer knows (§3.5, §11). */
export interface StatelessResetPacket {
  type: 'stateless-reset';
  dcid: ConnectionId;
  token: Uint8Array;
}

/** VERSION_NEGOTIATION (0x06): the versions the sender supports (§3.6). */
export interface VersionNegotiationPacket {
  type: 'version-negotiation';
  dcid: ConnectionId;
  versions: number[];
}

/** Any packet of wire version 1. */
export type Packet =
  | InitialPacket
  | RetryPacket
  | AcceptPacket
  | DataPacket
  | StatelessResetPacket
  | VersionNegotiationPacket;

/** Why a datagram was rejected. Stable strings: they key the endpoint's drop counters. */
export type RejectReason =
  | 'too-short'
  | 'checksum'
  | 'version'
  | 'unknown-type'
  | 'malformed'
  | 'too-small-initial';

/** What a decoder returns: the value, or why the datagram was rejected (decoders never throw). */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; reason: RejectReason };
