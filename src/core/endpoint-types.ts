import type { ErrorCode } from '../errors.js';
import type { BufferBudget } from './buffer-budget.js';
import type { TransportParams } from '../wire/types.js';
import type { KeyPair } from './secure/noise.js';
import type { ProtectionConfig } from './secure/packet-protection.js';
import type { CryptoSuite } from './secure/suite.js';
import type { TraceDestination, TraceTarget } from './trace.js';
import type { ChannelOptions, ConnectionStats, CoreConfig, CoreEvent, CoreSendOptions, Delivery } from './types.js';

/**
 * The part of `ConnectionCore` (src/core/connection.ts, design.md "ConnectionCore API") the
 * endpoint drives. The endpoint core takes a factory instead of importing the class, so it can be
 * tested with a stand-in and so the shell decides which engine to plug in.
 */
export interface ConnectionCoreLike {
  /**
   * `authenticated`: an opened PROTECTED packet, whose CRC field is not computed. `address`,
   * `port`: where it came from (the engine validates a new address before moving there).
   */
  handleDatagram(now: number, datagram: Uint8Array, authenticated?: boolean, address?: string, port?: number): void;
  /** Where the datagram pollTransmit last returned goes (undefined: the connection's address). */
  readonly transmitAddress?: string | undefined;
  readonly transmitPort?: number | undefined;
  /** The address the engine sends to now (undefined: it does not track addresses). */
  readonly remoteAddress?: string | undefined;
  /** This side's own address changed (rebind()): a new path; announce it to the peer. */
  migrate?(now: number): void;
  handleTimeout(now: number): void;
  handleStatelessReset(now: number): void;
  send(data: Uint8Array, options?: Delivery | CoreSendOptions, now?: number): void;
  setChannel(channel: number, options: ChannelOptions): void;
  /** flush(): the count of reliable messages sent so far (an 'acked' event follows once all are acknowledged). */
  flushMark(): number;
  /** Push one 'acked' event once the first `mark` reliable messages are all acknowledged. */
  watchAcked(mark: number): void;
  /** The first `ackedThrough` reliable messages sent are all acknowledged. */
  readonly ackedThrough: number;
  /** `channel`: the message's (its 'message' event says); reliable credit is per channel's buffer. */
  release(credit: number, delivery?: Delivery, channel?: number): void;
  close(now: number): void;
  abort(now: number, code?: number, reason?: string): void;
  /** `batch`: see ConnectionCore.pollTransmit (an ACK due by count may wait for the batch's end). */
  pollTransmit(now: number, batch?: boolean): Uint8Array | null;
  /** Set when pollTransmit(now, true) left an ACK for the end of the batch. */
  readonly ackDeferred?: boolean;
  /** Packets wait for an ACK, due or not (EndpointCore.batchAckWaits). */
  readonly ackWaiting?: boolean;
  pollTimeout(): number | null;
  pollEvent(): CoreEvent | null;
  readonly bufferedAmount: number;
  /** Largest message send() accepts (ours and the peer's announced limit). */
  readonly maxMessageSize: number;
  readonly state: 'open' | 'closing' | 'draining' | 'closed';
  /** `now`: include the current interval in the time-blocked totals. */
  stats(now?: number): ConnectionStats;
  /**
   * Datagrams handed to the engine after it closed (before the endpoint drained it and retired
   * its IDs: the rest of a batch read before the next poll). The endpoint counts them as
   * `retired-cid` when it retires the connection.
   */
  readonly readAfterClose?: number;
  /** Did the last pollTransmit at `now` stop sending data? (stats' time blocked: EndpointCore.flushed) */
  stoppedSendingAt?(now: number): boolean;
  /** What stopped sending data at `flushNow` had sent its last datagram by `end`. */
  sentUntil?(flushNow: number, end: number): void;
}

