/**
 * A connection's received messages on their way to the application: taken at once by a
 * 'message' listener when nothing waits before them (`takesAtOnce`), otherwise queued in the
 * inbox and handed to the async iterators (of all channels, or of one) or to the listeners
 * (`deliver`, now or on a microtask), each one's receive credit given back to the engine as it is
 * taken. And the iterators themselves (`iterate`: `Connection.messages()`), woken or ended when
 * no more can come.
 */
import { AbortError } from '../errors.js';
import type { Waiter } from './connection-waits.js';
import { checkMessagesOptions } from './connection-options.js';
import { Flag, type ConnectionShellParts } from './connection-parts.js';
import type { InboxItem } from './inbox.js';

/**
 * Nothing waits before a new message and a 'message' listener takes it now (no iterator): it
 * needs no inbox item. (With `maxQueuedUnreliable` 0 an unreliable one goes to the inbox, which
 * drops it.)
 */
export function takesAtOnce(conn: ConnectionShellParts, unreliable: boolean): boolean {
  return (
    (conn.flags & Flag.MessageListener) !== 0 &&
    (conn.waits === null || (conn.waits.iterating === 0 && conn.waits.channelIterating === null)) &&
    (conn.inbox === null || conn.inbox.length === 0) &&
    !(unreliable && conn.host.maxQueuedUnreliable === 0)
  );
}

/** Hand queued messages to an iterator or to 'message' listeners. */
export function deliver(conn: ConnectionShellParts): void {
  const inbox = conn.inbox;
  if (inbox === null || inbox.length === 0) return;
  const waits = conn.waits;
  if (waits !== null && waits.channelWaiters !== null) {
    for (const [channel, waiters] of waits.channelWaiters) {
      while (waiters.length > 0) {
        const item = takeMessage(conn, (i) => i.info.channel === channel);
        if (!item) break;
        waiters.shift()!.resolve({ value: item.data, done: false });
      }
    }
  }
  while (inbox.length > 0) {
    // Read again each time: a 'message' listener may start an iterator (and make `waits`).
    const w = conn.waits;
    if (w !== null && w.iterating > 0) {
      const waiters = w.waiters;
      if (waiters === null || waiters.length === 0) return;
      const item = takeMessage(conn, null);
      if (!item) return;
      waiters.shift()!.resolve({ value: item.data, done: false });
    } else if (conn.hasMessageListener) {
      const item = takeMessage(conn, null);
      if (!item) return;
      conn.emit('message', item.data, item.info);
    } else {
      return;
    }
  }
}

export function scheduleDelivery(conn: ConnectionShellParts): void {
  if (conn.deliveryScheduled) return;
  conn.deliveryScheduled = true;
  queueMicrotask(() => {
    conn.deliveryScheduled = false;
    deliver(conn);
    wakeWaiters(conn);
  });
}

/**
 * Take the next message `match` accepts (null: one no channel iterator claims) and give its
 * credit back to the engine (the peer may send more).
 */
function takeMessage(conn: ConnectionShellParts, match: ((item: InboxItem) => boolean) | null): InboxItem | undefined {
  const inbox = conn.inbox;
  if (inbox === null) return undefined;
  const item = (conn.waits?.channelIterating ?? null) === null ? inbox.shift() : inbox.take(match ?? ensureUnclaimed(conn));
  if (!item) return undefined;
  giveBackCredit(conn, item.credit, item.unreliable, item.info.channel);
  return item;
}

/** A message was taken: its receive credit goes back to the engine (the peer may send more). */
export function giveBackCredit(conn: ConnectionShellParts, credit: number, unreliable: boolean, channel: number): void {
  if (credit > 0 && (conn.flags & Flag.Finished) === 0) {
    conn.record.core.release(credit, unreliable ? 'unreliable' : 'ordered', channel);
    conn.host.scheduleFlush(conn.record);
  }
}

/** true: iteration ends normally; an Error: it ends with that error; null: more may come. */
function endOfMessages(conn: ConnectionShellParts, match: ((item: InboxItem) => boolean) | null): true | Error | null {
  const inbox = conn.inbox;
  if (inbox !== null && ((conn.waits?.channelIterating ?? null) === null ? inbox.length > 0 : inbox.has(match ?? ensureUnclaimed(conn)))) return null;
  if (conn.finished) return conn.closeError && !conn.destroyed ? conn.closeError : true;
  if (conn.peerEnded) return true;
  return null;
}

/** Wake the iterators: hand them what waits, or end them once no more can come. */
export function wakeWaiters(conn: ConnectionShellParts): void {
  deliver(conn);
  const end = (match: ((item: InboxItem) => boolean) | null, waiters: Waiter[]): void => {
    const e = endOfMessages(conn, match);
    if (!e) return;
    for (const w of waiters.splice(0)) {
      if (e === true) w.resolve({ value: undefined, done: true });
      else w.reject(e);
    }
  };
  const waits = conn.waits;
  if (waits === null) return;
  if (waits.waiters !== null) end(null, waits.waiters);
  if (waits.channelWaiters !== null) {
    for (const [channel, waiters] of waits.channelWaiters) end((i) => i.info.channel === channel, waiters);
  }
}

function ensureUnclaimed(conn: ConnectionShellParts): (item: InboxItem) => boolean {
  return (conn.ensureWaits().unclaimedMatch ??= (item: InboxItem): boolean => conn.waits?.channelIterating?.has(item.info.channel) !== true);
}

/** `Connection.messages()`: an async iterator over the received messages, of one channel or of all. */
export function iterate(conn: ConnectionShellParts, options: { signal?: AbortSignal; channel?: number } | undefined): AsyncIterableIterator<Buffer> {
  const { signal, channel } = checkMessagesOptions(options);
  // Never dropped once made: `finish` below may keep it.
  const waits = conn.ensureWaits();
  let waiters: Waiter[];
  if (channel === undefined) {
    waits.iterating++;
    waiters = waits.waiters ??= [];
  } else {
    const iterating = (waits.channelIterating ??= new Map());
    const channelWaiters = (waits.channelWaiters ??= new Map());
    iterating.set(channel, (iterating.get(channel) ?? 0) + 1);
    waiters = channelWaiters.get(channel) ?? [];
    channelWaiters.set(channel, waiters);
  }
  // null: the general consumers' messages (takeMessage).
  const match = channel === undefined ? null : (item: InboxItem): boolean => item.info.channel === channel;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    if (channel === undefined) waits.iterating--;
    else {
      const iterating = waits.channelIterating!;
      const n = iterating.get(channel)! - 1;
      if (n === 0) {
        iterating.delete(channel);
        waits.channelWaiters!.delete(channel);
        if (iterating.size === 0) {
          waits.channelIterating = null;
          waits.channelWaiters = null;
        }
      } else iterating.set(channel, n);
    }
    signal?.removeEventListener('abort', onAbort);
    // Someone may be listening with 'message' now.
    scheduleDelivery(conn);
  };
  const onAbort = (): void => {
    const err = new AbortError(undefined, { cause: signal?.reason });
    finish();
    for (const w of waiters.splice(0)) w.reject(err);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const iterator: AsyncIterableIterator<Buffer> = {
    next: (): Promise<IteratorResult<Buffer>> => {
      if (done) return Promise.resolve({ value: undefined, done: true });
      if (signal?.aborted) {
        finish();
        return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
      }
      const item = takeMessage(conn, match);
      if (item) return Promise.resolve({ value: item.data, done: false });
      const end = endOfMessages(conn, match);
      if (end) {
        finish();
        return end === true ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(end);
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
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