import { Duplex } from 'node:stream';
import { InvalidArgTypeError, InvalidArgValueError, rdError } from '../errors.js';
import { checkedChannel } from '../core/send-options.js';
import type { Connection } from './connection.js';

/** Options of {@link createStream}. */
export interface StreamOptions {
  /** The channel the stream owns, 0–255 (default 0): its messages go to the stream only. */
  channel?: number;
  /**
   * Largest message one write becomes (larger chunks are cut). Default 64 KiB; at most the
   * connection's `maxMessageSize`.
   */
  chunkSize?: number;
  /** The readable side's buffer, bytes (Node's `readableHighWaterMark`). Default 64 KiB. */
  readableHighWaterMark?: number;
  /** The writable side's buffer, bytes (Node's `writableHighWaterMark`). Default 64 KiB. */
  writableHighWaterMark?: number;
}

const DEFAULT_CHUNK = 64 * 1024;

/**
 * A `node:stream` Duplex of bytes over one channel of a connection (like ws's
 * `createWebSocketStream`). Every write is sent as ordered messages on the channel; `end()`
 * sends one empty message, which ends the peer's readable side (half-close: the other direction
 * stays open). Backpressure both ways: a write completes only once the connection's send queue
 * is below its `highWaterMark` ('drain'); the readable side takes messages from the connection
 * only while Node asks for data, and a message not taken keeps its receive credit, so a slow
 * reader slows the peer down through flow control. Memory stays bounded whatever the size of
 * the data piped through.
 *
 * Errors are not swallowed: a connection that fails destroys the stream with its error; one that
 * closes before the peer ended the stream destroys it with ERR_CONNECTION_CLOSED. Destroying the
 * stream does not close the connection (other channels may still be in use).
 *
 * The channel belongs to the stream: the connection's other consumers no longer see its
 * messages. Empty messages on it mean end-of-stream, so do not send any there yourself.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs';
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(createReadStream('big.iso'), createStream(conn, { channel: 1 }));
 * ```
 */
export function createStream(conn: Connection, options: StreamOptions = {}): Duplex {
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError('options must be an object');
  const channel = checkedChannel(options.channel ?? 0, 'options.channel');
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new InvalidArgValueError(`options.chunkSize must be a positive integer, got ${String(chunkSize)}`);
  }

  const abort = new AbortController();
  const messages = conn.messages({ channel, signal: abort.signal });
  let reading = false;
  let ended = false;

  const onClose = (err?: Error): void => {
    if (stream.destroyed) return;
    if (err) {
      stream.destroy(err);
      return;
    }
    // A graceful close: the peer's data all arrived (the close waits for every acknowledgement),
    // so the readable side ends as at end-of-stream, like TCP's FIN; a writable side still open
    // can no longer send.
    if (!ended) {
      ended = true;
      stream.push(null);
    }
    if (!stream.writableFinished) stream.destroy(rdError('ERR_CONNECTION_CLOSED', 'the connection closed before the stream ended'));
  };

  /** Send `data` from `offset` in messages of at most `chunkSize` bytes; `cb` once all are queued. */
  const send = (data: Uint8Array, offset: number, cb: (err?: Error | null) => void): void => {
    for (;;) {
      const end = Math.min(data.length, offset + chunkSize);
      let room: boolean;
      try {
        room = conn.send(data.subarray(offset, end), { channel });
      } catch (err) {
        cb(err as Error);
        return;
      }
      offset = end;
      if (offset >= data.length) {
        if (room) cb();
        else waitDrain(() => cb(), cb);
        return;
      }
      if (!room) {
        waitDrain(() => send(data, offset, cb), cb);
        return;
      }
    }
  };

  const waitDrain = (go: () => void, fail: (err: Error) => void): void => {
    const onDrain = (): void => {
      conn.off('close', onGone);
      go();
    };
    const onGone = (err?: Error): void => {
      conn.off('drain', onDrain);
      fail(err ?? rdError('ERR_CONNECTION_CLOSED', 'the connection closed before the data was sent'));
    };
    conn.once('drain', onDrain);
    conn.once('close', onGone);
  };

  const pull = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      for (;;) {
        const r = await messages.next();
        if (stream.destroyed) return;
        if (r.done) {
          // The connection ended without the peer's end-of-stream: onClose reports it.
          return;
        }
        if (r.value.length === 0) {
          ended = true;
          stream.push(null);
          return;
        }
        if (!stream.push(r.value)) return;
      }
    } catch (err) {
      if (!stream.destroyed && !abort.signal.aborted) stream.destroy(err as Error);
    } finally {
      reading = false;
    }
  };

  const stream = new Duplex({
    allowHalfOpen: true,
    readableHighWaterMark: options.readableHighWaterMark ?? 64 * 1024,
    writableHighWaterMark: options.writableHighWaterMark ?? 64 * 1024,
    read() {
      void pull();
    },
    write(chunk: Buffer, _encoding, cb) {
      if (chunk.length === 0) {
        cb(); // an empty message would end the peer's stream
        return;
      }
      send(chunk, 0, cb);
    },
    final(cb) {
      // 'finish' once the peer has acknowledged everything written, end-of-stream included.
      send(new Uint8Array(0), 0, (err) => {
        if (err) cb(err);
        else conn.flush().then(() => cb(), cb);
      });
    },
    destroy(err, cb) {
      conn.off('close', onClose);
      abort.abort();
      cb(err);
    },
  });
  conn.on('close', onClose);
  return stream;
}
