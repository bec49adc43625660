import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import type { EndpointConnection } from '../core/endpoint.js';
import type { ChannelOptions, ConnectionStats, CoreEvent, Delivery } from '../core/types.js';
import { rdError } from '../errors.js';
import type { CloseOptions } from './close-options.js';
import { unpinFields } from '../core/mutable-fields.js';
import { Waits } from './connection-waits.js';
import { Inbox, type InboxItem, type MessageInfo } from './inbox.js';
import { Stage, stageTrace } from './stage-trace.js';
import { checkChannelOptions, type DestroyOptions, type SendOptions } from './connection-options.js';
import { connectionRates } from './stats-rates.js';
import { Flag, type ConnectionEvents, type ConnectionHost } from './connection-parts.js';
import { closeGracefully, destroyNow, finish } from './connection-lifecycle.js';
import { deliver, giveBackCredit, iterate, scheduleDelivery, takesAtOnce, wakeWaiters } from './connection-delivery.js';
import { queue } from './connection-backpressure.js';

export type { MessageInfo } from './inbox.js';
export type { ChannelOptions } from '../core/types.js';
export type { SendOptions, DestroyOptions } from './connection-options.js';
export type { ConnectionEvents, ConnectionHost } from './connection-parts.js';

/**
 * {@link ConnectionStats} plus what the Node shell knows. Every counter is this side's view:
 * see {@link ConnectionStats} for which side counts what.
 */
