import { EventEmitter } from 'eventemitter3';
import type { EndpointConnection } from '../core/endpoint.js';
import type { CloseError, ConnectionStats, CoreEvent, Delivery } from '../core/types.js';
import { AbortError, InvalidArgTypeError, InvalidArgValueError, rdError, type ReliableDgramError } from '../errors.js';
import { Inbox } from './inbox.js';

/** Events of a {@link Connection}. */
export interface ConnectionEvents {
  /** A message arrived (only while no async iterator is consuming the connection). */
  message: [data: Buffer];
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
  pathMtu: [size: number, reason: 'probe' | 'black-hole'];
}

export interface SendOptions {
  /** 'ordered' (default), 'unordered' or 'unreliable'. */
  delivery?: Delivery;
}

export interface ConnectionStatsWithAddress extends ConnectionStats {
  remoteAddress: string;
  remotePort: number;
  /** Bytes queued but not yet sent once. */
  bufferedAmount: number;
  /** Messages waiting for the application (async iterator or a late 'message' listener). */
  queuedMessages: number;
  /**
   * Unreliable messages dropped unread, oldest first, because the application did not take them
   * in time (also counted in `unreliableDropped`, which adds the engine's own drops).
   */
  unreliableQueueDropped: number;
}

/** What a Connection needs from its Endpoint. */
export interface ConnectionHost {
  now(): number;
  /** The connection's engine was called: drain it soon (batched in a microtask). */
  scheduleFlush(record: EndpointConnection): void;
  /** Drain now (destroy: the RESET must leave before the socket may close). */
  flushNow(record: EndpointConnection): void;
  /** `send()` returned false: check this connection for 'drain' after each flush. */
  watchDrain(conn: Connection): void;
  readonly highWaterMark: number;
  readonly maxQueuedBytes: number;
  readonly maxMessageSize: number;
  readonly maxQueuedUnreliable: number;
  /** Bytes of unread unreliable messages kept before the oldest is dropped. */
  readonly maxQueuedUnreliableBytes: number;
}

const DELIVERIES: readonly Delivery[] = ['ordered', 'unordered', 'unreliable'];

function toError(e: CloseError): ReliableDgramError {
  return rdError(e.code, e.message);
}

