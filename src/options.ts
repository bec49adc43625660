import { InvalidArgTypeError, InvalidArgValueError } from './errors.js';
import { rejectUnknownOptions } from './unknown-options.js';
import { DEFAULT_CORE_CONFIG, unreliableBudgetFor } from './core/config.js';
import { DEFAULT_PROTECTION_CONFIG } from './core/secure/packet-protection.js';
import type { EndpointCoreConfig } from './core/endpoint.js';
import type { TraceEvent, TracedConnection } from './core/trace.js';
import type { CongestionAlgorithm, CongestionControllerFactory, CoreConfig } from './core/types.js';
import type { Clock } from './node/clock.js';
import type { DatagramSocket } from './node/socket.js';
import { parseChannels, type ChannelEntry, type ChannelsOption } from './node/channel-options.js';
import { parseKeyPair, type KeyInput } from './crypto/keys.js';

/**
 * Options of `createEndpoint()`. Every field is optional; {@link ENDPOINT_DEFAULTS} is the one
 * table of defaults (README "Options" copies it).
 */
export interface EndpointOptions {
  // ---- socket
  /** 'udp4' (default) or 'udp6'. Ignored when `socket` is given. */
  type?: 'udp4' | 'udp6';
  /**
   * Address to bind. Default: the unspecified address of the family ('0.0.0.0' for udp4, '::'
   * for udp6), as `dgram` binds on a first send: the only address from which a client reaches
   * any host. That does not make the endpoint a server: incoming connections are refused unless
   * the application listens (see `acceptConnections`). Pass `host: '127.0.0.1'` to stay on
   * loopback.
   */
  host?: string;
  /** Port to bind. Default 0 (an ephemeral port; read it with `address()`). */
  port?: number;
  /** Use this already-bound socket (a `dgram.Socket`, `LossySocket`, simulator socket...) instead. */
  socket?: DatagramSocket;
  /** Time source and timers. Default `realClock`; pass a `VirtualClock` to run in simulated time. */
  clock?: Clock;
  /** Randomness (connection IDs, secrets, packet numbers). Default `crypto.randomBytes`. */
  randomBytes?: (n: number) => Uint8Array;
  /** SO_RCVBUF / SO_SNDBUF for sockets this endpoint binds, bytes. Default 4 MiB (the OS may cap it). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** udp6 only: do not accept IPv4-mapped traffic. Default false. */
  ipv6Only?: boolean;

  // ---- handshake and limits
  /** connect() gives up after this long, ms. Default 10,000. */
  connectTimeout?: number;
  /** Most connections on this endpoint (incoming + outgoing + pending connects). Default 10,000. */
  maxConnections?: number;
  /** Most incoming connections from one IP address. Default 1,000. */
  maxConnectionsPerAddress?: number;
  /** Most outgoing connects in their handshake at once. Default 256. */
  maxPendingConnects?: number;
  /**
   * Accept incoming connections. Default: only while the endpoint has a `'connection'` listener
   * (an endpoint used as a client refuses strangers; the refusal is a stateless reset and the
   * peer's connect() fails with ERR_CONNECTION_REFUSED). `true`: always accept (connections with
   * nobody listening wait, holding their receive credit); `false`: never.
   */
  acceptConnections?: boolean;
  /** Validity of a handshake cookie, ms. Default 10,000. */
  cookieLifetime?: number;
  /** Cookie secret rotation period, ms. Default 120,000. */
  cookieRotation?: number;
  /** How long a closed connection's ID stays retired, ms. Default 10,000. */
  retiredCidLifetime?: number;
  /** Answer packets for unknown connections with a stateless reset. Default true. */
  statelessReset?: boolean;
  /** At most one stateless reset per this many ms per remote address. Default 20. */
  statelessResetInterval?: number;
  /** Key for stateless-reset tokens (≥16 bytes); keep it across restarts. Default random. */
  resetKey?: Uint8Array;
  /**
   * Bytes all connections of this endpoint together may hold for their peers (received data
   * not yet read, out-of-order fragments, unfinished messages). Past it, a connection over its
   * fair share gets its new data left unacknowledged (the peer retransmits it later). Default 64 MiB.
   */
  maxBufferedBytes?: number;