export interface ConnectionStatsWithAddress extends ConnectionStats {
  remoteAddress: string;
  remotePort: number;
  /**
   * Fraction of the packets this side sent that it declared lost: `packetsLost / packetsSent`
   * (0 before anything was sent). Loss on the path from this side to the peer, as this side sees
   * it; loss in the other direction shows in the peer's stats (and here as `duplicatesDropped`).
   */
  lossRate: number;
  /**
   * Fraction of the packets this side sent that carried retransmitted data:
   * `packetsRetransmitted / packetsSent` (0 before anything was sent).
   */
  retransmissionRate: number;
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

/**
 * One frozen info object per (delivery, channel), made at its first message: no allocation,
 * and no lookup but an array's, per message.
 */
const INFOS: Record<Delivery, (MessageInfo | undefined)[]> = { ordered: [], unordered: [], unreliable: [] };
function infoFor(delivery: Delivery, channel: number): MessageInfo {
  const byChannel = delivery === 'ordered' ? INFOS.ordered : delivery === 'unordered' ? INFOS.unordered : INFOS.unreliable;
  return byChannel[channel] ?? (byChannel[channel] = Object.freeze({ channel, delivery }));
}

/**
 * `d instanceof Buffer`, the common case first: a Buffer node:dgram made has Buffer's own
 * prototype, which V8 checks inline. (`instanceof` a class V8 does not see as a constant, as an
 * imported one, is a generic call that looks up `Symbol.hasInstance` each time.)
 */
const BUFFER_PROTOTYPE: object = Buffer.prototype;
function isBuffer(d: Uint8Array): d is Buffer {
  return Object.getPrototypeOf(d) === BUFFER_PROTOTYPE || d instanceof Buffer;
}

/**
 * A connection's listener table (node:events' `_events`): an object whose prototype chain has
 * no property at all, like node:events' own `{ __proto__: null }` table, but an ordinary object
 * with a hidden class (shared by the connections that add the same events in the same order)
 * instead of the hash table V8 makes of a null-prototype literal: ~50 bytes with three listeners
 * instead of ~190 (idle connections, issue 11). node:events reads and writes it by event name
 * like its own; removing a listener deletes the name, which turns that one table into a hash
 * table, as it is for any EventEmitter.
 */
const ListenerTable = function ListenerTable(): void {} as unknown as new () => object;
ListenerTable.prototype = Object.create(null) as object;

/**
 * One reliable-dgram connection: a message pipe with Node conventions. Get one from
 * {@link Endpoint.connect} (outgoing) or the endpoint's `'connection'` event (incoming).
 *
 * ```ts
 * import { once } from 'node:events';
 * import { createEndpoint } from 'reliable-dgram';
 *
 * const client = await createEndpoint();
 * const conn = await client.connect({ port: 7777, host: '127.0.0.1' });
 * conn.on('error', (err) => console.error('connection failed:', err.code));
 * for (const chunk of chunks) {
 *   if (!conn.send(chunk)) await once(conn, 'drain'); // back-pressure
 * }
 * for await (const reply of conn) console.log(reply.toString()); // until the peer ends
 * await conn.close({ timeout: 5000 }); // graceful, bounded: destroy() after 5 s
 * ```
 *
 * Events ({@link ConnectionEvents}):
 *
 * | Event | Arguments | When |
 * | --- | --- | --- |
 * | `'message'` | `data: Buffer` | A message arrived (while no async iterator is active). |
 * | `'drain'` | | The send queue is below `highWaterMark` again after `send()` returned false. |
 * | `'end'` | | The peer finished sending: no more messages will arrive. |
 * | `'error'` | `err` | The connection failed (peer reset, idle timeout, protocol violation) or `destroy(err)`. `'close'` follows. |
 * | `'close'` | `err?` | The connection is over; `err` is absent after a graceful close. |
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
  static {
    // A 'message' listener added by any route (on, once, prependListener, events.on/once) gets
    // the messages that queued while nobody listened: Node's once() and prependOnceListener()
    // go through on() and prependListener(). The hot path asks `hasMessageListener`, kept here,
    // instead of listenerCount('message') for every message (2.5x the instructions of
    // eventemitter3's; bench/micro/emit.mjs).
    const proto = Connection.prototype as unknown as Record<string, unknown>;
    type Method = (this: Connection, ...args: unknown[]) => Connection;
    const base = EventEmitter.prototype as unknown as Record<string, Method>;
    const recount = (conn: Connection): void => {
      conn.hasMessageListener = EventEmitter.prototype.listenerCount.call(conn, 'message') > 0;
    };
    for (const name of ['on', 'addListener', 'prependListener']) {
      const add = base[name]!;
      proto[name] = function (this: Connection, event: unknown, fn: unknown): Connection {
        add.call(this, event, fn);
        if (event === 'message') {
          this.hasMessageListener = true;
          scheduleDelivery(this);
        }
        return this;
      };
    }
    for (const name of ['removeListener', 'off']) {
      const remove = base[name]!;
      proto[name] = function (this: Connection, event: unknown, fn: unknown): Connection {
        remove.call(this, event, fn);
        if (event === 'message') recount(this);
        return this;
      };
    }
    const removeAll = base['removeAllListeners']!;
    proto['removeAllListeners'] = function (this: Connection, ...args: unknown[]): Connection {
      removeAll.apply(this, args);
      recount(this);
      return this;
    };
  }

  /**
   * The connection's yes/no state, one bit each (the `Flag` constants), read and written through
   * the accessors below under the names the boolean fields had: one small integer instead of six
   * fields of 8 bytes (idle connections, issue 11). The per-message paths (send, a message
   * taken, a credit given back) read the bits here, not through the accessors: each accessor is
   * two more calls that TurboFan inlines, and compiles again, into every function it serves.
   * @internal
   */
  flags = 0;
  /**
   * Messages waiting for the application; null until one must wait (while a 'message' listener
   * takes each message as it comes, none does: idle connections stay small, issue 11).
   */
  /** @internal */
  inbox: Inbox | null = null;
  /**
   * What iterators, receipts and flush()/close() calls wait with (null until the first of them:
   * idle connections stay small, issue 11; never dropped once made). Null reads as "nothing waits".
   */
  /** @internal */
  waits: Waits | null = null;
  /** @internal Largest message refused with ERR_SEND_QUEUE_FULL since the last 'drain' (0: none). */
  refusedBytes = 0;
  /**
   * How the connection ended, once it has (undefined: gracefully); before that, the error given
   * to `destroy(err)`, or by the endpoint when it goes away, which `finish` makes the close error.
   */
  /** @internal */
  closeError: Error | undefined;

