import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { EventEmitter } from 'node:events';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import { EndpointCore, type EndpointConnection, type EndpointEvent, type EndpointStats, type Transmit } from '../core/endpoint.js';
import { AbortError, rdError, type ReliableDgramError } from '../errors.js';
import { resolveEndpointOptions, type EndpointOptions, type ResolvedEndpointOptions } from '../options.js';
import { canonicalIPv6, dialAddress, mappedIPv4, resolvesIPv4Too, type SocketFamily } from './address.js';
import { bindSocket, portPinned, sendsInsideSend } from './bind.js';
import { nodeSuite } from '../crypto/node-suite.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { ChannelEntry } from './channel-options.js';
import { boundedWait, checkCloseOptions, type CloseOptions } from './close-options.js';
import { Connection, type ConnectionHost } from './connection.js';
import { PeerSocket } from './peer-socket.js';
import { checkCoreConfig, createConnectionCore } from './engine.js';
import { sweepArrayBuffersOnMainThread } from './array-buffer-sweeping.js';
import { TraceOutput, type QlogChoice } from './qlog.js';
import type { DatagramSocket, RemoteInfo, SocketAddress } from './socket.js';
import { Stage, stageTrace } from './stage-trace.js';
import { checkConnectArgs, checkRebindOptions, type ConnectOptions, type ConnectTarget, type RebindOptions } from './connect-options.js';

export type { ConnectOptions, ConnectTarget, RebindOptions } from './connect-options.js';

/**
 * Events of an {@link Endpoint}, with their listener arguments. `Endpoint` is a `node:events`
 * `EventEmitter`.
 *
 * | Event | Arguments | When |
 * | --- | --- | --- |
 * | `'connection'` | `conn: Connection` | A peer connected (incoming). Listening for it is what makes the endpoint accept (unless `acceptConnections` says otherwise). |
 * | `'error'` | `err: ReliableDgramError \| Error` | The socket failed (code ERR_SOCKET): the endpoint is destroyed; `'close'` follows. Unheard, it is an uncaught exception, as with `dgram`. |
 * | `'close'` | | The endpoint and its socket are closed. |
 */
export interface EndpointEvents {
  /** A peer connected (incoming). */
  connection: [conn: Connection];
  /** A fatal endpoint error (the socket failed); 'close' follows. */
  error: [err: ReliableDgramError | Error];
  /** The endpoint and its socket are closed. */
  close: [];
}


/**
 * A timer firing this many ms after its deadline (several of setTimeout's 1 ms ticks: the loop
 * was held up, not rounding) first lets the socket be read (`onTimer`). Never in virtual time
 * unless a test stalls a process: the simulator's timers fire on time.
 */
const LATE_TIMER_MS = 5;

/** {@link EndpointStats} plus the socket's send errors: what `Endpoint.stats()` returns. */
export interface EndpointStatsWithSocket extends EndpointStats {
  /**
   * socket.send() calls that threw or reported an error (the datagram is lost; the engine
   * recovers). A `dgram.Socket` is given no callback per datagram (each would cost a nextTick), so
   * its asynchronous send errors, which dgram reports only to a callback, are not counted.
   */
  sendErrors: number;
  /**
   * The socket's receive / send buffer (SO_RCVBUF / SO_SNDBUF) as the kernel granted it, bytes
   * (Linux reports twice the size asked for, capped by net.core.rmem_max / wmem_max); 0 when the
   * socket cannot tell (a test double).
   */
  recvBufferSize: number;
  sendBufferSize: number;
  /**
   * The socket is `connect()`ed to the endpoint's one peer (a client endpoint, on a socket it
   * bound itself, while all its datagrams go to one server: README "A client's socket is
   * connected to its server").
   */
  socketConnected: boolean;
  /**
   * ICMP errors (port or host unreachable, ...) the connected socket reported: ignored, never
   * fatal; after one (but "packet too big") the socket goes back to unconnected sends for the
   * rest of the connection.
   */
  icmpErrors: number;
}

/**
 * The open Connections of the engine's connection records: a record not yet handed to the
 * application has none, and a Connection is over (`closed`) once its 'closed' event arrived,
 * while its engine may still linger, draining, for a few PTOs.
 */
function* ownersOf(records: Iterable<EndpointConnection>): Generator<Connection> {
  for (const r of records) {
    const conn = r.owner as Connection | undefined;
    if (conn !== undefined && !conn.closed) yield conn;
  }
}

/** Apply validated `channels` entries to a connection about to be handed over. */
function applyChannels(conn: Connection, channels: readonly ChannelEntry[]): void {
  for (let i = 0; i < channels.length; i++) conn.setChannel(channels[i]![0], channels[i]![1]);
}

