import { resolveCoreConfig } from './config.js';
import { sharedSlab } from './slab.js';
import { BufferBudget } from './buffer-budget.js';
import { CookieJar } from './cookie.js';
import { Deque } from './deque.js';
import { DEFAULT_PROTECTION_CONFIG, type ProtectionConfig } from './secure/packet-protection.js';
import type { CryptoSuite } from './secure/suite.js';
import { DeadlineHeap } from './endpoint-timers.js';
import { ConnectionTable } from './connection-table.js';
import { PeerTable } from './peer-table.js';
import { RetiredIds } from './retired-ids.js';
import { AddressCounts } from './address-counts.js';
import { ResetLimiter } from './reset-limiter.js';
import { ServerHandshake, type ServerHost } from './server-handshake.js';
import { ClientHandshake, type ClientHost, type ConnectResult } from './client-handshake.js';
import { LocalParams } from './transport-params.js';
import type { EndpointConnection } from './endpoint-connection.js';
import type { EndpointEvent, EndpointParts, Housekeeping, Timed } from './endpoint-parts.js';
import { refreshDeadlines, pruneRetired } from './endpoint-deadlines.js';
import { establish, forget, freshCid, moved, peerAccepted } from './endpoint-registry.js';
import { route } from './endpoint-routing.js';
import { endpointStats, newCounters, newDropCounts } from './endpoint-stats.js';
import type {
  ConnectRequest,
  ConnectionCoreFactory,
  DropReason,
  EndpointCoreConfig,
  EndpointCoreOptions,
  EndpointStats,
  Transmit,
} from './endpoint-types.js';
import { Tracer, type TraceTarget } from './trace.js';
import type { CoreEvent } from './types.js';

export * from './endpoint-types.js';
export { EndpointConnection } from './endpoint-connection.js';
export type { EndpointEvent } from './endpoint-parts.js';

/** What the reused event record holds between flushes (`nextEvent`): nothing, never handed out. */
const NO_CONNECTION = null as unknown as EndpointConnection;
const NO_EVENT: CoreEvent = { type: 'peer-closed' };

/**
 * The sans-IO endpoint: demultiplexes datagrams by connection ID, runs the stateless cookie
 * handshake (design.md "Handshake, endpoint"), owns every connection's engine and schedules all
 * of their deadlines in one heap. No sockets, no timers, no clock: `now` comes in with every call
 * and randomness from `randomBytes`.
 *
 * Drive it like a ConnectionCore: after any input (handleDatagram, handleTimeout, connect, touch),
 * drain pollTransmit(now) until null, then pollEvent() until null (handling events may create more
 * input: loop), then arm one timer for pollTimeout().
 *
 * This file is the endpoint's inputs and outputs, read top-down for one datagram: in,
 * handleDatagram → `route` (endpoint-routing.ts) → the connection's engine, which is `touch`ed;
 * out, pollTransmit drains the touched connections (engine datagrams, sealed when encrypted),
 * `settle` collects their events for pollEvent/nextEvent and marks their deadlines stale;
 * pollTimeout/handleTimeout read the heap. Beside it, each with one job: endpoint-routing.ts
 * (where a received datagram goes), endpoint-registry.ts (a connection made, filed in the
 * tables, moved, forgotten), endpoint-deadlines.ts (the heap kept up to date),
 * endpoint-stats.ts (the counters and the stats() snapshot), endpoint-connection.ts (its record
 * of a connection), server-handshake.ts (INITIAL and SECURE_INITIAL), client-handshake.ts
 * (connect(), its attempts and the answers to them), transport-params.ts (what it announces
 * and accepts), retired-ids.ts, reset-limiter.ts, and the tables (connection-table.ts,
 * peer-table.ts, address-counts.ts, endpoint-timers.ts). The two sides of the handshake reach
 * the endpoint through one host built in the constructor, the carved modules through
 * endpoint-parts.ts.
 */