  /** @internal Created by the Endpoint. */
  constructor(
    /** @internal */
    readonly host: ConnectionHost,
    /** @internal */
    readonly record: EndpointConnection,
  ) {
    super();
    (this as unknown as { _events: object })._events = new ListenerTable();
    // Created on first use: mutable from the start, so that the first one deoptimises nothing
    // that reads them (src/core/mutable-fields.ts).
    unpinFields(this, ['inbox', 'waits']);
    if (EventEmitter.captureRejections) this.flags |= Flag.CaptureRejections;
  }

  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }
  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }
  /** @internal True while a 'message' listener is attached (kept by the listener methods above). */
  get hasMessageListener(): boolean {
    return this.flag(Flag.MessageListener);
  }
  /** @internal */
  set hasMessageListener(v: boolean) {
    this.setFlag(Flag.MessageListener, v);
  }
  /** @internal */
  get needDrain(): boolean {
    return this.flag(Flag.NeedDrain);
  }
  /** @internal */
  set needDrain(v: boolean) {
    this.setFlag(Flag.NeedDrain, v);
  }
  /** @internal */
  get peerEnded(): boolean {
    return this.flag(Flag.PeerEnded);
  }
  /** @internal */
  set peerEnded(v: boolean) {
    this.setFlag(Flag.PeerEnded, v);
  }
  /** @internal */
  get deliveryScheduled(): boolean {
    return this.flag(Flag.DeliveryScheduled);
  }
  /** @internal */
  set deliveryScheduled(v: boolean) {
    this.setFlag(Flag.DeliveryScheduled, v);
  }
  /** @internal Set once the engine reported `closed`. */
  get finished(): boolean {
    return this.flag(Flag.Finished);
  }
  /** @internal */
  set finished(v: boolean) {
    this.setFlag(Flag.Finished, v);
  }
  /** @internal */
  get destroyed(): boolean {
    return this.flag(Flag.Destroyed);
  }
  /** @internal */
  set destroyed(v: boolean) {
    this.setFlag(Flag.Destroyed, v);
  }

  /** @internal */
  ensureWaits(): Waits {
    return (this.waits ??= new Waits());
  }

  private ensureInbox(): Inbox {
    return (this.inbox ??= new Inbox(this.host.maxQueuedUnreliable, this.host.maxQueuedUnreliableBytes, this));
  }

  /** @internal InboxOwner: an unread unreliable message was dropped; its credit goes back to the engine. */
  inboxDropped(item: InboxItem): void {
    if (!this.finished) this.record.core.release(item.credit, 'unreliable');
  }

  /** The peer's IP address (as the socket reported it, e.g. `'127.0.0.1'` or `'::1'`). */
  get remoteAddress(): string {
    return this.record.address;
  }

  /** The peer's UDP port. */
  get remotePort(): number {
    return this.record.port;
  }

  /** `'IPv4'` or `'IPv6'`, as `net.Socket.remoteFamily`. */
  get remoteFamily(): 'IPv4' | 'IPv6' {
    return isIPv6(this.record.address) ? 'IPv6' : 'IPv4';
  }

  /** The local IP address of the endpoint's socket (the bound address, e.g. `'0.0.0.0'`). */
  get localAddress(): string {
    return this.host.address().address;
  }

  /** The local UDP port of the endpoint's socket (shared by all its connections). */
  get localPort(): number {
    return this.host.address().port;
  }

  /** True when every packet of this connection is encrypted and authenticated (README "Encryption"). */
  get encrypted(): boolean {
    return this.record.encrypted;
  }

  /** The peer's static public key, authenticated by the handshake; null if it has none (or plaintext). */
  get remotePublicKey(): Buffer | null {
    const key = this.record.remotePublicKey;
    return key ? Buffer.from(key) : null;
  }

  /** Bytes queued but not yet sent once. */
  get bufferedAmount(): number {
    return this.finished ? 0 : this.record.core.bufferedAmount;
  }

  /** 'open', 'closing', 'draining' or 'closed'. */
  get state(): 'open' | 'closing' | 'draining' | 'closed' {
    return this.finished ? 'closed' : this.record.core.state;
  }

  /** True once the connection is over (`'close'` was emitted). */
  get closed(): boolean {
    return this.finished;
  }

  /**
   * Queue a message. Returns false when `highWaterMark` bytes or more now wait to be sent (wait
   * for 'drain'). Throws ERR_SEND_QUEUE_FULL past `maxQueuedBytes`, ERR_MESSAGE_TOO_LARGE past
   * `maxMessageSize`, ERR_CONNECTION_CLOSED once closing. The buffer must not be modified after.
   */
  send(data: Uint8Array | string, options?: SendOptions): boolean {
    if (stageTrace !== null) stageTrace.mark(Stage.AppSend);
    return queue(this, data, options, 0);
  }

  /**
   * Send a message and wait for the peer's acknowledgement of all of it: resolves once the peer
   * holds the message (it may still be waiting for an earlier message of its channel before the
   * peer's application sees it). An unreliable message rejects with ERR_MESSAGE_DROPPED when it
   * expired unsent (`maxAge`) or a packet carrying it was declared lost; any message rejects with
   * the close error if the connection ends first. Backpressure as `send()` (a full queue throws).
   */
  sendAcked(data: Uint8Array | string, options?: SendOptions): Promise<void> {
    const waits = this.ensureWaits();
    const receipt = waits.nextReceipt;
    waits.nextReceipt = receipt === 0x7fff_ffff ? 1 : receipt + 1;
    try {
      queue(this, data, options, receipt);
    } catch (err) {
      return Promise.reject(err);
    }
    const receipts = (waits.receipts ??= new Map());
    return new Promise<void>((resolve, reject) => receipts.set(receipt, { resolve, reject }));
  }

  /**
   * Resolves once every reliable message sent before this call is acknowledged by the peer
   * (unreliable messages are not waited for: use `sendAcked()` for those). Rejects with the
   * close error if the connection ends first.
   */
  flush(): Promise<void> {
    if (this.finished) return this.closeError ? Promise.reject(this.closeError) : Promise.resolve();
    const core = this.record.core;
    const mark = core.flushMark();
    if (core.ackedThrough >= mark) return Promise.resolve();
    const waiters = (this.ensureWaits().flushWaiters ??= []);
    return new Promise<void>((resolve, reject) => waiters.push({ mark, resolve, reject }));
  }

  /**
   * Set how this side sends on a channel: `priority` (integer 0–255, lower first: a level is
   * served only while every level before it has nothing to send), `weight` (integer
   * 1–65535: channels of one priority share the link in proportion) and `redundancy` (integer
   * 0–3: each reliable message of at most 512 bytes goes that many more times, in the next
   * packets, so that a lost packet costs it no retransmission delay; the receiver drops the
   * copies, counted in its `duplicatesDropped`, and this side counts them in
   * `stats().bytesRedundant`). Defaults: 0, 1 and 0. Options left out keep their value.
   *
   * ```ts
   * conn.setChannel(1, { priority: 1 });     // bulk: only while channel 0 is idle
   * conn.setChannel(0, { redundancy: 1 });   // small urgent messages: sent twice
   * ```
   */
  setChannel(channel: number, options: ChannelOptions): this {
    checkChannelOptions(options);
    this.record.core.setChannel(channel, options);
    return this;
  }

  /**
   * Graceful close: no new messages; everything queued is still sent and retransmitted until
   * acknowledged, then both sides exchange CLOSE. Resolves once that is done (messages the peer
   * still sends meanwhile are delivered). Rejects with the connection's error if it fails first.
   *
   * A close waits for the peer: with a vanished peer it lasts until `idleTimeout`. Bound it with
   * `timeout` (ms) or `signal`: when either fires first the connection is destroyed (the peer
   * gets a RESET) and the promise rejects with ERR_CLOSE_TIMEOUT or an AbortError.
   *
   * ```ts
   * await conn.close({ timeout: 2000 });
   * await conn.close({ signal: AbortSignal.timeout(2000) }); // rejects with an AbortError
   * ```
   */
  close(options?: CloseOptions): Promise<void> {
    return closeGracefully(this, options);
  }

  /**
   * End sending, as `net.Socket.end()`: send `data` (if given) as a last message, then close this
   * side without waiting. Returns `this`. Everything queued is still sent and retransmitted, then
   * a CLOSE (docs/protocol.md §18.1); receiving goes on until the peer's CLOSE (`'end'` here),
   * and `'close'` follows once both CLOSEs are acknowledged. Failures are reported by
   * `'error'`/`'close'` (it is `close()` without the promise).
   *
   * What the peer may still send depends on the peer's `allowHalfOpen` option:
   * - `false` (the default): the peer emits `'end'` and closes too. What it had queued still
   *   reaches us; from its `'end'` on its `send()` throws ERR_CONNECTION_CLOSED.
   * - `true`: the connection is half-open. The peer emits `'end'` and may go on sending (a
   *   reply to a request, say) until it calls `end()` or `close()` itself.
   *
   * ```ts
   * // client: send a request, then signal there is no more
   * conn.end(request);
   * for await (const part of conn) handle(part); // the reply, until the server ends
   * // server, with createEndpoint({ allowHalfOpen: true }):
   * conn.on('end', () => conn.end(reply));
   * ```
   *
   * On a connection already closing or closed it does nothing (`data` then throws
   * ERR_CONNECTION_CLOSED).
   */
  end(data?: Uint8Array | string, options?: SendOptions): this {
    if (data !== undefined) this.send(data, options);
    if (this.finished || this.destroyed || this.record.core.state !== 'open') return this;
    this.record.core.close(this.host.now());
    this.host.scheduleFlush(this.record);
    return this;
  }

  /**
   * Abort now: one RESET goes to the peer (which sees ERR_CONNECTION_RESET) and the connection
   * is closed at once; nothing queued is delivered. `err`, if given, is emitted with
   * `'error'` and `'close'` on this side (as `net.Socket.destroy(err)`) and is never sent: the
   * peer gets the RESET code ABORT and, only if given, `options.reason`.
   */
  destroy(err?: Error, options?: DestroyOptions): void {
    destroyNow(this, err, options);
  }

  /** `await using conn = await endpoint.connect(...)`: a graceful `close()` at the end of the scope (nothing if already closed). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.finished) return;
    await this.close();
  }

  /**
   * This connection's counters. Each side counts what it sent and received, so a loss on the
   * path towards this side shows in the peer's `packetsLost` and here as `duplicatesDropped`
   * (the peer's retransmissions of packets that did arrive). `lossRate` and
   * `retransmissionRate` are the two figures to read first.
   */
  stats(): ConnectionStatsWithAddress {
    const core = this.record.core.stats(this.host.now());
    return {
      ...core,
      unreliableDropped: core.unreliableDropped + (this.inbox?.dropped ?? 0),
      remoteAddress: this.record.address,
      remotePort: this.record.port,
      ...connectionRates(core),
      bufferedAmount: this.bufferedAmount,
      queuedMessages: this.inbox?.length ?? 0,
      unreliableQueueDropped: this.inbox?.dropped ?? 0,
    };
  }

  /** Iterate over received messages; ends when the peer closes; throws the error of a failed connection. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this.messages();
  }

  /**
   * Iterate over received messages, like `for await (const msg of conn)`, with an AbortSignal:
   * aborting rejects the pending `next()` with an AbortError and ends the iteration. With
   * `channel`, only that channel's messages (the other consumers then no longer see them);
   * several iterators of one channel share its messages.
   */
  messages(options?: { signal?: AbortSignal; channel?: number }): AsyncIterableIterator<Buffer> {
    return iterate(this, options);
  }

  // ---------------------------------------------------------------- engine events (internal)

  /**
   * @internal A message here, every other event in handleOtherEvent: V8 marks a function for
   * TurboFan after 3 + bytecode length / 150 of its own ticks, so the per-message part alone is
   * compiled thousands of trips sooner than with the rare cases beside it (bench/tierup.ts, issue 11).
   */
  handleCoreEvent(event: CoreEvent): void {
    if (event.type !== 'message') return this.handleOtherEvent(event);
    if (stageTrace !== null) stageTrace.mark(Stage.Event);
    // A payload read from a dgram datagram is a view of its Buffer, so a Buffer already:
    // wrapped only when it is not (reassembled, decrypted, from a test socket).
    const d = event.data;
    const data = isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    const unreliable = event.delivery === 'unreliable';
    const info = infoFor(event.delivery, event.channel);
    if (takesAtOnce(this, unreliable)) {
      // What deliver() would do with it as the only queued message, without queueing it.
      giveBackCredit(this, event.credit, unreliable, event.channel);
      // emit('message', data, info), but one plain listener (what `on` and `once` store) is
      // called here as emit would call it, without emit's rest-parameter array (~64 B) and
      // Reflect.apply per message (issue 11). Several listeners, or captureRejections (emit then
      // watches the promise a listener returns), go through emit. Inline rather than a method:
      // a small function of its own is one more TurboFan job in the first window (bench/tierup.ts).
      const listener = (this as unknown as { _events: { message?: unknown } })._events.message;
      if (typeof listener === 'function' && (this.flags & Flag.CaptureRejections) === 0) listener.call(this, data, info);
      else this.emit('message', data, info);
      return;
    }
    this.ensureInbox().push({ data, credit: event.credit, unreliable, info });
    deliver(this);
  }

  private handleOtherEvent(event: Exclude<CoreEvent, { type: 'message' }>): void {
    switch (event.type) {
      case 'receipt': {
        const receipts = this.waits?.receipts;
        const r = receipts?.get(event.receipt);
        if (r === undefined) return;
        receipts!.delete(event.receipt);
        if (event.ok) r.resolve();
        else r.reject(rdError('ERR_MESSAGE_DROPPED', 'the unreliable message was dropped (maxAge passed, or lost)'));
        return;
      }
      case 'acked': {
        const waiters = this.waits?.flushWaiters ?? null;
        if (waiters === null) return;
        const through = event.through;
        let kept = 0;
        for (const w of waiters) {
          if (w.mark <= through) w.resolve();
          else waiters[kept++] = w;
        }
        waiters.length = kept;
        if (kept > 0) this.record.core.watchAcked(Math.min(...waiters.map((w) => w.mark)));
        return;
      }
      case 'peer-closed':
        this.peerEnded = true;
        this.emit('end');
        wakeWaiters(this);
        return;
      case 'closed':
        finish(this, event.error);
        return;
      case 'path-mtu':
        this.emit('pathMtu', event.size, event.reason);
        return;
      case 'path-changed':
        this.emit('migrated', event.address, event.port);
        return;
    }
  }

}
