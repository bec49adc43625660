import { EventEmitter } from 'node:events';
import type { DatagramSocket, RemoteInfo, SocketAddress } from '../node/socket.js';
import type { Clock, TimerHandle } from '../node/clock.js';
import { realClock } from '../node/clock.js';
import { InvalidArgTypeError } from '../errors.js';
import { Rng } from './rng.js';
import { LinkModel, emptyCounters } from './impairment.js';
import type { Impairment, LinkCounters } from './impairment.js';

/** Which way a datagram goes through a {@link LossySocket}. */
export type Direction = 'send' | 'receive';

/** Options of {@link LossySocket}: impairments per direction, a seed, an optional drop filter. */
export interface LossySocketOptions {
  /** Seed of the impairment randomness (send and receive get separate streams). Default 1. */
  seed?: number;
  /** Impairment of outgoing datagrams. None by default. */
  send?: Impairment;
  /** Impairment of incoming datagrams. None by default. */
  receive?: Impairment;
  /**
   * Targeted drops, checked before the impairment: return `true` to drop this datagram
   * (e.g. "drop the first ACCEPT"). Counted in `filterDropped`.
   */
  drop?: (packet: Uint8Array, direction: Direction) => boolean;
  /** Clock for delays. Default: the real clock. */
  clock?: Clock;
}

/** Counters of a {@link LossySocket}. */
export interface LossySocketCounters {
  send: LinkCounters;
  receive: LinkCounters;
  /** Datagrams dropped by the `drop` option, per direction. */
  filterDropped: { send: number; receive: number };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Wraps any {@link DatagramSocket} — a real `dgram.Socket` too — and loses, delays, duplicates,
 * reorders or corrupts datagrams on the way out and/or in, with the same {@link LinkModel} as the
 * simulator. Delays go through the given {@link Clock} (real time by default); closing the
 * socket cancels whatever is still held back. Hand it to code that takes a socket to see how it
 * copes with a bad network, over real UDP.
 *
 * @example
 * ```ts
 * import dgram from 'node:dgram';
 * const raw = dgram.createSocket('udp4');
 * raw.bind(0, '127.0.0.1');
 * const sock = new LossySocket(raw, { seed: 3, send: { loss: 0.1, delay: 5, jitter: 2 } });
 * sock.on('message', (msg, rinfo) => { ... });
 * sock.send(data, port, '127.0.0.1');
 * // later
 * sock.counters.send.droppedLoss;
 * sock.close();
 * ```
 */
export class LossySocket extends EventEmitter implements DatagramSocket {
  readonly inner: DatagramSocket;
  private readonly clock: Clock;
  private readonly sendLink: LinkModel | null;
  private readonly receiveLink: LinkModel | null;
  private readonly dropFilter: ((packet: Uint8Array, direction: Direction) => boolean) | undefined;
  private readonly held = new Set<TimerHandle>();
  private readonly filterDropped = { send: 0, receive: 0 };
  private isClosed = false;

  private readonly onInnerMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.receive(msg, rinfo);
  private readonly onInnerError = (err: Error): void => {
    this.emit('error', err);
  };
  private readonly onInnerClose = (): void => {
    this.isClosed = true;
    this.cancelHeld();
    this.detachInner();
    this.emit('close');
  };

  constructor(inner: DatagramSocket, options: LossySocketOptions = {}) {
    super();
    if (inner === null || typeof inner !== 'object' || typeof inner.send !== 'function') {
      throw new InvalidArgTypeError('inner must be a DatagramSocket');
    }
    this.inner = inner;
    this.clock = options.clock ?? realClock;
    const seed = options.seed ?? 1;
    // Both directions measure their blackhole schedules from the moment the wrapper was made.
    const start = this.clock.now();
    this.sendLink = options.send === undefined ? null : new LinkModel(options.send, Rng.derive(seed, 'send'), start);
    this.receiveLink =
      options.receive === undefined ? null : new LinkModel(options.receive, Rng.derive(seed, 'receive'), start);
    this.dropFilter = options.drop;
    inner.on('message', this.onInnerMessage);
    inner.on('error', this.onInnerError);
    inner.on('close', this.onInnerClose);
  }