  // ---- encryption (README "Encryption")
  /**
   * This endpoint's static X25519 key pair (`generateKeyPair()`; base64 strings accepted). A
   * server with one encrypts its connections and proves its identity with it; a client with one
   * also authenticates itself to servers (mutual authentication, see `verifyPeer`).
   */
  keyPair?: { publicKey?: KeyInput; privateKey: KeyInput };
  /**
   * 'required' (default with a `keyPair`): plaintext clients are refused (ERR_CONNECTION_REFUSED)
   * and every connect() is encrypted. 'optional' (default without): plaintext connections are
   * accepted too, and a connect() is encrypted when it names `serverKey`.
   */
  encryption?: 'required' | 'optional';
  /**
   * Judge the peer's static public key: on a server, the client's (clients without a key pair are
   * then refused); on a client, the server's (pinning or trust on first use). Return false to
   * refuse: connect() rejects with ERR_AUTHENTICATION_FAILED. Called synchronously.
   */
  verifyPeer?: (publicKey: Buffer, address: string, port: number) => boolean;
  /** Encrypted connections change keys at least this often, ms. Default 120,000 (and every 2^23 packets). */
  keyUpdateInterval?: number;

  // ---- connections (the engine)
  /**
   * Largest datagram sent and accepted, bytes (≥1200, ≤65,507): the ceiling of path-MTU
   * discovery, which starts at 1,200 and probes up to min(this, the peer's). 1200 disables
   * discovery. Default 1452.
   */
  maxDatagramSize?: number;
  /**
   * Largest message sent or received, bytes (announced to the peer, capped at `receiveWindow`;
   * at most `maxQueuedBytes`). Default 4 MiB.
   */
  maxMessageSize?: number;
  /** Bytes a peer may make one connection hold (flow control and unreliable data each). Default 4 MiB. */
  receiveWindow?: number;
  /**
   * Bytes the reliable receive window may grow to: it starts at `receiveWindow` and doubles while
   * the application consumes a whole window in under ~4 RTTs, within the fair share of
   * `maxBufferedBytes`. At most `receiveWindow`: no growth. Default 16 MiB.
   */
  maxReceiveWindow?: number;
  /** RTT assumed before the first sample, ms. Default 100. */
  initialRtt?: number;
  /** Probe-timeout floor / ceiling, ms. Defaults 5 / 10,000. */
  minPto?: number;
  maxPto?: number;
  /** Longest ACK delay, ms. Default 5. */
  maxAckDelay?: number;
  /**
   * ACK at the latest after this many ack-eliciting packets, once the first 100 arrived (those
   * are acknowledged every second packet). Default 10.
   */
  ackEveryPackets?: number;
  /** Close a connection after this long without hearing from the peer, ms (0: never). Default 30,000. */
  idleTimeout?: number;
  /** PING after this long without sending, ms (0: never). Default 10,000. */
  keepAliveInterval?: number;
  /** Congestion controller: a built-in name (default: the engine's, see src/core/config.ts) or a factory. */
  congestion?: CongestionAlgorithm | CongestionControllerFactory;
  /** Pace packets over the RTT. Default true. */
  pacing?: boolean;
  /**
   * As `net.createServer({ allowHalfOpen })`: when the peer ends (`'end'`), keep this side open
   * for sending until the application calls `end()` or `close()`. Default false: the connection
   * closes as soon as the peer ends (what it had queued is still sent).
   */
  allowHalfOpen?: boolean;
  /**
   * Channel settings of every connection of this endpoint, accepted or opened, by channel
   * number: `{ 1: { priority: 1 }, 0: { redundancy: 1 } }`. Each entry is applied with
   * `setChannel()` before the connection is handed over (the 'connection' event, or
   * `connect()` resolving); `connect(…, { channels })` adds to it. Default: none.
   */
  channels?: ChannelsOption;