export interface ConnectionCoreInit {
  role: 'client' | 'server';
  localCid: bigint;
  remoteCid: bigint;
  /** The parameters this side announced in its handshake packet. */
  localParams: TransportParams;
  /** The parameters the peer announced. */
  remoteParams: TransportParams;
  config?: Partial<CoreConfig>;
  now: number;
  /** Receives this connection's trace events (qlog-shaped, src/core/trace.ts), as objects or qlog text. Default: none. */
  trace?: TraceDestination | null;
  /** The endpoint's shared byte budget (maxBufferedBytes); none: only receiveWindow applies. */
  budget?: BufferBudget;
  /**
   * The peer's address and port: the connection's first path. With them, every datagram must
   * come with its source address (`handleDatagram`), and one from another address is validated
   * before the connection moves there (path-validation.ts). Without: no address checks.
   */
  address?: string;
  port?: number;
  /** Randomness for PATH_CHALLENGE data (the endpoint's randomBytes). Default: from `config.random`. */
  randomBytes?: (n: number) => Uint8Array;
  /** Bytes packet protection adds to every datagram on the wire (0 for plaintext): for the amplification limit. */
  packetOverhead?: number;
  /**
   * A round trip the handshake measured (the client's INITIAL → ACCEPT, RFC 9002 §5), ms: the
   * first RTT sample, so the PTO and the close's drain period start from the path, not from
   * `initialRtt`. 0 or absent: none (the server, or an INITIAL that was repeated).
   */
  handshakeRtt?: number;
  /**
   * Server: the ACCEPT left at `now`. The client sends nothing before it has it, so the time to
   * its first packet bounds the round trip (docs/protocol.md §14.1). Absent: no bound (an engine
   * made without a handshake, as the test pair's).
   */
  acceptSentNow?: boolean;
}

export type ConnectionCoreFactory = (init: ConnectionCoreInit) => ConnectionCoreLike;

/** A datagram the endpoint wants sent. */
export interface Transmit {
  data: Uint8Array;
  address: string;
  port: number;
}

/** Why the endpoint dropped a datagram. The first six come from the wire decoder. */
export type DropReason =
  | 'too-short'
  | 'checksum'
  | 'version'
  | 'unknown-type'
  | 'malformed'
  | 'too-small-initial'
  /** DATA larger than the maxDatagramSize this endpoint announced. */
  | 'oversize'
  /** DATA or STATELESS_RESET for a connection ID this endpoint does not know. */
  | 'unknown-cid'
  /** A packet for a connection that closed recently (its ID is retired). */
  | 'retired-cid'
  /** INITIAL with a cookie that failed its HMAC check. */
  | 'bad-cookie'
  /** INITIAL with a cookie older than `cookieLifetime`. */
  | 'expired-cookie'
  /** INITIAL refused: maxConnections, maxConnectionsPerAddress, not accepting, or closing. */
  | 'over-limit'
  /** Transport parameters out of range (e.g. maxDatagramSize below 1200). */
  | 'bad-params'
  /** A STATELESS_RESET whose token does not match. */
  | 'bad-reset-token'
  /** A handshake packet nobody is waiting for (RETRY/ACCEPT/VN without a matching connect). */
  | 'unexpected'
  /** DATA for a connection still in its handshake (the ACCEPT was lost; the client re-sends INITIAL). */
  | 'early-data'
  /**
   * Encrypted connection: a packet whose AEAD tag did not verify (forged, altered, truncated, or
   * for a key already discarded), or a plaintext DATA packet (an injection).
   */
  | 'decrypt'
  /** Encrypted connection: a packet number seen before, or below the replay window. */
  | 'replay'
  /**
   * A plaintext INITIAL refused: this endpoint requires encryption (or client keys, `verifyPeer`);
   * or a plaintext ACCEPT answering an encrypted connect (forged: dropped, the connect goes on).
   */
  | 'unencrypted'
  /**
   * A secure handshake message that did not authenticate (wrong key, altered, or no key pair
   * here); on a client, a forged SECURE_ACCEPT, dropped while its connect goes on.
   */
  | 'handshake-failed'
  /** `verifyPeer` rejected the peer's static key (or the client presented none). */
  | 'peer-rejected'
  /** A bug caught at the boundary: the datagram was dropped instead of throwing. */
  | 'internal-error';

export const DROP_REASONS: readonly DropReason[] = [
  'too-short',
  'checksum',
  'version',
  'unknown-type',
  'malformed',
  'too-small-initial',
  'oversize',
  'unknown-cid',
  'retired-cid',
  'bad-cookie',
  'expired-cookie',
  'over-limit',
  'bad-params',
  'bad-reset-token',
  'unexpected',
  'early-data',
  'decrypt',
  'replay',
  'unencrypted',
  'handshake-failed',
  'peer-rejected',
  'internal-error',
];

export interface EndpointError {
  code: ErrorCode;
  message: string;
}