  /** A snapshot of what the impairments and the drop filter did so far. */
  get counters(): LossySocketCounters {
    return {
      send: this.sendLink === null ? emptyCounters() : { ...this.sendLink.counters },
      receive: this.receiveLink === null ? emptyCounters() : { ...this.receiveLink.counters },
      filterDropped: { ...this.filterDropped },
    };
  }

  /** As `dgram.Socket.send()`, through the send impairments (loss, delay, duplication, ...). */
  send(
    msg: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void {
    if (this.isClosed) {
      throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    }
    if (this.dropFilter?.(msg, 'send') === true) {
      this.filterDropped.send++;
      this.succeedLater(msg, callback);
      return;
    }
    const link = this.sendLink;
    if (link === null) {
      this.inner.send(msg, port, address, callback);
      return;
    }
    const now = this.clock.now();
    const deliveries = link.admit(now, msg);
    let callbackUsed = false;
    for (const { at, data } of deliveries) {
      if (at <= now) {
        // The first copy sent right away carries the caller's callback (and its real errors).
        this.inner.send(data, port, address, callbackUsed ? undefined : callback);
        callbackUsed = true;
      } else {
        // Held back: copy the bytes, the caller may reuse its buffer once send() returns.
        const bytes = data === msg ? new Uint8Array(msg) : data;
        this.hold(at, () => this.inner.send(bytes, port, address));
      }
    }
    if (!callbackUsed) this.succeedLater(msg, callback);
  }

  /** The wrapped socket's address. */
  address(): SocketAddress {
    return this.inner.address();
  }

  /** Forwarded to the wrapped socket, if it has it (`Endpoint.unref()` calls it). */
  unref(): this {
    this.inner.unref?.();
    return this;
  }

  /** Forwarded to the wrapped socket, if it has it (`Endpoint.ref()` calls it). */
  ref(): this {
    this.inner.ref?.();
    return this;
  }

  /** Cancels datagrams still held back and closes the wrapped socket. */
  close(callback?: () => void): void {
    if (this.isClosed) {
      throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    }
    if (callback !== undefined) this.once('close', callback);
    this.cancelHeld();
    this.inner.close();
  }

  // The overloads of DatagramSocket, typed; EventEmitter does the work.
  /** A datagram arrived (after the receive impairments). */
  override on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** The inner socket failed. */
  override on(event: 'error', listener: (err: Error) => void): this;
  /** The socket closed. */
  override on(event: 'close', listener: () => void): this;
  override on(event: string | symbol, listener: Listener): this {
    return super.on(event, listener);
  }

  /** Remove a 'message' listener. */
  override off(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** Remove an 'error' listener. */
  override off(event: 'error', listener: (err: Error) => void): this;
  /** Remove a 'close' listener. */
  override off(event: 'close', listener: () => void): this;
  override off(event: string | symbol, listener: Listener): this {
    return super.off(event, listener);
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.isClosed) return;
    if (this.dropFilter?.(msg, 'receive') === true) {
      this.filterDropped.receive++;
      return;
    }
    const link = this.receiveLink;
    if (link === null) {
      this.emit('message', msg, rinfo);
      return;
    }
    const now = this.clock.now();
    const deliveries = link.admit(now, msg);
    let first = true;
    for (const { at, data } of deliveries) {
      // A duplicate gets its own buffer, so a listener mutating one copy cannot touch the other.
      const buf = first ? toBuffer(data) : Buffer.from(data);
      first = false;
      const info = { ...rinfo, size: buf.byteLength };
      if (at <= now) this.emit('message', buf, info);
      else this.hold(at, () => this.emit('message', buf, info));
    }
  }

  private hold(at: number, fn: () => void): void {
    const handle = this.clock.setTimer(at, () => {
      this.held.delete(handle);
      if (!this.isClosed) fn();
    });
    this.held.add(handle);
  }

  private succeedLater(msg: Uint8Array, callback: ((error: Error | null, bytes?: number) => void) | undefined): void {
    if (callback === undefined) return;
    const bytes = msg.byteLength;
    queueMicrotask(() => callback(null, bytes));
  }

  private cancelHeld(): void {
    for (const handle of this.held) this.clock.clearTimer(handle);
    this.held.clear();
  }

  private detachInner(): void {
    this.inner.off('message', this.onInnerMessage);
    this.inner.off('error', this.onInnerError);
    this.inner.off('close', this.onInnerClose);
  }
}