export class EndpointCore implements EndpointParts {
  // Fields without `private` are also the state of the modules carved out of this file, which
  // take the endpoint as their first argument (endpoint-parts.ts says which); nothing outside
  // src/core uses them.
  readonly config: EndpointCoreConfig;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly createConnection: ConnectionCoreFactory;
  private readonly suite: CryptoSuite | null;
  private readonly encryption: 'required' | 'optional';
  private readonly protectionConfig: ProtectionConfig;
  readonly trace: TraceTarget | null;
  private readonly endpointTrace: Tracer | null;
  readonly resetKey: Uint8Array;
  /** What this endpoint announces for its side of a connection, and its engines' configuration. */
  readonly params: LocalParams;
  private readonly cookies: CookieJar;
  /** INITIAL and SECURE_INITIAL: the server side of the handshake (server-handshake.ts). */
  readonly server: ServerHandshake;
  /** connect() and the answers to it: the client side of the handshake (client-handshake.ts). */
  readonly client: ClientHandshake;
  /** Bytes all connections hold for their peers (maxBufferedBytes). */
  readonly budget: BufferBudget;
  /** Largest datagram this endpoint announces and accepts. */
  readonly maxDatagramSize: number;
  readonly heap = new DeadlineHeap<Timed>();
  readonly housekeeping: Housekeeping = { kind: 'housekeeping', heapIndex: -1, heapDeadline: 0 };

  /**
   * Established connections by local connection ID: the set of them, and the router of DATA
   * (one entry per connection; src/core/connection-table.ts).
   */
  readonly connections = new ConnectionTable<EndpointConnection>();
  /**
   * The same table's low-half Map (`connections.byLow`): low 32 bits of a connection's ID → the
   * connection (the first one registered with them). Routes a DATA datagram without decoding its
   * ID into a BigInt; a miss takes the long route (endpoint-routing.ts `routeData`), which finds the rest.
   */
  readonly byCidLo = this.connections.byLow;
  /** (remote address, port, remote CID) → connection: repeated INITIALs and stateless resets. */
  readonly byPeer = new PeerTable<EndpointConnection>();
  /**
   * Connections on a (address, port, remote CID) triple another connection holds in `byPeer`:
   * one moved there (its peer chose the same CID as the other's, by chance or on purpose). Each
   * is filed once the triple is free again, rather than stay out of the table for good (its
   * repeated INITIALs and stateless resets unheard). Empty but for such peers.
   */
  readonly unfiled = new Set<EndpointConnection>();
  /** Incoming connections per remote IP address. */
  readonly perAddress = new AddressCounts();
  /** IDs of closed connections, out of use for retiredCidLifetime (retired-ids.ts). */
  readonly retired = new RetiredIds();
  /** At most one stateless reset per statelessResetInterval per remote address. */
  readonly resetLimiter = new ResetLimiter();

  /**
   * Connections settled since the heap was last read, whose deadline is still to be asked for
   * (`refreshDeadlines`, from pollTimeout and handleTimeout). A request/response flow settles
   * its connection twice per flush, once with the request's message (its deadline then: the
   * held ACK's, due now) and once after the reply left; only the last one counts, so it is read
   * once, not twice with two moves in the heap (issue 11). Consecutive settles of one connection
   * add it once; otherwise it may be listed twice (read twice, harmless).
   */
  readonly staleDeadlines: EndpointConnection[] = [];

  /** Connections whose ACK waits for the end of the current batch (pollTransmit(now, true)). */
  private readonly deferredAcks: EndpointConnection[] = [];

  /**
   * The batch of datagrams is over: the ACKs left waiting by pollTransmit(now, true) are to be
   * sent (their connections are drained by the next pollTransmit). False: none waited.
   */
  get hasDeferredAcks(): boolean {
    return this.deferredAcks.length > 0;
  }

  /**
   * The connection drained last by pollTransmit(now, true) has packets waiting for an ACK that
   * is not sent yet (due by count and deferred, or due later: the delayed-ACK timer). The next
   * datagram of the batch will likely add to it; a shell that reads a batch may then leave its
   * timer to the batch's end (the Node shell's `onIoFlush`) instead of asking for the deadline
   * after every datagram. Only the cost depends on it: false for a connection that waits means
   * a re-arm per datagram, as without it. Cleared by endBatch.
   */
  batchAckWaits = false;