  // ---- the Node API
  /** `send()` returns false once this many bytes wait to be sent. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Hard limit on bytes waiting to be sent per connection. A `send()` that would pass it throws
   * ERR_SEND_QUEUE_FULL and queues nothing (a message is always accepted into an empty queue).
   * Default 8 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Unreliable messages kept for a slow reader before the oldest is dropped. Default 1,024.
   * They are also limited to half of the unreliable budget (about 1.26 × `min(maxMessageSize, receiveWindow)` bytes, docs/protocol.md §12.5).
   */
  maxQueuedUnreliable?: number;
  /**
   * Let the first endpoint ask V8 to free dead ArrayBuffers on the main thread
   * (`--no-concurrent-array-buffer-sweeping`, process-wide, once): every received datagram is a
   * Buffer of its own, and freeing them from V8's worker thread contends with the main thread's
   * allocations of the next ones (src/node/array-buffer-sweeping.ts): ~10–20 % less CPU on a
   * bulk receiver. Default false: a library does not change V8's flags for the whole process
   * unasked (Node's docs warn that flags changed after start-up may behave unpredictably). The
   * same effect without this option: run `node --no-concurrent-array-buffer-sweeping`.
   */
  sweepBuffersOnMainThread?: boolean;
  /**
   * Warm the engine up before the first endpoint of the process opens: two engines of its own
   * exchange 6,000 request/response trips in memory, on a virtual clock (no socket, nothing
   * sent), so that V8 has compiled the per-packet code before real traffic comes
   * (src/node/warm-up.ts). Without it the first ~10,000 packets of a process share the CPU with
   * 60–70 TurboFan compile jobs: with it the ping-pong p99 over trips 1,001–11,000 was 40–60 %
   * lower (bench/analysis.md, stop 34). Costs ~0.2 s (~0.3 s of CPU with V8's compile threads)
   * once per process, inside the first `createEndpoint()` that asks for it. Default false: a
   * library does not spend that at start-up unasked; a server, a game or an RPC client that
   * cares about its first seconds' latency turns it on.
   */
  warmUp?: boolean;

  // ---- observability
  /**
   * Write a qlog file per connection into this directory (created if missing): JSON-SEQ, qlog
   * 0.3, readable by qvis and `reliable-dgram-trace`. Default: none.
   */
  qlogDir?: string;
  /**
   * Which connections `qlogDir` traces: called once per new connection (accepted or opened,
   * before its first packet, so that its file is complete), true to write its qlog file.
   * A filter that throws traces nothing for that connection. A `connect()` with its own `qlog`
   * option is not asked. Default: every connection.
   *
   * ```ts
   * // One accepted connection in a hundred, and every one from 10.0.0.7.
   * qlogFilter: (c) => c.role === 'client' || c.address === '10.0.0.7' || c.id % 100 === 0
   * ```
   */
  qlogFilter?: (connection: TracedConnection) => boolean;
  /**
   * Receive every trace event in process: `connection` is null for the endpoint's own events
   * (datagrams dropped before any connection). Called synchronously; keep it cheap. Default: none.
   */
  trace?: (event: TraceEvent, connection: TracedConnection | null) => void;
}

/** Options after defaults and validation. */
export interface ResolvedEndpointOptions {
  type: 'udp4' | 'udp6';
  host: string | undefined;
  port: number;
  socket: DatagramSocket | undefined;
  clock: Clock | undefined;
  randomBytes: ((n: number) => Uint8Array) | undefined;
  recvBufferSize: number;
  sendBufferSize: number;
  ipv6Only: boolean;
  /** undefined: accept while a 'connection' listener is attached (the shell decides). */
  acceptConnections: boolean | undefined;
  endpoint: EndpointCoreConfig;
  highWaterMark: number;
  maxQueuedBytes: number;
  maxQueuedUnreliable: number;
  sweepBuffersOnMainThread: boolean;
  warmUp: boolean;
  qlogDir: string | undefined;
  qlogFilter: ((connection: TracedConnection) => boolean) | undefined;
  trace: ((event: TraceEvent, connection: TracedConnection | null) => void) | undefined;
  /** The `channels` option, validated, in channel order (empty: none). */
  channels: ChannelEntry[];
}

const MiB = 1024 * 1024;

/**
 * Every default, in one table. Engine values come from the engine's own table
 * (`DEFAULT_CORE_CONFIG`, src/core/config.ts), so the two cannot drift apart.
 */
