/**
 * A connection's send queue, bounded: send() and sendAcked() queue a message with the engine
 * (`queue`: checked, refused when closing, too large or past `maxQueuedBytes`), return false
 * once `highWaterMark` bytes wait, and 'drain' follows when the endpoint's flush finds the queue
 * below it again, with room for a refused message (`checkDrain`).
 */
import { Buffer } from 'node:buffer';
import { InvalidArgTypeError, rdError } from '../errors.js';
import { messageTooLarge } from '../core/send-options.js';
import { checkSendOptions, type SendOptions } from './connection-options.js';
import { Flag, type ConnectionShellParts } from './connection-parts.js';

export function queue(conn: ConnectionShellParts, data: Uint8Array | string, options: SendOptions | undefined, receipt: number): boolean {
  // The refusals' messages are built out of line (messageTooLarge, refuseQueueFull, checkSendOptions): V8
  // marks a function for TurboFan after 3 + bytecode length / 150 of its own ticks, and this
  // one runs for every message (bench/tierup.ts, issue 11).
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgTypeError('data must be a Uint8Array, Buffer or string');
  if (options !== undefined) checkSendOptions(options);
  // The state bits read at once, not through the `finished` / `destroyed` accessors (connection.ts `flags`).
  const core = conn.record.core;
  if ((conn.flags & (Flag.Finished | Flag.Destroyed)) !== 0 || core.state !== 'open') {
    throw rdError('ERR_CONNECTION_CLOSED', 'the connection is closing or closed');
  }
  // Ours, or the peer's announced limit when that is smaller: refused here, not by a RESET.
  const maxMessageSize = core.maxMessageSize;
  if (bytes.length > maxMessageSize) throw messageTooLarge(bytes.length, maxMessageSize, conn.host.maxMessageSize);
  const queued = core.bufferedAmount;
  if (queued > 0 && queued + bytes.length > conn.host.maxQueuedBytes) throw refuseQueueFull(conn, queued, bytes.length);
  // A plain send(data) queues on channel 0, ordered; anything else is built out of line.
  if (options === undefined && receipt === 0) core.send(bytes, 'ordered');
  else sendWithOptions(conn, bytes, options, receipt);
  conn.host.scheduleFlush(conn.record);
  if (core.bufferedAmount >= conn.host.highWaterMark) {
    if ((conn.flags & Flag.NeedDrain) === 0) {
      conn.needDrain = true;
      conn.host.watchDrain(conn);
    }
    return false;
  }
  return true;
}

/** `queue` with options or a receipt: the engine's send with what they say (plain ordered channel 0 as send(data)). */
function sendWithOptions(conn: ConnectionShellParts, bytes: Uint8Array, options: SendOptions | undefined, receipt: number): void {
  const delivery = options?.delivery ?? 'ordered';
  const channel = options?.channel ?? 0;
  const maxAge = options?.maxAge;
  if (delivery === 'ordered' && channel === 0 && maxAge === undefined && receipt === 0) conn.record.core.send(bytes, delivery);
  else conn.record.core.send(bytes, { delivery, channel, receipt, ...(maxAge !== undefined ? { maxAge } : {}) }, conn.host.now());
}

/** Refuse a message for the queue's size: remember it and watch for 'drain', which follows once it would fit; the error to throw. */
function refuseQueueFull(conn: ConnectionShellParts, queued: number, length: number): Error {
  // maxMessageSize ≤ maxQueuedBytes, so an empty queue always has room for it.
  conn.refusedBytes = Math.max(conn.refusedBytes, length);
  if (!conn.needDrain) {
    conn.needDrain = true;
    conn.host.watchDrain(conn);
  }
  return rdError(
    'ERR_SEND_QUEUE_FULL',
    `send queue full: ${queued} bytes waiting, limit maxQueuedBytes ${conn.host.maxQueuedBytes}; wait for 'drain'`,
  );
}

/**
 * Called after the endpoint flushed: emit 'drain' once the queue is below the
 * high-water mark. Returns true while still waiting.
 */
export function checkDrain(conn: ConnectionShellParts): boolean {
  // After every flush of a bulk sender: the bits read at once, not through the accessors.
  const flags = conn.flags;
  if ((flags & Flag.NeedDrain) === 0) return false;
  if ((flags & Flag.Finished) !== 0) {
    conn.needDrain = false;
    return false;
  }
  const queued = conn.record.core.bufferedAmount;
  if (queued >= conn.host.highWaterMark) return true;
  if (conn.refusedBytes > 0 && queued > 0 && queued + conn.refusedBytes > conn.host.maxQueuedBytes) return true;
  conn.needDrain = false;
  conn.refusedBytes = 0;
  conn.emit('drain');
  return (conn.flags & Flag.NeedDrain) !== 0;
}