  endBatch(): boolean {
    this.batchAckWaits = false;
    const n = this.deferredAcks.length;
    for (let i = 0; i < n; i++) {
      const c = this.deferredAcks[i]!;
      c.ackDeferred = false;
      this.touch(c);
    }
    emptyList(this.deferredAcks);
    return n > 0;
  }

  /** Connections to drain, each once (its `dirty` flag); a stack: no iterator per poll. */
  private readonly dirty: EndpointConnection[] = [];
  private readonly outbox: Transmit[] = [];
  private outboxHead = 0;
  /**
   * Events for pollEvent()/nextEvent(), a ring (keeps its storage when it empties: no array per
   * flush). The endpoint's own events are stored as they are; a connection's engine event as two
   * entries, the connection then the event (no wrapper object per message, issue 11).
   */
  readonly events = new Deque<EndpointEvent | EndpointConnection | CoreEvent>();
  /** The one record nextEvent() fills for a connection's event (as transmitRecord for pollTransmit). */
  private readonly eventRecord: { type: 'connection-event'; connection: EndpointConnection; event: CoreEvent } = {
    type: 'connection-event',
    connection: NO_CONNECTION,
    event: NO_EVENT,
  };

  nextId = 1;
  /** The latest `now` seen; retirement happens while draining events, which take no `now`. */
  lastNow = 0;
  /** Connections that stopped sending data at `stoppedNow`, for `flushed` (stats' time blocked). */
  private readonly stopped: EndpointConnection[] = [];
  private stoppedNow = -1;
  private closing = false;
  readonly counters = newCounters();
  readonly dropped = newDropCounts();

  constructor(options: EndpointCoreOptions) {
    this.config = options.config;
    this.randomBytes = options.randomBytes;
    this.createConnection = options.createConnection;
    this.suite = options.crypto ?? null;
    this.encryption = options.config.encryption ?? (options.config.keyPair ? 'required' : 'optional');
    this.protectionConfig = { ...DEFAULT_PROTECTION_CONFIG, ...options.config.protection };
    if ((options.config.keyPair || this.encryption === 'required') && !this.suite) {
      throw new TypeError('encryption needs a crypto suite (EndpointCoreOptions.crypto)');
    }
    this.trace = options.trace ?? null;
    this.endpointTrace = this.trace?.endpoint ? new Tracer(this.trace.endpoint) : null;
    this.resetKey = options.config.resetKey ?? this.randomBytes(32);
    this.params = new LocalParams(options.config.core, this.randomBytes, this.resetKey);
    this.lastNow = options.now;
    this.budget = new BufferBudget(options.config.maxBufferedBytes ?? Infinity);
    this.maxDatagramSize = resolveCoreConfig(options.config.core).maxDatagramSize;
    this.cookies = new CookieJar({
      randomBytes: this.randomBytes,
      rotationMs: options.config.cookieRotation,
      lifetimeMs: options.config.cookieLifetime,
      now: options.now,
    });
    // What the two sides of the handshake reach of the endpoint (handshake-host.ts): one host for both.
    const host: ServerHost & ClientHost = {
      config: this.config,
      cookies: this.cookies,
      byPeer: this.byPeer,
      retired: this.retired,
      perAddress: this.perAddress,
      heap: this.heap,
      counters: this.counters,
      params: this.params,
      resetKey: this.resetKey,
      suite: this.suite,
      encryption: this.encryption,
      protectionConfig: this.protectionConfig,
      randomBytes: this.randomBytes,
      closing: () => this.closing,
      population: () => this.connections.size + this.client.pending,
      nextId: () => this.nextId++,
      queue: (data, address, port) => this.queue(data, address, port),
      drop: (reason) => this.drop(reason),
      freshCid: () => freshCid(this),
      peerAccepted: (publicKey, address, port) => peerAccepted(this, publicKey, address, port),
      establish: establish.bind(null, this),
      connectFailed: (attempt, error) => this.events.push({ type: 'connect-failed', attempt, error }),
    };
    this.server = new ServerHandshake(host);
    this.client = new ClientHandshake(host);
  }

