import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { EventEmitter } from 'node:events';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import { EndpointCore, type EndpointConnection, type EndpointStats } from '../core/endpoint.js';
import { AbortError, rdError } from '../errors.js';
import { resolveEndpointOptions, type EndpointOptions, type ResolvedEndpointOptions } from '../options.js';
import { bindSocket, portPinned, sendsInsideSend } from './bind.js';
import { nodeSuite } from '../crypto/node-suite.js';
import { warmUpOnce } from './warm-up.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { ChannelEntry } from './channel-options.js';
import { boundedWait, checkCloseOptions, type CloseOptions } from './close-options.js';
import type { Connection, ConnectionHost } from './connection.js';
import { forceClose } from './connection-lifecycle.js';
import { checkDrain } from './connection-backpressure.js';
import type { ConnectionShellParts } from './connection-parts.js';
import { PeerSocket } from './peer-socket.js';
import { checkCoreConfig, createConnectionCore } from './engine.js';
import { sweepArrayBuffersOnMainThread } from './array-buffer-sweeping.js';
import { TraceOutput, type QlogChoice } from './qlog.js';
import type { DatagramSocket, RemoteInfo, SocketAddress } from './socket.js';
import { Stage, stageTrace } from './stage-trace.js';
import { checkConnectArgs, checkRebindOptions, type ConnectOptions, type ConnectTarget, type RebindOptions } from './connect-options.js';
import type { EndpointEvents, PendingConnect } from './endpoint-parts.js';
import { finishClose } from './endpoint-close.js';
import { dialLiteral, resolveHost } from './endpoint-dial.js';
import { arm } from './endpoint-timer.js';
import { batchFlush, flush, scheduleFlush } from './endpoint-io.js';