interface PendingConnect {
  /** The connect() call's `channels` option, validated. */
  channels: ChannelEntry[];
  resolve: (c: Connection) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

/**
 * Bind a UDP socket (or wrap `options.socket`) and return an endpoint that opens, and (while the
 * application listens for `'connection'`) accepts, reliable-dgram connections on it. Options are
 * validated synchronously (TypeError/RangeError with a `code`; a misspelled option name is a
 * TypeError with ERR_INVALID_ARG_VALUE that suggests the right one); binding failures reject with
 * ERR_SOCKET.
 *
 * ```ts
 * import { createEndpoint } from 'reliable-dgram';
 *
 * // A server: bind a known port and listen.
 * const server = await createEndpoint({ host: '127.0.0.1', port: 7777 });
 * server.on('connection', (conn) => {
 *   conn.on('message', (msg) => conn.send(msg)); // echo
 *   conn.on('error', (err) => console.error(conn.remoteAddress, err.code));
 * });
 *
 * // A client: an ephemeral port; it refuses incoming connections (nobody listens).
 * const client = await createEndpoint();
 * const conn = await client.connect({ port: 7777, host: '127.0.0.1', signal: AbortSignal.timeout(5000) });
 * ```
 */
export function createEndpoint(options?: EndpointOptions): Promise<Endpoint> {
  const resolved = resolveEndpointOptions(options);
  checkCoreConfig(resolved.endpoint.core);
  // Received datagrams' Buffers freed on the main thread (array-buffer-sweeping.ts); once per process.
  if (resolved.sweepBuffersOnMainThread) sweepArrayBuffersOnMainThread();
  const qlogDir = resolved.qlogDir;
  const ready =
    qlogDir === undefined
      ? Promise.resolve()
      : mkdir(qlogDir, { recursive: true }).then(
          () => undefined,
          (err: Error) => {
            throw rdError('ERR_INVALID_ARG_VALUE', `cannot create qlogDir ${qlogDir}: ${err.message}`, err);
          },
        );
  if (resolved.socket) {
    const socket = resolved.socket;
    return ready.then(() => new Endpoint(socket, resolved));
  }
  return ready.then(() => bindSocket(resolved)).then((socket) => new Endpoint(socket, resolved));
}

/**
 * A UDP socket carrying any number of connections, in and out, demultiplexed by connection ID.
 * All connections share one timer and one socket. Create one with {@link createEndpoint}.
 *
 * ```ts
 * await using endpoint = await createEndpoint({ port: 7777 }); // closed at the end of the scope
 * endpoint.on('connection', async (conn) => {
 *   for await (const msg of conn) conn.send(msg);
 * });
 * endpoint.unref(); // do not keep the process alive for this endpoint alone
 * process.once('SIGTERM', () => endpoint.close({ timeout: 5000 }));
 * ```
 *
 * Events ({@link EndpointEvents}):
 *
 * | Event | Arguments | When |
 * | --- | --- | --- |
 * | `'connection'` | `conn: Connection` | A peer connected. The endpoint accepts only while it has such a listener, unless `acceptConnections` is set. |
 * | `'error'` | `err` | The socket failed (ERR_SOCKET); the endpoint is destroyed and `'close'` follows. |
 * | `'close'` | | The endpoint and its socket are closed. |
 */
export class Endpoint extends EventEmitter<EndpointEvents> {
  private readonly core: EndpointCore;
  private readonly clock: Clock;
  /** qlog files and the `trace` callback (null: not traced). */
  /** qlog files and the `trace` callback; untraced connections cost it one call each, at creation. */
  private readonly traceOutput: TraceOutput;
  /**
   * Live connections, incoming and outgoing: the engine's established connections that have
   * their Connection and are not over, each once, in the order they were made. Read from the
   * endpoint core's own table, not kept in a Set of the shell's as well (~30 bytes per
   * connection at 10,000: idle connections, issue 11).
   */
  private get live(): Iterable<Connection> {
    return ownersOf(this.core.connectionRecords());
  }
  /** Connections in `live`: made (wrap) and not finished. */
  private liveCount = 0;
  /** Connections whose send() returned false: checked for 'drain' after each flush. */
  private readonly drainWatch = new Set<Connection>();
  private readonly pending = new Map<number, PendingConnect>();
  private readonly host: ConnectionHost;
  private timer: TimerHandle | null = null;
  private armedAt: number | null = null;
  /** When the armed timer is worth moving on to a later deadline (see `rearm`). */
  private postponeFrom = 0;
  /** The clock can move a timer in place (`Clock.postponeTimer`). */
  private readonly postponable: boolean;
  /** The armed timer is a late one's work put off until the socket was read (`onTimer`). */
  private timerDeferred = false;
  private flushing = false;
  private flushScheduled = false;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private sendErrors = 0;
  private refed = true;
  /** socket.send() calls whose callback has not run yet: the socket closes only after them. */
  private sendsInFlight = 0;
  /**
   * Datagrams a `dgram.Socket` still holds (its getSendQueueCount()), or null for sockets
   * without one (test doubles): those get a callback per datagram instead, counted above.
   */
  private queuedSends: (() => number) | null;
  /**
   * The socket is one the endpoint bound (bind.ts: IP literals resolved inside `send()`), bound,
   * with a send queue count: a datagram it sent at once (the count is 0 after `send()`) is the
   * kernel's copy, and its buffer may be reused (EndpointCore.transmitted). Not for a socket the
   * application passed in: its `dns.lookup` sends on the next tick.
   */
  private reuseSent: boolean;
  /** The socket connected to the one peer, or not (peer-socket.ts); replaced with the socket. */
  private peer: PeerSocket;
  private afterSends: (() => void) | null = null;
  private readonly onSent = (err: Error | null): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.SendCallback);
    if (err) this.sendErrors++;
    this.sendsInFlight--;
    if (this.sendsInFlight <= 0 && this.afterSends) {
      const fn = this.afterSends;
      this.afterSends = null;
      fn();
    }
  };
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.state === 'closed') return;
    if (stageTrace !== null) stageTrace.mark(Stage.Message, msg.length);
    // One reading of the clock for the datagram and the flush that answers it (the same turn).
    const now = this.clock.now();
    this.core.handleDatagram(now, msg, rinfo.address, rinfo.port);
    if (stageTrace !== null) stageTrace.mark(Stage.Decoded);
    // Answer in the same turn: the application's reply from a 'message' handler leaves with the
    // ACK before the next datagram is read, and so does an ACK the engine wants at once (a gap,
    // a PING). An ACK due only because enough packets arrived waits for the end of the socket's
    // batch (libuv reads up to 32 datagrams per poll): one ACK for the batch. Only then, or
    // while packets wait for an ACK (the next datagrams of the batch add to them), is a flush
    // scheduled after the batch (setImmediate, `batchFlush`); a lone request/response, whose
    // reply carried the ACK, costs none. A lone one-way datagram costs one, and its ACK, held
    // for a reply, another: the batch's flush holds it again and re-arms for it (bench/analysis.md,
    // Stop 29, "Bulk receiver").
    this.flush(true, now);
    this.batchFlush(now);
  };
  private ioFlushScheduled = false;
  /**
   * In a socket batch: schedule the batch's own flush (`onIoFlush`) if the engine left an ACK
   * for it or has packets waiting for one (EndpointCore.batchAckWaits). True: one is scheduled,
   * and it re-arms the timer.
   */
  private batchFlush(now: number): boolean {
    if (!this.ioFlushScheduled && (this.core.hasDeferredAcks || this.core.batchAckWaits)) {
      this.ioFlushScheduled = true;
      this.clock.setTimer(now, this.onIoFlush);
    }
    return this.ioFlushScheduled;
  }
  private readonly onIoFlush = (): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.ImmediateFlush);
    this.ioFlushScheduled = false;
    this.core.endBatch();
    this.flush();
  };
  private readonly onSocketError = (err: Error): void => {
    // A connected socket's ICMP errors (peer-socket.ts): counted, not fatal.
    if (this.peer.absorb(err)) return;
    this.destroy(rdError('ERR_SOCKET', `socket error: ${err.message}`, err));
  };
  private readonly onSocketClose = (): void => {
    if (this.state !== 'closed') this.destroy(rdError('ERR_SOCKET', 'the socket was closed underneath the endpoint'));
  };

  /** @internal Use {@link createEndpoint}. */
  constructor(
    /** Replaced by {@link Endpoint.rebind}. */
    private socket: DatagramSocket,
    private readonly options: ResolvedEndpointOptions,
  ) {
    super();
    this.clock = options.clock ?? realClock;
    this.postponable = typeof this.clock.postponeTimer === 'function';
    this.queuedSends = sendQueueCounter(socket);
    this.reuseSent = this.queuedSends !== null && sendsInsideSend(socket);
    this.peer = new PeerSocket(socket, this.reuseSent && portPinned(socket));
    const random = options.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
    // Always there: connect() may ask for a qlog file of its own (`qlog`) on any endpoint.
    this.traceOutput = new TraceOutput(options.qlogDir, options.trace, undefined, options.qlogFilter);
    // By default an endpoint accepts only while the application listens for 'connection'
    // (asked at each new INITIAL): a client endpoint does not accept strangers.
    const accept = options.acceptConnections;
    // The pacer waits no less than the clock can (src/core/pacer.ts): 1 ms on the real clock.
    const granularity = this.clock.granularity ?? 0;
    // Reassembled messages in Buffers that are not zeroed first (the engine writes every byte).
    const core = { ...options.endpoint.core, allocateMessage: Buffer.allocUnsafeSlow, ...(granularity > 0 ? { timerGranularity: granularity } : {}) };
    const config = { ...options.endpoint, core, acceptConnections: accept ?? (() => this.listenerCount('connection') > 0) };
    this.core = new EndpointCore({
      config,
      randomBytes: random,
      createConnection: createConnectionCore,
      crypto: nodeSuite(),
      now: this.clock.now(),
      trace: this.traceOutput,
    });
    this.host = {
      now: () => this.clock.now(),
      scheduleFlush: (record) => {
        this.core.touch(record);
        this.scheduleFlush();
      },
      flushNow: (record) => {
        this.core.touch(record);
        this.flush();
      },
      watchDrain: (conn) => {
        this.drainWatch.add(conn);
      },
      finished: () => {
        this.liveCount--;
      },
      highWaterMark: options.highWaterMark,
      maxQueuedBytes: options.maxQueuedBytes,
      maxMessageSize: options.endpoint.core.maxMessageSize ?? DEFAULT_CORE_CONFIG.maxMessageSize,
      maxQueuedUnreliable: options.maxQueuedUnreliable,
      address: () => this.peer.localAddress(),
      setTimer: (deadline, fn) => this.clock.setTimer(deadline, fn),
      clearTimer: (handle) => this.clock.clearTimer(handle as TimerHandle),
      // Half the engine's unreliable budget: the other half stays for reassembly.
      maxQueuedUnreliableBytes: Math.floor((options.endpoint.core.maxUnreliableReassembly ?? DEFAULT_CORE_CONFIG.maxUnreliableReassembly) / 2),
    };
    socket.on('message', this.onMessage);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    // A listener for 'connection' makes the endpoint accept (unless acceptConnections says):
    // peers other than the connected one must get through from then on; removing the last one
    // lets the socket connect again.
    if (options.acceptConnections === undefined) {
      (this as EventEmitter).on('newListener', this.onNewListener);
      (this as EventEmitter).on('removeListener', this.onRemoveListener);
    }
  }

  /** A 'connection' listener comes: the endpoint accepts from now on (see the constructor). */
  private readonly onNewListener = (event: string | symbol): void => {
    if (event === 'connection') this.peer.leave();
  };
  private readonly onRemoveListener = (event: string | symbol): void => {
    if (event === 'connection') this.reconsiderPeer();
  };

  /**
   * As EventEmitter's, but the endpoint's own 'newListener' / 'removeListener' hooks stay:
   * without them, a 'connection' listener added afterwards would leave the socket connected to
   * its one server, and nobody else could reach the endpoint it makes a server.
   */
  override removeAllListeners(...args: unknown[]): this {
    (EventEmitter.prototype.removeAllListeners as (...a: unknown[]) => unknown).apply(this, args);
    if (this.options.acceptConnections === undefined) {
      const emitter = this as EventEmitter;
      if (!emitter.listeners('newListener').includes(this.onNewListener)) emitter.on('newListener', this.onNewListener);
      if (!emitter.listeners('removeListener').includes(this.onRemoveListener)) emitter.on('removeListener', this.onRemoveListener);
    }
    return this;
  }

  /** The bound address, as `dgram.Socket.address()` (as bound, also while the socket is connected to its peer). */
  address(): SocketAddress {
    return this.peer.localAddress();
  }

  /** Live connections, incoming and outgoing. */
  get connections(): readonly Connection[] {
    return [...this.live];
  }

  /** True once the endpoint and its socket are closed. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Let the process exit while this endpoint is open (as `dgram.Socket.unref()`): its socket and
   * timers no longer keep the event loop alive. Returns `this`.
   */
  unref(): this {
    this.refed = false;
    this.socket.unref?.();
    if (this.timer !== null) this.clock.unrefTimer?.(this.timer);
    return this;
  }

  /** Undo {@link Endpoint.unref}: the open endpoint keeps the process alive again (the default). Returns `this`. */
  ref(): this {
    this.refed = true;
    this.socket.ref?.();
    if (this.timer !== null) this.clock.refTimer?.(this.timer);
    return this;
  }

  /** `await using endpoint = await createEndpoint()`: `close()` at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The endpoint's counters: handshakes, refusals, drops by reason (a connection's own are in its `stats()`). */
  stats(): EndpointStatsWithSocket {
    return {
      ...this.core.stats(),
      sendErrors: this.sendErrors,
      recvBufferSize: this.bufferSize('recv'),
      sendBufferSize: this.bufferSize('send'),
      socketConnected: this.peer.connected,
      icmpErrors: this.peer.icmpErrors,
    };
  }

  private bufferSize(which: 'recv' | 'send'): number {
    if (this.state === 'closed') return 0;
    try {
      const get = which === 'recv' ? this.socket.getRecvBufferSize : this.socket.getSendBufferSize;
      return typeof get === 'function' ? get.call(this.socket) : 0;
    } catch {
      return 0; // not bound (yet), or closed
    }
  }

  /**
   * Open a connection to `host:port` (default host: the loopback address of the socket's family),
   * as `connect(port, host, { signal, serverKey })` or `connect({ port, host, signal, serverKey })`.
   * Resolves once the handshake completed; rejects with ERR_CONNECTION_TIMEOUT,
   * ERR_CONNECTION_REFUSED, ERR_AUTHENTICATION_FAILED (with `serverKey`: the server could not
   * prove it holds that key), ERR_UNSUPPORTED_VERSION, ERR_ADDRESS_MISMATCH (the server answered
   * from another address; encrypted: with an answer that authenticates), ERR_ENDPOINT_CLOSED or an AbortError. An IP literal is dialled as the
   * socket reports its peers (canonical IPv6, a link-local one's zone as its interface's name on
   * Linux: `fe80::1%eth0` for `FE80::1%4`; an IPv4 address as `::ffff:a.b.c.d` on a dual-stack
   * udp6 endpoint, an IPv4-mapped one at its IPv4 address on udp4); one the socket cannot reach
   * throws a RangeError (ERR_INVALID_ARG_VALUE).
   *
   * ```ts
   * const conn = await endpoint.connect({ port: 7777, host: 'example.com', signal: AbortSignal.timeout(3000) });
   * ```
   */
  connect(target: ConnectTarget): Promise<Connection>;
  connect(port: number, host?: string, options?: ConnectOptions): Promise<Connection>;
  connect(portOrTarget: number | ConnectTarget, hostArg?: string, optionsArg?: ConnectOptions): Promise<Connection> {
    const { port, host, signal, serverKey, channels, qlog } = checkConnectArgs(portOrTarget, hostArg, optionsArg, this.options.qlogDir);
    if (this.state !== 'open') return Promise.reject(rdError('ERR_ENDPOINT_CLOSED', 'the endpoint is closed'));
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    const named = host ?? (this.options.type === 'udp6' ? '::1' : '127.0.0.1');
    // An IP literal the socket cannot reach throws now; one it can is dialled in its canonical form.
    const target = isIP(named) !== 0 ? this.dialLiteral(named) : named;
    const dirReady =
      typeof qlog === 'string'
        ? mkdir(qlog, { recursive: true }).then(
            () => undefined,
            (err: Error) => {
              throw rdError('ERR_INVALID_ARG_VALUE', `cannot create options.qlog.dir ${qlog}: ${err.message}`, err);
            },
          )
        : Promise.resolve();
    return dirReady.then(() => this.resolveHost(target)).then((address) => this.startConnect(address, port, signal, serverKey, channels, qlog));
  }

  /**
   * Move the endpoint to a new local socket (connection migration, docs/protocol.md §23): a new
   * UDP port on `host` (default: the endpoint's own host option), or the `socket` given. Every
   * connection then sends from the new socket, starts afresh on congestion control, RTT and
   * path MTU, and sends a packet at once so that its peer sees the new address; the peer
   * validates it (PATH_CHALLENGE / PATH_RESPONSE) before it answers there. The old socket is
   * closed. Meant for a client whose network changed (udx-native's `changeRemote`, the other
   * way round). Resolves once the new socket is in use; rejects with ERR_SOCKET (the new socket
   * could not be bound: nothing changed) or ERR_ENDPOINT_CLOSED. Bad options throw (TypeError
   * ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE, unknown options ERR_INVALID_ARG_VALUE).
   *
   * ```ts
   * await client.rebind();             // a fresh ephemeral port
   * await client.rebind({ port: 5001 });
   * ```
   */
  rebind(options: RebindOptions = {}): Promise<void> {
    const { port, host, socket } = checkRebindOptions(options);
    if (this.state !== 'open') return Promise.reject(rdError('ERR_ENDPOINT_CLOSED', 'the endpoint is closed'));
    return this.moveTo(socket, port, host);
  }

  private async moveTo(socket: DatagramSocket | undefined, port: number, host: string | undefined): Promise<void> {
    const next = socket ?? (await bindSocket({ ...this.options, port, host: host ?? this.options.host }));
    if (this.state !== 'open') {
      if (socket === undefined) (next as { close(): void }).close();
      throw rdError('ERR_ENDPOINT_CLOSED', 'the endpoint is closed');
    }
    const old = this.socket;
    old.off('message', this.onMessage);
    old.off('close', this.onSocketClose);
    old.off('error', this.onSocketError);
    // A late error of the old socket must not crash the process; what it still sends may be lost.
    old.on('error', () => {});
    this.socket = next;
    this.queuedSends = sendQueueCounter(next);
    this.reuseSent = this.queuedSends !== null && sendsInsideSend(next);
    this.peer = new PeerSocket(next, this.reuseSent && portPinned(next));
    next.on('message', this.onMessage);
    next.on('error', this.onSocketError);
    next.on('close', this.onSocketClose);
    if (!this.refed) next.unref?.();
    try {
      old.close();
    } catch {
      // already closed
    }
    this.core.rebound(this.clock.now());
    this.flush();
    this.reconsiderPeer();
  }

  /**
   * Graceful close: refuse new connections, close every connection (each waits until what it
   * sent was acknowledged, or until its idle timeout if the peer is gone), then the socket.
   * Rejects if the endpoint fails meanwhile (socket error).
   *
   * Bound the wait with `timeout` (ms) or `signal`: when either fires first, the endpoint is
   * destroyed (the remaining peers get RESETs) and the promise rejects with ERR_CLOSE_TIMEOUT or
   * an AbortError; the endpoint is closed either way.
   */
  close(options?: CloseOptions): Promise<void> {
    const bound = checkCloseOptions(options);
    const signal = bound.signal;
    if (this.state === 'closed') return Promise.resolve();
    if (signal?.aborted) {
      this.destroy();
      return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    }
    const done = new Promise<void>((resolve, reject) => this.closeWaiters.push({ resolve, reject }));
    if (this.state === 'open') {
      this.state = 'closing';
      this.core.close(this.clock.now());
      this.flush();
    }
    return boundedWait(done, { ...bound, clock: this.host, what: 'endpoint close' }, () => this.destroy());
  }

  /**
   * Abort every connection (peers see ERR_CONNECTION_RESET) and close the socket now. The local
   * connections end with ERR_ENDPOINT_CLOSED (or `err`): their iterators and close() promises
   * reject with it and 'close' carries it, but they emit no 'error' (the application chose this).
   * `err`, if given, is emitted as the endpoint's 'error'.
   */
  destroy(err?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    // Local connections learn why first; then their engines send RESETs to the peers.
    const reason = err ?? rdError('ERR_ENDPOINT_CLOSED', 'the endpoint was destroyed');
    for (const c of [...this.live]) c.forceClose(reason);
    this.core.destroy(this.clock.now());
    this.flush();
    this.finishClose(err);
  }

  // ---------------------------------------------------------------- internals

  /**
   * The family the socket reaches (address.ts), when the endpoint bound it itself; null for a
   * socket the application passed in (a simulator's, a LossySocket), whose family it does not know.
   */
  private socketFamily(): SocketFamily | null {
    if (!sendsInsideSend(this.socket)) return null;
    return { type: this.options.type, ipv6Only: this.options.ipv6Only, host: this.socket.address().address };
  }

  /** connect()'s IP literal, canonical and in the socket's family (address.ts); throws when it is out of reach. */
  private dialLiteral(literal: string): string {
    const family = this.socketFamily();
    if (family !== null) return dialAddress(literal, family);
    return isIP(literal) === 6 ? canonicalIPv6(literal) : literal;
  }

  private async resolveHost(host: string): Promise<string> {
    if (isIP(host) !== 0) return host;
    const v6 = this.options.type === 'udp6';
    try {
      return (await lookup(host, { family: v6 ? 6 : 4 })).address;
    } catch (err) {
      // A dual-stack udp6 socket reaches a name that has only IPv4 addresses ('localhost' on
      // many hosts) at its mapped address.
      const family = this.socketFamily();
      if (family === null || !resolvesIPv4Too(family)) throw err;
      const v4 = await lookup(host, { family: 4 }).catch(() => {
        throw err;
      });
      return mappedIPv4(v4.address);
    }
  }

  private startConnect(
    address: string,
    port: number,
    signal: AbortSignal | undefined,
    serverKey: Uint8Array | undefined,
    channels: ChannelEntry[],
    qlog?: QlogChoice,
  ): Promise<Connection> {
    if (this.state !== 'open') return Promise.reject(rdError('ERR_ENDPOINT_CLOSED', 'the endpoint is closed'));
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    const started = this.core.connect(this.clock.now(), address, port, serverKey ? { serverKey } : {});
    if (!started.ok) return Promise.reject(rdError(started.error.code, started.error.message));
    const attempt = started.attempt;
    // Applied when the attempt connects (the connection's id is the attempt's).
    if (qlog !== undefined) this.traceOutput.choose(attempt, qlog);
    return new Promise<Connection>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(attempt);
        this.traceOutput.forget(attempt);
        this.core.cancelConnect(attempt);
        this.flush();
        // No handshake in progress any more: the socket may connect to the one peer again.
        this.reconsiderPeer();
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(attempt, {
        channels,
        resolve,
        reject,
        cleanup: () => {
          signal?.removeEventListener('abort', onAbort);
          this.traceOutput.forget(attempt);
        },
      });
      this.flush();
    });
  }

  private scheduleFlush(): void {
    // Inside a flush (a 'message' handler that replies): the flush loop picks the connection up.
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.onScheduledFlush);
  }

  private readonly onScheduledFlush = (): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.MicrotaskFlush);
    this.flushScheduled = false;
    this.flush();
  };

  /**
   * Send what the engines want sent, dispatch their events, re-arm the one timer (`at`: the
   * clock as the caller just read it, in the same turn). An exception
   * thrown by an application listener propagates (as in Node), but only after the timer is
   * re-armed, so the endpoint keeps running.
   */
  private flush(batch = false, at?: number): void {
    if (this.flushing || this.state === 'closed') return;
    this.flushing = true;
    const now = at ?? this.clock.now();
    try {
      for (;;) {
        let tx: Transmit | null;
        const core = this.core;
        while ((tx = core.pollTransmit(now, batch)) !== null) {
          // A connection stopped sending data before this datagram: its own have left by now
          // (stats' time blocked counts from then, not from the flush's `now`: core/blocked-time.ts).
          if (core.sendingStopped) core.flushed(this.clock.now());
          this.transmit(tx);
        }
        if (core.sendingStopped) core.flushed(this.clock.now());
        let ev: EndpointEvent | null;
        let any = false;
        while ((ev = this.core.nextEvent()) !== null) {
          any = true;
          this.dispatch(ev);
        }
        if (!any) break;
      }
    } catch (e) {
      // A listener threw: finish the remaining work on the next microtask, then let it surface.
      this.flushing = false;
      this.scheduleFlush();
      throw e;
    } finally {
      this.flushing = false;
      // In the middle of a socket batch whose flush is already scheduled (`onIoFlush`, an
      // immediate: it runs before any setTimeout timer can fire; the endpoint's own timer, if it
      // was armed as an immediate earlier in the batch, may run first and re-arms itself), the
      // timer is re-armed there, once per batch, not after every datagram (issue 11:
      // pollTimeout's ten deadlines per datagram). Scheduled here by the batch's first datagram
      // that leaves packets waiting for an ACK, so that it too leaves the timer to it.
      this.afterFlush(now, !(batch && this.batchFlush(now)));
    }
  }

  /** A connection of `drainWatch`: 'drain' now, or still waiting (a Set visits what its callback adds or deletes as for…of does). */
  private readonly checkWatched = (c: Connection): void => {
    if (!c.checkDrain()) this.drainWatch.delete(c);
  };

  /**
   * `now`: the flush's time (for the timer's bookkeeping; moving it asks the clock afresh).
   * `rearm` false: the batch's own flush, already scheduled, re-arms the timer.
   */
  private afterFlush(now: number, rearm: boolean): void {
    try {
      // forEach, not for…of: no iterator object per flush (a bulk sender always has one to check).
      if (this.drainWatch.size > 0) this.drainWatch.forEach(this.checkWatched);
    } finally {
      if (rearm) this.rearm(now);
      if (stageTrace !== null) stageTrace.mark(Stage.FlushDone);
      if (this.state === 'closing' && this.core.idle) this.finishClose(undefined);
    }
  }

  private transmit(tx: Transmit): void {
    if (stageTrace !== null) stageTrace.mark(Stage.Built, tx.data.length);
    if (this.queuedSends !== null) {
      try {
        // Without an address when the socket is connected there (peer-socket.ts).
        this.peer.send(tx.data, tx.port, tx.address);
        // Sent at once, nothing queued: the kernel has its copy; the next datagram may reuse the buffer.
        if (this.reuseSent && this.queuedSends() === 0) this.core.transmitted(tx.data);
      } catch {
        // e.g. the socket closed under us: the datagram is lost, the engines recover or time out.
        this.sendErrors++;
      }
    } else {
      try {
        this.sendsInFlight++;
        this.socket.send(tx.data, tx.port, tx.address, this.onSent);
      } catch {
        this.sendsInFlight--;
        this.sendErrors++;
      }
    }
    if (stageTrace !== null) stageTrace.mark(Stage.Sent);
  }

  /**
   * A connection's event here (every message is one), the endpoint's own in dispatchEndpointEvent:
   * V8 marks a function for TurboFan after 3 + bytecode length / 150 of its own ticks, so the
   * per-message part alone is compiled (and inlined into its caller) thousands of trips sooner
   * than with the rare cases beside it (bench/tierup.ts, issue 11).
   */
  private dispatch(ev: EndpointEvent): void {
    if (ev.type !== 'connection-event') return this.dispatchEndpointEvent(ev);
    // The core's reused record (nextEvent): read before a listener can make the core poll again.
    const event = ev.event;
    const record = ev.connection;
    const conn = record.owner as Connection | undefined;
    conn?.handleCoreEvent(event);
    if (event.type === 'closed' || event.type === 'path-changed') {
      this.peer.clearHint();
      this.reconsiderPeer(event.type === 'closed' ? record : undefined);
    }
  }

  private dispatchEndpointEvent(ev: Exclude<EndpointEvent, { type: 'connection-event' }>): void {
    switch (ev.type) {
      case 'accepted': {
        const conn = this.wrap(ev.connection);
        applyChannels(conn, this.options.channels);
        this.emit('connection', conn);
        return;
      }
      case 'connected': {
        const conn = this.wrap(ev.connection);
        const p = this.pending.get(ev.attempt);
        this.pending.delete(ev.attempt);
        if (p) {
          p.cleanup();
          applyChannels(conn, this.options.channels);
          applyChannels(conn, p.channels);
          p.resolve(conn);
        } else {
          conn.destroy();
        }
        // Another connection to the server the socket already follows changes nothing
        // reconsiderPeer() weighs: no walk over every connection (n connects in a row: O(n²)).
        const r = ev.connection;
        if (!(r.role === 'client' && this.core.pendingConnectCount === 0 && this.peer.isConnectedTo(r.address, r.port))) this.reconsiderPeer();
        return;
      }
      case 'connect-failed': {
        const p = this.pending.get(ev.attempt);
        this.pending.delete(ev.attempt);
        if (p) {
          p.cleanup();
          p.reject(rdError(ev.error.code, ev.error.message));
        }
        this.reconsiderPeer();
        return;
      }
    }
  }

  private wrap(record: EndpointConnection): Connection {
    const conn = new Connection(this.host, record);
    record.owner = conn;
    this.liveCount++;
    return conn;
  }

  private rearm(now: number): void {
    const deadline = this.state === 'closed' ? null : this.core.pollTimeout();
    if (deadline === this.armedAt) return;
    // Deadlines mostly move later (every packet pushes back the loss-probe, idle and keepalive
    // timers): keep an earlier timer armed rather than re-arming on every packet. Once it is
    // within half its span of firing, move it on to the new deadline where the clock can do
    // that in place (`postponeTimer`, Node's `Timeout.refresh()`): a busy connection's timer
    // then never fires. Otherwise (or when the clock cannot) it fires early, and the endpoint
    // handles what is due and re-arms for the real deadline.
    if (deadline !== null && this.armedAt !== null && this.timer !== null && this.armedAt <= deadline) {
      if (this.postponable && now >= this.postponeFrom) {
        const at = this.clock.postponeTimer!(this.timer, deadline);
        if (at !== null) this.armed(now, at);
      }
      return;
    }
    // Earlier than the armed timer: on a busy connection that is the loss-probe deadline when
    // the PTO shrank by more than the trip took (srtt or rttvar coming down after a slow trip),
    // every ~10 trips on loopback. The same timer is restarted in place when it then fires by
    // the new deadline (its whole milliseconds from now fit: nearly always, as the PTO moved by
    // microseconds), rather than cleared and a new one made (~1.5 µs in Node, issue 11).
    if (deadline !== null && this.timer !== null && this.postponable) {
      const at = this.clock.postponeTimer!(this.timer, deadline);
      if (at !== null) {
        this.armed(now, at);
        return;
      }
    }
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedAt = deadline;
    if (deadline !== null) this.arm(now, deadline);
    // Nothing left to time: a late timer's turn (`onTimer`) that was waiting is over, and the
    // next timer armed is a new one (a late firing of it waits for the socket too).
    else this.timerDeferred = false;
  }

  /** A new timer for `deadline` (none is armed). */
  private arm(now: number, deadline: number): void {
    this.timer = this.clock.setTimer(deadline, this.onTimer);
    this.armed(now, deadline);
    if (!this.refed) this.clock.unrefTimer?.(this.timer);
  }

  /** The timer now fires by `at`: worth moving on once half the time to it has passed. */
  private armed(now: number, at: number): void {
    this.armedAt = at;
    this.postponeFrom = now + (at - now) / 2;
  }

  private readonly onTimer = (): void => {
    const now = this.clock.now();
    if (stageTrace !== null) stageTrace.mark(Stage.Timer, ((now - (this.armedAt ?? 0)) * 1000) | 0);
    const late = this.armedAt !== null && now - this.armedAt >= LATE_TIMER_MS;
    this.timer = null;
    this.armedAt = null;
    if (this.state === 'closed') return;
    // Fired long after its deadline: this process was not running (descheduled, or the loop
    // blocked), and Node runs due timers before it reads the socket. What the peer sent
    // meanwhile may be waiting there: read it first (a timer at `now` runs after the loop's
    // poll of the socket: setImmediate), then judge silence (linger, idle timeout) and loss
    // (probes) on it. Once per firing: the deferred timer does the work, however late.
    if (late && !this.timerDeferred) {
      this.timerDeferred = true;
      this.arm(now, now);
      return;
    }
    this.timerDeferred = false;
    this.core.handleTimeout(now);
    this.flush();
    // A connected socket whose peer fell silent is disconnected, and connected again once it is heard.
    if (this.peer.connectable && this.peer.checkSilence(this.core.datagramsReceived, this.clock.now())) this.reconsiderPeer();
  };

  /**
   * Connect the socket to the endpoint's one peer, or stop (peer-socket.ts). Connected while the
   * endpoint is open, does not accept, has no handshake in progress, every connection is a
   * client's to one address, and that peer was heard within PEER_SILENCE. A datagram to anywhere
   * else disconnects the socket on its own before it leaves. Checked when a connection opens,
   * closes or moves, when a connect attempt fails or is aborted, after a rebind, and at a timer
   * once a silent peer is heard again.
   *
   * `closed`: the connection that just closed. When it was a client's to the peer the socket
   * follows, every other live connection still is (the socket follows a peer only while all of
   * them go there, and each change is checked here): the walk is skipped while any is left (n
   * closes in a row walked the table n times, draining connections too: O(n²)).
   */
  private reconsiderPeer(closed?: EndpointConnection): void {
    const peer = this.peer;
    if (!peer.connectable) return;
    let address = '';
    let port = 0;
    const accepting = this.options.acceptConnections ?? this.listenerCount('connection') > 0;
    if (this.state === 'open' && !accepting && this.core.pendingConnectCount === 0 && peer.heard(this.core.datagramsReceived, this.clock.now())) {
      if (closed !== undefined && closed.role === 'client' && this.liveCount > 0 && peer.isConnectedTo(closed.address, closed.port)) {
        address = closed.address;
        port = closed.port;
      } else {
        for (const c of this.live) {
          const r = c.record;
          if (r.role !== 'client' || (port !== 0 && (r.port !== port || r.address !== address))) {
            port = 0;
            break;
          }
          address = r.address;
          port = r.port;
        }
      }
    }
    peer.follow(address, port);
  }

  private finishClose(err: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedAt = null;
    const closedErr = rdError('ERR_ENDPOINT_CLOSED', 'the endpoint closed');
    for (const p of this.pending.values()) {
      p.cleanup();
      p.reject(closedErr);
    }
    this.pending.clear();
    this.socket.off('message', this.onMessage);
    this.socket.off('close', this.onSocketClose);
    // Keep a no-op error listener: a late socket error must not crash the process.
    this.socket.off('error', this.onSocketError);
    this.socket.on('error', () => {});
    // A close() still waiting hears the error (it rejects with it); otherwise, unheard, it is an
    // uncaught exception on the next tick (Node semantics), once this endpoint is consistent.
    if (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else if (this.closeWaiters.length === 0) process.nextTick(() => this.emit('error', err));
    }
    const done = (): void => {
      // The qlog files are complete on disk before the endpoint reports that it closed.
      if (this.traceOutput.openFiles.length > 0) void this.traceOutput.end().then(emitClose);
      else emitClose();
    };
    const emitClose = (): void => {
      this.emit('close');
      // A close() still waiting learns whether the endpoint ended cleanly.
      for (const w of this.closeWaiters.splice(0)) {
        if (err) w.reject(err);
        else w.resolve();
      }
    };
    // Datagrams handed to the socket (the last ACKs, RESETs) leave before it closes: dgram
    // drops sends still pending when close() is called.
    const closeSocket = (): void => {
      clearTimeout(fallback);
      try {
        this.socket.close(done);
      } catch {
        done(); // already closed
      }
    };
    let poll: NodeJS.Timeout | undefined;
    const fallback = setTimeout(() => {
      this.afterSends = null;
      clearTimeout(poll);
      closeSocket();
    }, 1000);
    fallback.unref?.();
    const queued = this.queuedSends;
    if (queued !== null) {
      // Sends dgram could not complete at once wait in its queue: close once it is empty.
      const check = (): void => {
        if (queued() <= 0) closeSocket();
        else poll = setTimeout(check, 1);
      };
      check();
    } else if (this.sendsInFlight <= 0) closeSocket();
    else this.afterSends = closeSocket;
  }
}


/** The socket's count of datagrams not yet sent (dgram.Socket.getSendQueueCount), or null for sockets without one. */
function sendQueueCounter(socket: DatagramSocket): (() => number) | null {
  const counting = socket as { getSendQueueCount?: () => number };
  if (typeof counting.getSendQueueCount !== 'function') return null;
  return () => {
    try {
      return counting.getSendQueueCount!();
    } catch {
      return 0; // closed
    }
  };
}