  // ---------------------------------------------------------------- public API

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * The established connections, each once, in the order they were made (a rare one whose ID
   * shared its low 32 bits with another's comes last: ConnectionTable), until their engine closes.
   */
  connectionRecords(): Iterable<EndpointConnection> {
    return this.connections;
  }

  get pendingConnectCount(): number {
    return this.client.pending;
  }

  /** Datagrams received so far (as stats() counts them): the shell tells a silent peer by it. */
  get datagramsReceived(): number {
    return this.counters.datagramsReceived;
  }

  /** No connections and no handshakes left: a closing endpoint may close its socket. */
  get idle(): boolean {
    return this.connections.size === 0 && this.client.pending === 0;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  stats(): EndpointStats {
    return endpointStats(this.connections, this.client.pending, this.counters, this.dropped, this.budget);
  }

  /** Handle one received datagram. Never throws. */
  handleDatagram(now: number, datagram: Uint8Array, address: string, port: number): void {
    this.lastNow = now;
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += datagram.length;
    try {
      route(this, now, datagram, address, port);
    } catch {
      // A bug must not take the socket down: count it and drop the datagram.
      this.drop('internal-error');
    }
  }

  /** Start an outgoing handshake. Returns the attempt id, or an error if a limit forbids it. */
  connect(now: number, address: string, port: number, request?: ConnectRequest): ConnectResult {
    return this.client.connect(now, address, port, request);
  }

  /** Forget an outgoing handshake (e.g. its AbortSignal fired). No event follows. */
  cancelConnect(attemptId: number): void {
    this.client.cancelConnect(attemptId);
  }

  /** The shell called into `connection.core` (send, release, close, abort): drain it next. */
  touch(connection: EndpointConnection): void {
    if (!connection.closed && !connection.dirty) {
      connection.dirty = true;
      this.dirty.push(connection);
    }
  }

  /**
   * The shell moved the endpoint to a new local socket (rebind): every connection's path is new
   * (its engine resets what it knew of the old one and sends a packet, so that the peer sees
   * the new address and validates it). Handshakes in progress simply go on from the new socket.
   */
  rebound(now: number): void {
    this.lastNow = now;
    for (const c of this.connections) {
      try {
        c.core.migrate?.(now);
      } catch {
        this.drop('internal-error');
      }
      this.touch(c);
    }
  }

  /** Graceful close: refuse new connections, fail handshakes, close every connection. */
  close(now: number): void {
    this.closing = true;
    this.client.failAll('endpoint closed');
    for (const c of this.connections) {
      c.core.close(now);
      this.touch(c);
    }
  }

  /** Abortive close: every connection sends a RESET and is closed at once. */
  destroy(now: number): void {
    this.closing = true;
    this.client.failAll('endpoint destroyed');
    for (const c of this.connections) {
      try {
        c.core.abort(now, 0, 'endpoint destroyed');
      } catch {
        // Already closed: nothing to abort.
      }
      this.touch(c);
    }
  }

  // ---------------------------------------------------------------- output: transmits, the drain

  /** The one record pollTransmit fills for a connection's datagram: no object per packet. */
  private readonly transmitRecord: Transmit = { data: new Uint8Array(0), address: '', port: 0 };

  /**
   * Next datagram to send, or null. Drains dirty connections (their events queue up for
   * pollEvent). The record returned is valid until the next call: send it, or copy it.
   */
  pollTransmit(now: number, batch = false): Transmit | null {
    this.lastNow = now;
    for (;;) {
      const queued = this.shiftOutbox();
      if (queued) return this.count(queued);
      // Checked before indexing: `dirty[-1]` on the empty stack (the end of every flush) is
      // not an array element but a property lookup of "-1", in the runtime (issue 11).
      const top = this.dirty.length - 1;
      if (top < 0) return null;
      const c = this.dirty[top]!;
      let data: Uint8Array | null = null;
      try {
        data = c.closed ? null : c.core.pollTransmit(now, batch);
        if (data === null && batch && c.core.ackDeferred === true && !c.ackDeferred) {
          c.ackDeferred = true;
          this.deferredAcks.push(c);
        }
        // The last null poll of the flush decides (a reply that carried the ACK clears it).
        if (data === null && batch) this.batchAckWaits = c.core.ackWaiting === true;
        // Encrypted connection: the engine's DATA packet leaves as a PROTECTED packet.
        if (data && c.protection) data = c.protection.seal(now, data);
      } catch {
        data = null;
        this.drop('internal-error');
      }
      if (data === null && c.core.stoppedSendingAt?.(now) === true) this.stoppedSending(c, now);
      if (data) {
        this.counters.datagramsSent++;
        this.counters.bytesSent += data.length;
        const tx = this.transmitRecord;
        tx.data = data;
        // The current path, or an address being validated (a PATH_CHALLENGE to it).
        tx.address = c.core.transmitAddress ?? c.address;
        tx.port = c.core.transmitPort ?? c.port;
        return tx;
      }
      this.settle(c);
    }
  }

  /** After a connection's transmits are drained: collect its events; its deadline is to be read again. */
  private settle(c: EndpointConnection): void {
    // `c` is normally the top of the stack (the connection pollTransmit just drained); a socket
    // that delivers synchronously could have stacked another above it meanwhile.
    const dirty = this.dirty;
    if (dirty[dirty.length - 1] === c) dirty.pop();
    else {
      const i = dirty.lastIndexOf(c);
      if (i >= 0) dirty.splice(i, 1);
    }
    c.dirty = false;
    if (c.closed) return;
    for (;;) {
      let event: CoreEvent | null = null;
      try {
        event = c.core.pollEvent();
      } catch {
        this.drop('internal-error');
      }
      if (!event) break;
      if (event.type === 'path-changed') moved(this, c, event.address, event.port);
      this.events.push(c);
      this.events.push(event);
      if (event.type === 'closed') this.counters.connectionsClosed++;
    }
    // After a graceful close the engine drains for a few PTOs (it re-acknowledges a CLOSE the
    // peer repeats): keep routing to it and polling its timer until it is really closed.
    if (c.core.state === 'closed') {
      forget(this, c);
      return;
    }
    // Its deadline is asked for when the heap is next read (the flush may settle it again).
    const stale = this.staleDeadlines;
    const n = stale.length;
    if (n === 0 || stale[n - 1] !== c) stale.push(c);
  }

  private stoppedSending(c: EndpointConnection, now: number): void {
    // A driver that never calls `flushed` (virtual time, tests): what an earlier time left is dropped.
    // Within one `now` such a driver can list a connection more than once (drained again after
    // new input, its stop at `now` not yet settled), and that is harmless, so it is not checked:
    // `sentUntil` settles a stop once and ignores the repeats (blocked-time.test.ts), an entry
    // for a connection closed meanwhile finds nothing to settle, and the list holds at most one
    // entry per drain at that `now`, emptied when one next stops at a later `now`. The Node shell calls
    // `flushed` whenever `sendingStopped`, after every datagram, so it never sees a repeat.
    if (now !== this.stoppedNow) {
      emptyList(this.stopped);
      this.stoppedNow = now;
    }
    this.stopped.push(c);
  }

  /**
   * A connection stopped sending data in the datagrams pollTransmit returned so far: the shell
   * should read its clock and call `flushed`. Checked after every datagram (a field and a
   * compare), so that the clock is read as soon as that connection's last datagram has left.
   */
  get sendingStopped(): boolean {
    return this.stopped.length !== 0;
  }

  /**
   * The datagrams pollTransmit returned so far have all been sent, at `end` (the shell's clock,
   * read after them). A flush has one `now`, but sending takes time: a connection that stopped
   * sending data at that `now` is blocked (window, pacer, ...) only from `end` on, not while
   * its window was still leaving (stats' time blocked, blocked-time.ts). On a virtual clock
   * `end` equals `now` and nothing changes.
   */
  flushed(end: number): void {
    const stopped = this.stopped;
    for (let i = 0; i < stopped.length; i++) stopped[i]!.core.sentUntil?.(this.stoppedNow, end);
    emptyList(stopped);
  }

  /**
   * The shell is done with the datagram pollTransmit returned last: the socket has sent it (the
   * kernel has its copy) and nothing refers to it. Its buffer may then be reused for the next
   * datagram (slab.ts); without this call every datagram stays valid for good. Never call it
   * for a datagram a socket may still read (queued, or held by a simulated network).
   */
  transmitted(data: Uint8Array): void {
    sharedSlab.release(data);
  }

  // ---------------------------------------------------------------- output: events

  /** The next event, or null: an object of its own, which the caller may keep. */
  pollEvent(): EndpointEvent | null {
    const ev = this.nextEvent();
    if (ev === null || ev.type !== 'connection-event') return ev;
    return { type: 'connection-event', connection: ev.connection, event: ev.event };
  }

  /**
   * As pollEvent(), but a connection's event comes in one record that every call reuses (no
   * object per message, as pollTransmit's record): valid until the next call, so read what it
   * holds before anything may poll again. The Node endpoint's flush loop uses this one.
   */
  nextEvent(): EndpointEvent | null {
    const head = this.events.shift();
    const record = this.eventRecord;
    if (head === undefined) {
      // Drained: the record keeps no connection (or message) alive until the next event.
      record.connection = NO_CONNECTION;
      record.event = NO_EVENT;
      return null;
    }
    // A connection (its event follows), or an endpoint event: told apart by `kind`, which only
    // a connection has (on its prototype). Not `instanceof`: for a class V8 does not see as a
    // constant that is a generic call looking up `Symbol.hasInstance`, on every message.
    if ((head as { kind?: unknown }).kind !== 'connection') return head as EndpointEvent;
    record.connection = head as EndpointConnection;
    record.event = this.events.shift() as CoreEvent;
    return record;
  }

  // ---------------------------------------------------------------- deadlines

  /** Earliest deadline over the endpoint and all its connections (valid after pollTransmit returned null). */
  pollTimeout(): number | null {
    refreshDeadlines(this);
    return this.heap.earliest();
  }

  handleTimeout(now: number): void {
    this.lastNow = now;
    refreshDeadlines(this);
    const due: Timed[] = [];
    for (let top = this.heap.peek(); top && top.heapDeadline <= now; top = this.heap.peek()) {
      // Parked, not removed: each is rescheduled (or removed) right after (endpoint-timers.ts).
      this.heap.park(top);
      due.push(top);
    }
    for (const t of due) {
      if (t.kind === 'connection') {
        if (t.closed) continue;
        try {
          t.core.handleTimeout(now);
        } catch {
          this.drop('internal-error');
        }
        this.touch(t);
      } else if (t.kind === 'attempt') {
        this.client.attemptTimeout(now, t);
      } else {
        pruneRetired(this, now);
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  queue(data: Uint8Array, address: string, port: number): void {
    this.outbox.push({ data, address, port });
    this.counters.handshakeDatagramsSent++;
    this.counters.handshakeBytesSent += data.length;
  }

  private shiftOutbox(): Transmit | null {
    if (this.outboxHead >= this.outbox.length) {
      if (this.outbox.length > 0) {
        this.outbox.length = 0;
        this.outboxHead = 0;
      }
      return null;
    }
    const t = this.outbox[this.outboxHead]!;
    this.outbox[this.outboxHead++] = undefined as unknown as Transmit;
    return t;
  }

  private count(t: Transmit): Transmit {
    this.counters.datagramsSent++;
    this.counters.bytesSent += t.data.length;
    return t;
  }

  drop(reason: DropReason): void {
    this.dropped[reason]++;
    if (this.endpointTrace !== null) this.endpointTrace.packetDropped(this.lastNow, -1, reason);
  }
}

/**
 * Empty `list` and keep its storage: `length = 0` gives V8 the storage back, and the next push
 * allocates another (~50–150 bytes). The list of connections that stopped sending is emptied
 * and refilled on every flush of a bulk sender (4 KB per MB moved, issue 11), the list of ACKs
 * deferred to the end of a batch at every batch end of a receiver.
 */
function emptyList(list: unknown[]): void {
  while (list.length > 0) list.pop();
}