export const ENDPOINT_DEFAULTS = {
  // socket
  type: 'udp4' as 'udp4' | 'udp6',
  port: 0,
  recvBufferSize: 4 * MiB,
  sendBufferSize: 4 * MiB,
  ipv6Only: false,
  // handshake and limits
  connectTimeout: 10_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
  maxPendingConnects: 256,
  cookieLifetime: 10_000,
  cookieRotation: 120_000,
  retiredCidLifetime: 10_000,
  statelessReset: true,
  statelessResetInterval: 20,
  maxBufferedBytes: 64 * MiB,
  // encryption (the packet-protection table, src/core/secure/packet-protection.ts)
  keyUpdateInterval: DEFAULT_PROTECTION_CONFIG.keyUpdateInterval,
  // connections (the engine)
  maxDatagramSize: DEFAULT_CORE_CONFIG.maxDatagramSize,
  maxMessageSize: DEFAULT_CORE_CONFIG.maxMessageSize,
  receiveWindow: DEFAULT_CORE_CONFIG.receiveWindow,
  maxReceiveWindow: DEFAULT_CORE_CONFIG.maxReceiveWindow,
  initialRtt: DEFAULT_CORE_CONFIG.initialRtt,
  minPto: DEFAULT_CORE_CONFIG.minPto,
  maxPto: DEFAULT_CORE_CONFIG.maxPto,
  maxAckDelay: DEFAULT_CORE_CONFIG.maxAckDelay,
  ackEveryPackets: DEFAULT_CORE_CONFIG.ackEveryPackets,
  idleTimeout: DEFAULT_CORE_CONFIG.idleTimeout,
  keepAliveInterval: DEFAULT_CORE_CONFIG.keepAliveInterval,
  congestion: DEFAULT_CORE_CONFIG.congestion,
  pacing: DEFAULT_CORE_CONFIG.pacing,
  allowHalfOpen: DEFAULT_CORE_CONFIG.allowHalfOpen,
  // the Node API
  highWaterMark: 1 * MiB,
  maxQueuedBytes: 8 * MiB,
  maxQueuedUnreliable: 1024,
  sweepBuffersOnMainThread: false,
  warmUp: false,
} as const;

type NumberKey = {
  [K in keyof EndpointOptions]-?: NonNullable<EndpointOptions[K]> extends number ? K : never;
}[keyof EndpointOptions];

/** [min, max] of each numeric option (integers unless noted). */
const RANGES: Record<NumberKey, [number, number]> = {
  port: [0, 65535],
  recvBufferSize: [0, 2 ** 31 - 1],
  sendBufferSize: [0, 2 ** 31 - 1],
  connectTimeout: [1, 2 ** 31 - 1],
  maxConnections: [1, 2 ** 31 - 1],
  maxConnectionsPerAddress: [1, 2 ** 31 - 1],
  maxPendingConnects: [1, 2 ** 31 - 1],
  cookieLifetime: [1000, 2 ** 31 - 1],
  cookieRotation: [1000, 2 ** 31 - 1],
  retiredCidLifetime: [0, 2 ** 31 - 1],
  statelessResetInterval: [0, 2 ** 31 - 1],
  maxBufferedBytes: [1, 2 ** 53 - 1],
  keyUpdateInterval: [1000, 2 ** 31 - 1],
  maxDatagramSize: [1200, 65507],
  maxMessageSize: [0, 2 ** 31 - 1],
  receiveWindow: [1, 2 ** 31 - 1],
  maxReceiveWindow: [1, 2 ** 31 - 1],
  initialRtt: [1, 60_000],
  minPto: [1, 60_000],
  maxPto: [1, 2 ** 31 - 1],
  maxAckDelay: [0, 60_000],
  ackEveryPackets: [1, 1000],
  idleTimeout: [0, 2 ** 32 - 1],
  keepAliveInterval: [0, 2 ** 31 - 1],
  highWaterMark: [0, 2 ** 31 - 1],
  maxQueuedBytes: [1, 2 ** 53 - 1],
  maxQueuedUnreliable: [0, 2 ** 31 - 1],
};