/** Counters of one endpoint (its handshakes and the datagrams it drops before any connection). */
export interface EndpointStats {
  /** Live connections (established or closing; not the draining ones). */
  connections: number;
  /**
   * Closed connections still answering a repeated CLOSE for a few PTOs (docs/protocol.md §18);
   * they hold their connection ID until then and are not counted in `connections`.
   */
  drainingConnections: number;
  /** Outgoing handshakes in progress. */
  pendingConnects: number;
  datagramsReceived: number;
  bytesReceived: number;
  datagramsSent: number;
  bytesSent: number;
  /** Datagrams sent by the endpoint itself (handshake, resets), not by a connection. */
  handshakeDatagramsSent: number;
  handshakeBytesSent: number;
  retriesSent: number;
  acceptsSent: number;
  versionNegotiationsSent: number;
  statelessResetsSent: number;
  /** Connections refused (STATELESS_RESET in reply to a valid INITIAL). */
  refused: number;
  connectionsAccepted: number;
  connectionsConnected: number;
  connectionsClosed: number;
  /** Datagrams dropped by the endpoint, by reason (datagrams a connection drops are in its stats). */
  dropped: Record<DropReason, number>;
  /** Sum of `dropped`. */
  droppedTotal: number;
  /** Bytes all connections hold for their peers now (counted against maxBufferedBytes). */
  bufferedBytes: number;
  /**
   * Packets with data that connections left unprocessed and unacknowledged because the
   * endpoint's maxBufferedBytes was reached (their senders retransmit them).
   */
  packetsDeferred: number;
}

/** Endpoint configuration, all fields resolved (defaults live in src/options.ts). */
export interface EndpointCoreConfig {
  /** Engine settings handed to every ConnectionCore. */
  core: Partial<CoreConfig>;
  /** Give up on connect() after this long, ms. */
  connectTimeout: number;
  /** Largest number of connections (incoming + outgoing + pending connects). */
  maxConnections: number;
  /** Largest number of incoming connections from one IP address. */
  maxConnectionsPerAddress: number;
  /** Largest number of outgoing connects in their handshake at once. */
  maxPendingConnects: number;
  /**
   * Accept incoming connections: a constant, or a predicate asked at each new INITIAL (the Node
   * shell accepts while the application listens for 'connection').
   */
  acceptConnections: boolean | (() => boolean);
  /** How long a cookie is valid, ms. */
  cookieLifetime: number;
  /** How often the cookie secret rotates, ms. */
  cookieRotation: number;
  /** How long a closed connection's ID stays retired, ms. */
  retiredCidLifetime: number;
  /** Answer DATA for unknown connection IDs with a stateless reset. */
  statelessReset: boolean;
  /** At most one stateless reset per this many ms per remote address. */
  statelessResetInterval: number;
  /** RETRYs a client follows per connect. */
  maxRetries: number;
  /** Bytes all connections together may hold for their peers (see BufferBudget). Default: no limit. */
  maxBufferedBytes?: number;
  /** Key for stateless-reset tokens (≥16 bytes). Keep it across restarts so peers learn of them. */
  resetKey?: Uint8Array;
  /** This endpoint's static X25519 key pair: its identity as a server (and as a client, for mutual authentication). */
  keyPair?: KeyPair;
  /**
   * 'required': every connection is encrypted (plaintext INITIALs are refused; every connect()
   * runs the secure handshake). 'optional': plaintext INITIALs are accepted as before, and a
   * connect() is encrypted when it names the server's key. Default: 'required' with a key pair.
   */
  encryption?: 'required' | 'optional';
  /**
   * Judge a peer's static public key (server: the client's, which then becomes mandatory;
   * client: the server's). False refuses the connection.
   */
  verifyPeer?: (publicKey: Uint8Array, address: string, port: number) => boolean;
  /** Key-update thresholds of encrypted connections (defaults: DEFAULT_PROTECTION_CONFIG). */
  protection?: Partial<ProtectionConfig>;
}

/** Options of one outgoing connect. */
export interface ConnectRequest {
  /** The server's static public key (32 bytes): the handshake fails unless the server proves it holds it. */
  serverKey?: Uint8Array;
}

export interface EndpointCoreOptions {
  config: EndpointCoreConfig;
  /** Source of randomness (crypto.randomBytes in real life, seeded in tests). */
  randomBytes: (n: number) => Uint8Array;
  /** Builds a ConnectionCore (design.md "ConnectionCore API"). */
  createConnection: ConnectionCoreFactory;
  /** Primitives for encrypted connections (the Node shell passes src/crypto/node-suite.ts). */
  crypto?: CryptoSuite;
  now: number;
  /** Trace connections (and the endpoint's own drops): src/core/trace.ts. Default: none. */
  trace?: TraceTarget | null;
}
