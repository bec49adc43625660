import type { EventEmitter } from 'node:events';
import type { EndpointConnection, EndpointCore } from '../core/endpoint.js';
import type { ReliableDgramError } from '../errors.js';
import type { ResolvedEndpointOptions } from '../options.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Connection, ConnectionHost } from './connection.js';
import type { ConnectionShellParts } from './connection-parts.js';
import type { PeerSocket } from './peer-socket.js';
import type { ChannelEntry } from './channel-options.js';
import type { TraceOutput } from './qlog.js';
import type { DatagramSocket, RemoteInfo } from './socket.js';

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

/** A connect() in progress: what its promise is settled with when the handshake ends. */
export interface PendingConnect {
  /** The connect() call's `channels` option, validated. */
  channels: ChannelEntry[];
  resolve: (c: Connection) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

/**
 * What the modules carved out of endpoint.ts (endpoint-close.ts, ...) read and write of an
 * endpoint: its socket, clock, engine and timer, its state, and the listeners it registers on
 * the socket. `Endpoint` has them all (its own fields: one object, every call stays
 * monomorphic; each call site checks that it fits, with no `implements` clause, which the
 * declarations would carry without the fields they leave out); the modules import this type, not
 * endpoint.ts, so that they do not import what imports them. Field meanings: endpoint.ts.
 */
export interface EndpointShellParts extends EventEmitter<EndpointEvents> {
  readonly options: ResolvedEndpointOptions;
  readonly core: EndpointCore;
  readonly clock: Clock;
  readonly traceOutput: TraceOutput;
  readonly pending: Map<number, PendingConnect>;
  socket: DatagramSocket;
  state: 'open' | 'closing' | 'closed';
  readonly closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[];

  // --- the connections
  readonly host: ConnectionHost;
  liveCount: number;
  /** Connect the socket to the one peer, or stop (endpoint.ts). */
  reconsiderPeer(closed?: EndpointConnection): void;
  /** The socket connected to the one peer, or not (peer-socket.ts). */
  readonly peer: PeerSocket;

  // --- the timer
  timer: TimerHandle | null;
  armedAt: number | null;
  postponeFrom: number;
  readonly postponable: boolean;
  timerDeferred: boolean;
  readonly refed: boolean;
  readonly onTimer: () => void;

  // --- flushing
  flushing: boolean;
  flushScheduled: boolean;
  ioFlushScheduled: boolean;
  readonly onScheduledFlush: () => void;
  readonly onIoFlush: () => void;
  /** Connections whose send() returned false (endpoint.ts). */
  readonly drainWatch: Set<ConnectionShellParts>;
  readonly checkWatched: (c: ConnectionShellParts) => void;

  // --- the socket's sends
  sendErrors: number;
  readonly reuseSent: boolean;
  readonly onSent: (err: Error | null) => void;
  sendsInFlight: number;
  queuedSends: (() => number) | null;
  afterSends: (() => void) | null;

  // --- the listeners the endpoint puts on its socket
  readonly onMessage: (msg: Buffer, rinfo: RemoteInfo) => void;
  readonly onSocketError: (err: Error) => void;
  readonly onSocketClose: () => void;
}