function num(options: EndpointOptions, key: NumberKey): number {
  const value = options[key];
  const fallback = (ENDPOINT_DEFAULTS as Record<string, unknown>)[key] as number;
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidArgTypeError(`options.${key} must be a number, got ${typeof value}`);
  }
  const [min, max] = RANGES[key];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgValueError(`options.${key} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function bool(options: EndpointOptions, key: 'ipv6Only' | 'statelessReset' | 'pacing' | 'allowHalfOpen' | 'sweepBuffersOnMainThread' | 'warmUp'): boolean {
  const value = options[key];
  if (value === undefined) return ENDPOINT_DEFAULTS[key];
  if (typeof value !== 'boolean') throw new InvalidArgTypeError(`options.${key} must be a boolean`);
  return value;
}

/**
 * Every option name, for the unknown-option check. A Record over `keyof EndpointOptions`, so an
 * option added to the interface without being added here fails to compile.
 */
const ENDPOINT_OPTION_NAMES: Record<keyof EndpointOptions, true> = {
  type: true,
  host: true,
  port: true,
  socket: true,
  clock: true,
  randomBytes: true,
  recvBufferSize: true,
  sendBufferSize: true,
  ipv6Only: true,
  connectTimeout: true,
  maxConnections: true,
  maxConnectionsPerAddress: true,
  maxPendingConnects: true,
  maxBufferedBytes: true,
  acceptConnections: true,
  cookieLifetime: true,
  cookieRotation: true,
  retiredCidLifetime: true,
  statelessReset: true,
  statelessResetInterval: true,
  resetKey: true,
  keyPair: true,
  encryption: true,
  verifyPeer: true,
  keyUpdateInterval: true,
  maxDatagramSize: true,
  maxMessageSize: true,
  receiveWindow: true,
  maxReceiveWindow: true,
  initialRtt: true,
  minPto: true,
  maxPto: true,
  maxAckDelay: true,
  ackEveryPackets: true,
  idleTimeout: true,
  keepAliveInterval: true,
  congestion: true,
  pacing: true,
  allowHalfOpen: true,
  channels: true,
  highWaterMark: true,
  maxQueuedBytes: true,
  maxQueuedUnreliable: true,
  sweepBuffersOnMainThread: true,
  warmUp: true,
  qlogDir: true,
  qlogFilter: true,
  trace: true,
};
const KNOWN_ENDPOINT_OPTIONS = Object.keys(ENDPOINT_OPTION_NAMES);

function isSocket(value: unknown): value is DatagramSocket {
  const s = value as Record<string, unknown> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s['send'] === 'function' &&
    typeof s['address'] === 'function' &&
    typeof s['close'] === 'function' &&
    typeof s['on'] === 'function' &&
    typeof s['off'] === 'function'
  );
}

function isClock(value: unknown): value is Clock {
  const c = value as Record<string, unknown> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c['now'] === 'function' &&
    typeof c['setTimer'] === 'function' &&
    typeof c['clearTimer'] === 'function'
  );
}

/** Validate `options` and fill in defaults. Throws TypeError/RangeError with a `code`. */
export function resolveEndpointOptions(options: EndpointOptions = {}): ResolvedEndpointOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgTypeError('options must be an object');
  }
  rejectUnknownOptions(options, KNOWN_ENDPOINT_OPTIONS);
  const type = options.type ?? ENDPOINT_DEFAULTS.type;
  if (type !== 'udp4' && type !== 'udp6') throw new InvalidArgValueError(`options.type must be 'udp4' or 'udp6'`);
  if (options.host !== undefined && typeof options.host !== 'string') {
    throw new InvalidArgTypeError('options.host must be a string');
  }
  if (options.socket !== undefined && !isSocket(options.socket)) {
    throw new InvalidArgTypeError('options.socket must be a dgram.Socket or implement DatagramSocket');
  }
  if (options.clock !== undefined && !isClock(options.clock)) {
    throw new InvalidArgTypeError('options.clock must implement Clock (now, setTimer, clearTimer)');
  }
  if (options.randomBytes !== undefined && typeof options.randomBytes !== 'function') {
    throw new InvalidArgTypeError('options.randomBytes must be a function');
  }
  if (options.qlogDir !== undefined && (typeof options.qlogDir !== 'string' || options.qlogDir === '')) {
    throw new InvalidArgTypeError('options.qlogDir must be a non-empty string (a directory path)');
  }
  if (options.qlogFilter !== undefined && typeof options.qlogFilter !== 'function') {
    throw new InvalidArgTypeError('options.qlogFilter must be a function');
  }
  if (options.trace !== undefined && typeof options.trace !== 'function') {
    throw new InvalidArgTypeError('options.trace must be a function');
  }
  if (options.resetKey !== undefined) {
    if (!(options.resetKey instanceof Uint8Array)) throw new InvalidArgTypeError('options.resetKey must be a Uint8Array');
    if (options.resetKey.length < 16) throw new InvalidArgValueError('options.resetKey must be at least 16 bytes');
  }
  const congestion = options.congestion ?? ENDPOINT_DEFAULTS.congestion;
  // Names are checked against the engine's list when the endpoint is created (src/node/engine.ts).
  if (typeof congestion !== 'function' && typeof congestion !== 'string') {
    throw new InvalidArgTypeError('options.congestion must be the name of a built-in controller or a factory function');
  }

  const minPto = num(options, 'minPto');
  const maxPto = num(options, 'maxPto');
  if (maxPto < minPto) throw new InvalidArgValueError('options.maxPto must be at least options.minPto');
  const maxMessageSize = num(options, 'maxMessageSize');
  const maxQueuedBytes = num(options, 'maxQueuedBytes');
  const acceptConnections = options.acceptConnections;
  if (acceptConnections !== undefined && typeof acceptConnections !== 'boolean') {
    throw new InvalidArgTypeError('options.acceptConnections must be a boolean');
  }
  // A message refused with ERR_SEND_QUEUE_FULL must fit once the queue drains, or 'drain'
  // could never be followed by a successful send.
  if (maxMessageSize > maxQueuedBytes) {
    throw new InvalidArgValueError(
      `options.maxMessageSize (${maxMessageSize}) must not exceed options.maxQueuedBytes (${maxQueuedBytes}): a message that large could never be queued`,
    );
  }
  const receiveWindow = num(options, 'receiveWindow');

  const core: Partial<CoreConfig> = {
    maxDatagramSize: num(options, 'maxDatagramSize'),
    maxMessageSize,
    receiveWindow,
    maxReceiveWindow: num(options, 'maxReceiveWindow'),
    initialRtt: num(options, 'initialRtt'),
    minPto,
    maxPto,
    maxAckDelay: num(options, 'maxAckDelay'),
    ackEveryPackets: num(options, 'ackEveryPackets'),
    idleTimeout: num(options, 'idleTimeout'),
    keepAliveInterval: num(options, 'keepAliveInterval'),
    congestion,
    pacing: bool(options, 'pacing'),
    allowHalfOpen: bool(options, 'allowHalfOpen'),
    // Unreliable data (reassembly and unread messages) gets a budget of its own: enough for one
    // message of min(maxMessageSize, receiveWindow), fragment overhead included.
    maxUnreliableReassembly: unreliableBudgetFor(Math.min(maxMessageSize, receiveWindow)),
  };
  const endpoint: EndpointCoreConfig = {
    core,
    connectTimeout: num(options, 'connectTimeout'),
    maxConnections: num(options, 'maxConnections'),
    maxConnectionsPerAddress: num(options, 'maxConnectionsPerAddress'),
    maxPendingConnects: num(options, 'maxPendingConnects'),
    acceptConnections: acceptConnections ?? true,
    cookieLifetime: num(options, 'cookieLifetime'),
    cookieRotation: num(options, 'cookieRotation'),
    retiredCidLifetime: num(options, 'retiredCidLifetime'),
    statelessReset: bool(options, 'statelessReset'),
    statelessResetInterval: num(options, 'statelessResetInterval'),
    maxBufferedBytes: num(options, 'maxBufferedBytes'),
    maxRetries: 3,
  };
  if (options.resetKey !== undefined) endpoint.resetKey = new Uint8Array(options.resetKey);
  if (options.keyPair !== undefined) endpoint.keyPair = parseKeyPair(options.keyPair, 'options.keyPair');
  if (options.encryption !== undefined) {
    if (options.encryption !== 'required' && options.encryption !== 'optional') {
      throw new InvalidArgValueError(`options.encryption must be 'required' or 'optional', got ${String(options.encryption)}`);
    }
    endpoint.encryption = options.encryption;
  }
  if (options.verifyPeer !== undefined) {
    const verify = options.verifyPeer;
    if (typeof verify !== 'function') throw new InvalidArgTypeError('options.verifyPeer must be a function');
    endpoint.verifyPeer = (publicKey, address, port) => verify(Buffer.from(publicKey), address, port);
  }
  endpoint.protection = { keyUpdateInterval: num(options, 'keyUpdateInterval') };

  return {
    type,
    host: options.host,
    port: num(options, 'port'),
    socket: options.socket,
    clock: options.clock,
    randomBytes: options.randomBytes,
    recvBufferSize: num(options, 'recvBufferSize'),
    sendBufferSize: num(options, 'sendBufferSize'),
    ipv6Only: bool(options, 'ipv6Only'),
    acceptConnections,
    endpoint,
    highWaterMark: num(options, 'highWaterMark'),
    maxQueuedBytes,
    maxQueuedUnreliable: num(options, 'maxQueuedUnreliable'),
    sweepBuffersOnMainThread: bool(options, 'sweepBuffersOnMainThread'),
    warmUp: bool(options, 'warmUp'),
    qlogDir: options.qlogDir,
    qlogFilter: options.qlogFilter,
    trace: options.trace,
    channels: options.channels === undefined ? [] : parseChannels(options.channels, 'options.channels'),
  };
}