export type { ConnectOptions, ConnectTarget, RebindOptions } from './connect-options.js';
export type { EndpointEvents } from './endpoint-parts.js';

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
  /** @internal */
  readonly core: EndpointCore;
  /** @internal */
  readonly clock: Clock;
  /** qlog files and the `trace` callback (null: not traced). */
  /** @internal qlog files and the `trace` callback; untraced connections cost it one call each, at creation. */
  readonly traceOutput: TraceOutput;
  /**
   * Live connections, incoming and outgoing: the engine's established connections that have
   * their Connection and are not over, each once, in the order they were made. Read from the
   * endpoint core's own table, not kept in a Set of the shell's as well (~30 bytes per
   * connection at 10,000: idle connections, issue 11).
   */
  private get live(): Iterable<Connection> {
    return ownersOf(this.core.connectionRecords());
  }
  /** @internal Connections in `live`: made (wrap) and not finished. */
  liveCount = 0;
  /** @internal Connections whose send() returned false: checked for 'drain' after each flush. */
  readonly drainWatch = new Set<ConnectionShellParts>();
  /** @internal */
  readonly pending = new Map<number, PendingConnect>();
  /** @internal */
  readonly host: ConnectionHost;
  /** @internal */
  timer: TimerHandle | null = null;
  /** @internal */
  armedAt: number | null = null;
  /** @internal When the armed timer is worth moving on to a later deadline (see `rearm`). */
  postponeFrom = 0;
  /** @internal The clock can move a timer in place (`Clock.postponeTimer`). */
  readonly postponable: boolean;
  /** @internal The armed timer is a late one's work put off until the socket was read (`onTimer`). */
  timerDeferred = false;
  /** @internal */
  flushing = false;
  /** @internal */
  flushScheduled = false;
  /** @internal */
  state: 'open' | 'closing' | 'closed' = 'open';
  /** @internal */
  readonly closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** @internal */
  sendErrors = 0;
  /** @internal */
  refed = true;
  /** @internal socket.send() calls whose callback has not run yet: the socket closes only after them. */
  sendsInFlight = 0;
  /**
   * @internal Datagrams a `dgram.Socket` still holds (its getSendQueueCount()), or null for sockets
   * without one (test doubles): those get a callback per datagram instead, counted above.
   */
  queuedSends: (() => number) | null;
  /**
   * @internal The socket is one the endpoint bound (bind.ts: IP literals resolved inside `send()`), bound,
   * with a send queue count: a datagram it sent at once (the count is 0 after `send()`) is the
   * kernel's copy, and its buffer may be reused (EndpointCore.transmitted). Not for a socket the
   * application passed in: its `dns.lookup` sends on the next tick.
   */
  reuseSent: boolean;
  /** @internal The socket connected to the one peer, or not (peer-socket.ts); replaced with the socket. */
  peer: PeerSocket;
  /** @internal */
  afterSends: (() => void) | null = null;
  /** @internal */
  readonly onSent = (err: Error | null): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.SendCallback);
    if (err) this.sendErrors++;
    this.sendsInFlight--;
    if (this.sendsInFlight <= 0 && this.afterSends) {
      const fn = this.afterSends;
      this.afterSends = null;
      fn();
    }
  };
  /** @internal */
  readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
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
    flush(this, true, now);
    batchFlush(this, now);
  };
  /** @internal */
  ioFlushScheduled = false;
  /** @internal */
  readonly onIoFlush = (): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.ImmediateFlush);
    this.ioFlushScheduled = false;
    this.core.endBatch();
    flush(this);
  };
  /** @internal */
  readonly onSocketError = (err: Error): void => {
    // A connected socket's ICMP errors (peer-socket.ts): counted, not fatal.
    if (this.peer.absorb(err)) return;
    this.destroy(rdError('ERR_SOCKET', `socket error: ${err.message}`, err));
  };
  /** @internal */
  readonly onSocketClose = (): void => {
    if (this.state !== 'closed') this.destroy(rdError('ERR_SOCKET', 'the socket was closed underneath the endpoint'));
  };

  /** @internal Use {@link createEndpoint}. */
  constructor(
    /** @internal Replaced by {@link Endpoint.rebind}. */
    public socket: DatagramSocket,
    /** @internal */
    readonly options: ResolvedEndpointOptions,
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
    // Always on the real clock: the warm-up is for the code real traffic will run (warm-up.ts).
    if (options.warmUp) warmUpOnce({ config, crypto: nodeSuite(), trace: new TraceOutput(undefined, undefined), now: realClock.now });
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
        scheduleFlush(this);
      },
      flushNow: (record) => {
        this.core.touch(record);
        flush(this);
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
    const target = isIP(named) !== 0 ? dialLiteral(this, named) : named;
    const dirReady =
      typeof qlog === 'string'
        ? mkdir(qlog, { recursive: true }).then(
            () => undefined,
            (err: Error) => {
              throw rdError('ERR_INVALID_ARG_VALUE', `cannot create options.qlog.dir ${qlog}: ${err.message}`, err);
            },
          )
        : Promise.resolve();
    return dirReady.then(() => resolveHost(this, target)).then((address) => this.startConnect(address, port, signal, serverKey, channels, qlog));
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
    flush(this);
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
      flush(this);
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
    for (const c of [...this.live]) forceClose(c, reason);
    this.core.destroy(this.clock.now());
    flush(this);
    finishClose(this, err);
  }

  // ---------------------------------------------------------------- internals

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
        flush(this);
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
      flush(this);
    });
  }

  /** @internal */
  readonly onScheduledFlush = (): void => {
    if (stageTrace !== null) stageTrace.mark(Stage.MicrotaskFlush);
    this.flushScheduled = false;
    flush(this);
  };

  /** @internal A connection of `drainWatch`: 'drain' now, or still waiting (a Set visits what its callback adds or deletes as for…of does). */
  readonly checkWatched = (c: ConnectionShellParts): void => {
    if (!checkDrain(c)) this.drainWatch.delete(c);
  };

  /** @internal */
  readonly onTimer = (): void => {
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
      arm(this, now, now);
      return;
    }
    this.timerDeferred = false;
    this.core.handleTimeout(now);
    flush(this);
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
  /** @internal */
  reconsiderPeer(closed?: EndpointConnection): void {
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
