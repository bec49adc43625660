import type { Buffer } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import type { EndpointConnection } from '../core/endpoint.js';
import type { ReliableDgramError } from '../errors.js';
import type { Waits } from './connection-waits.js';
import type { DestroyOptions } from './connection-options.js';
import type { Inbox, MessageInfo } from './inbox.js';
import type { SocketAddress } from './socket.js';

/**
 * Events of a {@link Connection}, with their listener arguments. `Connection` is a
 * `node:events` `EventEmitter`, so `events.once(conn, 'drain')` and `events.on(conn, 'message')`
 * work and type-check.
 *
 * | Event | Arguments | When |
 * | --- | --- | --- |
 * | `'message'` | `data: Buffer, info: MessageInfo` | A message arrived (only while no async iterator is consuming the connection, and not for a channel a `messages({ channel })` iterator consumes); `info` has its `channel` and `delivery`. |
 * | `'drain'` | | `send()` returned false earlier and the send queue is below `highWaterMark` again. |
 * | `'end'` | | The peer finished sending (its CLOSE arrived): no more messages will arrive. This side closes too, unless `allowHalfOpen` (then it closes with `end()`/`close()`). |
 * | `'error'` | `err: ReliableDgramError \| Error` | The connection failed for a reason the application did not choose (peer reset, idle timeout, protocol violation), or `destroy(err)` was called with an error. `'close'` follows with the same error. |
 * | `'close'` | `err?: ReliableDgramError \| Error` | The connection is over; `err` is absent after a graceful close or a plain `destroy()`. |
 *
 * An `'error'` nobody hears is not lost: as with Node's own emitters it becomes an uncaught
 * exception, unless a pending `close()` promise or an active async iterator received it (they
 * reject with it).
 */
export interface ConnectionEvents {
  /**
   * A message arrived (only while no async iterator is consuming the connection, and not for a
   * channel a `messages({ channel })` iterator consumes). `info` says its channel and delivery.
   */
  message: [data: Buffer, info: MessageInfo];
  /**
   * `send()` returned false, or threw ERR_SEND_QUEUE_FULL, earlier and the send queue has room
   * again (below `highWaterMark`, and room for the refused message).
   */
  drain: [];
  /** The peer finished sending: no more messages will arrive. */
  end: [];
  /** A fatal error; 'close' follows with the same error. */
  error: [err: ReliableDgramError | Error];
  /** The connection is over; `err` is absent after a graceful close. */
  close: [err?: ReliableDgramError | Error];
  /** Path-MTU discovery changed the datagram size in force (`stats().pathMtu`). */
  pathMtu: [size: number, reason: 'probe' | 'black-hole' | 'new-path'];
  /**
   * The peer moved to a new address (a NAT rebinding, or its `rebind()`), which answered a
   * PATH_CHALLENGE: `remoteAddress` / `remotePort` are the new ones now.
   */
  migrated: [address: string, port: number];
}

/** Bits of `Connection.flags` (`ConnectionShellParts.flags`). */
export const enum Flag {
  MessageListener = 1,
  NeedDrain = 2,
  PeerEnded = 4,
  DeliveryScheduled = 8,
  Finished = 16,
  Destroyed = 32,
  /** `EventEmitter.captureRejections` was on when it was made (node:events then watches what a listener returns). */
  CaptureRejections = 64,
}

/** What a Connection needs from its Endpoint. */
export interface ConnectionHost {
  now(): number;
  /** The connection's engine was called: drain it soon (batched in a microtask). */
  scheduleFlush(record: EndpointConnection): void;
  /** Drain now (destroy: the RESET must leave before the socket may close). */
  flushNow(record: EndpointConnection): void;
  /** `send()` returned false: check this connection for 'drain' after each flush. */
  watchDrain(conn: ConnectionShellParts): void;
  /** The connection is over (once, just before its 'close'): the endpoint counts its live ones. */
  finished(): void;
  readonly highWaterMark: number;
  readonly maxQueuedBytes: number;
  readonly maxMessageSize: number;
  readonly maxQueuedUnreliable: number;
  /** The endpoint socket's bound address. */
  address(): SocketAddress;
  /** The endpoint's clock, for `close({ timeout })`. */
  setTimer(deadline: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /** Bytes of unread unreliable messages kept before the oldest is dropped. */
  readonly maxQueuedUnreliableBytes: number;
}

/**
 * What the modules carved out of connection.ts (connection-lifecycle.ts, ...) read and write of
 * a connection: its endpoint (`host`) and engine (`record`), its state bits, how it ended, its
 * waiters, and its events. `Connection` has them all (its own fields: one object, every call
 * stays monomorphic; each call site checks that it fits, with no `implements` clause, which the
 * declarations would carry without the fields they leave out); the modules import this type,
 * not connection.ts, so that they do not import what imports them. Field meanings: connection.ts.
 */
export interface ConnectionShellParts extends EventEmitter<ConnectionEvents> {
  readonly host: ConnectionHost;
  readonly record: EndpointConnection;
  /** The state bits (`Flag`) the accessors below read and write: what the per-message paths read. */
  readonly flags: number;
  finished: boolean;
  destroyed: boolean;
  closeError: Error | undefined;
  readonly waits: Waits | null;
  ensureWaits(): Waits;
  // --- sending
  needDrain: boolean;
  refusedBytes: number;
  // --- receiving
  inbox: Inbox | null;
  readonly hasMessageListener: boolean;
  readonly peerEnded: boolean;
  deliveryScheduled: boolean;
  destroy(err?: Error, options?: DestroyOptions): void;
}