/**
 * One reliable-dgram connection: a message pipe with Node conventions.
 *
 * Receiving: messages go to the async iterator while one is active, otherwise to 'message'
 * listeners; with neither they wait in a queue and their receive credit is withheld, so the peer
 * is slowed down by flow control instead of this process buffering without bound.
 *
 * Sending: `send()` queues the message and returns false once `highWaterMark` bytes wait
 * ('drain' follows). Past the hard `maxQueuedBytes` it throws ERR_SEND_QUEUE_FULL and queues
 * nothing, so a sender that ignores `false` cannot grow memory without bound.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  private readonly inbox: Inbox;
  private iterating = 0;
  private readonly waiters: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void }[] = [];
  private readonly closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private needDrain = false;
  /** Largest message refused with ERR_SEND_QUEUE_FULL since the last 'drain' (0: none). */
  private refusedBytes = 0;
  private peerEnded = false;
  private deliveryScheduled = false;
  /** Set once the engine reported `closed`. */
  private finished = false;
  private closeError: Error | undefined;
  private destroyError: Error | undefined;
  private destroyed = false;

  /** @internal Created by the Endpoint. */
  constructor(
    private readonly host: ConnectionHost,
    /** @internal */
    readonly record: EndpointConnection,
  ) {
    super();
    this.inbox = new Inbox(host.maxQueuedUnreliable, host.maxQueuedUnreliableBytes, (item) => {
      if (!this.finished) this.record.core.release(item.credit, 'unreliable');
    });
  }

  get remoteAddress(): string {
    return this.record.address;
  }

  get remotePort(): number {
    return this.record.port;
  }

  /** Bytes queued but not yet sent once. */
  get bufferedAmount(): number {
    return this.finished ? 0 : this.record.core.bufferedAmount;
  }

  /** 'open', 'closing', 'draining' or 'closed'. */
  get state(): 'open' | 'closing' | 'draining' | 'closed' {
    return this.finished ? 'closed' : this.record.core.state;
  }

  get closed(): boolean {
    return this.finished;
  }

  /**
   * Queue a message. Returns false when `highWaterMark` bytes or more now wait to be sent (wait
   * for 'drain'). Throws ERR_SEND_QUEUE_FULL past `maxQueuedBytes`, ERR_MESSAGE_TOO_LARGE past
   * `maxMessageSize`, ERR_CONNECTION_CLOSED once closing. The buffer must not be modified after.
   */
  send(data: Uint8Array | string, options?: SendOptions): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgTypeError('data must be a Uint8Array, Buffer or string');
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new InvalidArgTypeError('options must be an object');
    }
    const delivery = options?.delivery ?? 'ordered';
    if (!DELIVERIES.includes(delivery)) {
      throw new InvalidArgValueError(`options.delivery must be 'ordered', 'unordered' or 'unreliable', got ${String(delivery)}`);
    }
    if (this.finished || this.destroyed || this.record.core.state !== 'open') {
      throw rdError('ERR_CONNECTION_CLOSED', 'the connection is closing or closed');
    }
    // Ours, or the peer's announced limit when that is smaller: refused here, not by a RESET.
    const maxMessageSize = this.record.core.maxMessageSize;
    if (bytes.length > maxMessageSize) {
      const whose = maxMessageSize < this.host.maxMessageSize ? "the peer's maxMessageSize" : 'maxMessageSize';
      throw rdError('ERR_MESSAGE_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${whose} ${maxMessageSize}`);
    }
    const queued = this.record.core.bufferedAmount;
    if (queued > 0 && queued + bytes.length > this.host.maxQueuedBytes) {
      // 'drain' follows once this message would fit (maxMessageSize ≤ maxQueuedBytes, so an
      // empty queue always has room for it).
      this.refusedBytes = Math.max(this.refusedBytes, bytes.length);
      if (!this.needDrain) {
        this.needDrain = true;
        this.host.watchDrain(this);
      }
      throw rdError(
        'ERR_SEND_QUEUE_FULL',
        `send queue full: ${queued} bytes waiting, limit maxQueuedBytes ${this.host.maxQueuedBytes}; wait for 'drain'`,
      );
    }
    this.record.core.send(bytes, delivery);
    this.host.scheduleFlush(this.record);
    if (this.record.core.bufferedAmount >= this.host.highWaterMark) {
      if (!this.needDrain) {
        this.needDrain = true;
        this.host.watchDrain(this);
      }
      return false;
    }
    return true;
  }

  /** Graceful close: resolves once everything sent was acknowledged and both sides closed. */
  close(): Promise<void> {
    if (this.finished) {
      return this.closeError && !this.destroyed ? Promise.reject(this.closeError) : Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.closeWaiters.push({ resolve, reject });
      if (this.record.core.state === 'open') {
        this.record.core.close(this.host.now());
        this.host.scheduleFlush(this.record);
      }
    });
  }

  /** Abort now: the peer gets ERR_CONNECTION_RESET. `err`, if given, is emitted with 'error'/'close'. */
  destroy(err?: Error): void {
    if (this.finished || this.destroyed) return;
    this.destroyed = true;
    this.destroyError = err;
    this.record.core.abort(this.host.now(), 0, err?.message ?? '');
    this.host.flushNow(this.record);
    // The engine closes at once on abort; make sure, even if it did not report it.
    if (!this.finished) this.finish(undefined);
  }

  stats(): ConnectionStatsWithAddress {
    const core = this.record.core.stats(this.host.now());
    return {
      ...core,
      unreliableDropped: core.unreliableDropped + this.inbox.dropped,
      remoteAddress: this.record.address,
      remotePort: this.record.port,
      bufferedAmount: this.bufferedAmount,
      queuedMessages: this.inbox.length,
      unreliableQueueDropped: this.inbox.dropped,
    };
  }

  /** Iterate over received messages; ends when the peer closes; throws the error of a failed connection. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this.messages();
  }

  messages(options?: { signal?: AbortSignal }): AsyncIterableIterator<Buffer> {
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgTypeError('options.signal must be an AbortSignal');
    }
    this.iterating++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.iterating--;
      signal?.removeEventListener('abort', onAbort);
      // Someone may be listening with 'message' now.
      this.scheduleDelivery();
    };
    const onAbort = (): void => {
      const err = new AbortError(undefined, { cause: signal?.reason });
      finish();
      for (const w of this.waiters.splice(0)) w.reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const iterator: AsyncIterableIterator<Buffer> = {
      next: (): Promise<IteratorResult<Buffer>> => {
        if (done) return Promise.resolve({ value: undefined, done: true });
        if (signal?.aborted) {
          finish();
          return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
        }
        const item = this.takeMessage();
        if (item) return Promise.resolve({ value: item, done: false });
        const end = this.endOfMessages();
        if (end) {
          finish();
          return end === true ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(end);
        }
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  override on<T extends EventEmitter.EventNames<ConnectionEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectionEvents, T>,
    context?: unknown,
  ): this {
    super.on(event, fn, context);
    if (event === 'message') this.scheduleDelivery();
    return this;
  }

  override addListener<T extends EventEmitter.EventNames<ConnectionEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectionEvents, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<ConnectionEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectionEvents, T>,
    context?: unknown,
  ): this {
    super.once(event, fn, context);
    if (event === 'message') this.scheduleDelivery();
    return this;
  }

  // ---------------------------------------------------------------- engine events (internal)

  /** @internal */
  handleCoreEvent(event: CoreEvent): void {
    switch (event.type) {
      case 'message': {
        const data = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
        this.inbox.push({ data, credit: event.credit, unreliable: event.delivery === 'unreliable' });
        this.deliver();
        return;
      }
      case 'drain':
      case 'flushed':
        this.checkDrain();
        return;
      case 'peer-closed':
        this.peerEnded = true;
        this.emit('end');
        this.wakeWaiters();
        return;
      case 'closed':
        this.finish(event.error);
        return;
      case 'path-mtu':
        this.emit('pathMtu', event.size, event.reason);
        return;
    }
  }

  /**
   * @internal Called after the endpoint flushed: emit 'drain' once the queue is below the
   * high-water mark. Returns true while still waiting.
   */
  checkDrain(): boolean {
    if (!this.needDrain) return false;
    if (this.finished) {
      this.needDrain = false;
      return false;
    }
    const queued = this.record.core.bufferedAmount;
    if (queued >= this.host.highWaterMark) return true;
    if (this.refusedBytes > 0 && queued > 0 && queued + this.refusedBytes > this.host.maxQueuedBytes) return true;
    this.needDrain = false;
    this.refusedBytes = 0;
    this.emit('drain');
    return this.needDrain;
  }

  /** @internal The endpoint is going away: end this connection now, with `err`. */
  forceClose(err: Error): void {
    if (this.finished) return;
    this.closeError = err;
    this.finish(undefined);
  }

  private finish(coreError: CloseError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    let err: Error | undefined = this.closeError;
    if (this.destroyed) err = this.destroyError;
    else if (coreError) err = toError(coreError);
    this.closeError = err;
    // Pending close() promises learn how it ended.
    const pendingErr = err ?? (this.destroyed ? rdError('ERR_CONNECTION_CLOSED', 'the connection was destroyed') : undefined);
    for (const w of this.closeWaiters.splice(0)) {
      if (pendingErr) w.reject(pendingErr);
      else w.resolve();
    }
    this.wakeWaiters();
    if (err) this.emit('error', err);
    this.emit('close', err);
  }

  /** Hand queued messages to an iterator or to 'message' listeners. */
  private deliver(): void {
    while (this.inbox.length > 0) {
      if (this.iterating > 0) {
        const w = this.waiters.shift();
        if (!w) return;
        const item = this.takeMessage()!;
        w.resolve({ value: item, done: false });
      } else if (this.listenerCount('message') > 0) {
        const item = this.takeMessage()!;
        this.emit('message', item);
      } else {
        return;
      }
    }
  }

  private scheduleDelivery(): void {
    if (this.deliveryScheduled) return;
    this.deliveryScheduled = true;
    queueMicrotask(() => {
      this.deliveryScheduled = false;
      this.deliver();
      this.wakeWaiters();
    });
  }

  /** Take the next message and give its credit back to the engine (the peer may send more). */
  private takeMessage(): Buffer | undefined {
    const item = this.inbox.shift();
    if (!item) return undefined;
    if (item.credit > 0 && !this.finished) {
      this.record.core.release(item.credit, item.unreliable ? 'unreliable' : 'ordered');
      this.host.scheduleFlush(this.record);
    }
    return item.data;
  }

  /** true: iteration ends normally; an Error: it ends with that error; null: more may come. */
  private endOfMessages(): true | Error | null {
    if (this.inbox.length > 0) return null;
    if (this.finished) return this.closeError && !this.destroyed ? this.closeError : true;
    if (this.peerEnded) return true;
    return null;
  }

  private wakeWaiters(): void {
    this.deliver();
    if (this.inbox.length > 0) return;
    const end = this.endOfMessages();
    if (!end) return;
    for (const w of this.waiters.splice(0)) {
      if (end === true) w.resolve({ value: undefined, done: true });
      else w.reject(end);
    }
  }
}
