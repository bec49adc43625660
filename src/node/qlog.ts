import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { putText, qlogEventText } from '../core/qlog-tracer.js';
import type { QlogRecordSink, TraceDestination, TraceEvent, TraceSink, TraceTarget, TracedConnection } from '../core/trace.js';

/**
 * qlog output: one JSON-SEQ file (RFC 7464: each record is RS, JSON, LF) per connection, in the
 * qlog 0.3 shape that qvis (https://qvis.quictools.info) and the `reliable-dgram-trace` viewer
 * read: a header record (qlog_version, qlog_format, the trace's vantage point and common fields),
 * then one record per event, `{ time, name, data }`, with times relative to `reference_time`.
 *
 * The engine produces the events (src/core/trace.ts); this module only serialises and writes
 * them. Writes are buffered: records collect into a chunk that is handed to an fs stream when it
 * is full, when the connection closes, and at the latest 250 ms after the first record of a
 * chunk. Chunks are 16 KiB for a quiet connection and grow (×4 each time one fills before its
 * 250 ms) to 256 KiB for a busy one: a bulk transfer costs few writes (each fs.write is a trip
 * to the thread pool, 0.2 ms of the event loop on a loaded machine), an idle one little memory.
 * The stream writes asynchronously, so the event loop never waits for the disk; if
 * the disk falls behind by more than `maxBufferedBytes`, records are dropped (and counted in a
 * final `reliable_dgram:trace_dropped` record) rather than letting memory grow without bound.
 */

const RS = '\x1e';
const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 256 * 1024;
const FLUSH_DELAY_MS = 250;
const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

export const QLOG_VERSION = '0.3';
export const QLOG_FORMAT = 'JSON-SEQ';

/** Connection IDs as qlog writes them: 16 hex digits. */
export function cidHex(cid: bigint): string {
  return cid.toString(16).padStart(16, '0');
}

/** The header record of a connection's qlog file (without the RS/LF framing). */
export function qlogHeader(info: TracedConnection, referenceTime: number, title = 'reliable-dgram'): Record<string, unknown> {
  return {
    qlog_version: QLOG_VERSION,
    qlog_format: QLOG_FORMAT,
    title,
    trace: {
      title: `${info.role} connection ${cidHex(info.localCid)}`,
      vantage_point: { type: info.role, name: 'reliable-dgram' },
      common_fields: {
        ODCID: cidHex(info.role === 'client' ? info.localCid : info.remoteCid),
        group_id: cidHex(info.localCid),
        protocol_type: ['RELIABLE_DGRAM'],
        reference_time: referenceTime,
        time_format: 'relative',
      },
      configuration: { peer_address: info.address, peer_port: info.port },
    },
  };
}

/** One JSON-SEQ record. */
export function qlogRecord(value: unknown): string {
  return RS + JSON.stringify(value) + '\n';
}

/** An event as a qlog record, its time relative to `origin` (the engine's `now` at creation). */
export function qlogEventRecord(event: TraceEvent, origin: number): string {
  return qlogEventText(event, origin);
}

/** Serialise a whole recorded trace (the test kit's dumps). */
export function qlogText(info: TracedConnection, events: readonly TraceEvent[], referenceTime = 0): string {
  let out = qlogRecord(qlogHeader(info, referenceTime));
  for (const e of events) out += qlogEventRecord(e, info.now);
  return out;
}

/** File name of a connection's qlog file. */
export function qlogFileName(info: TracedConnection): string {
  return `${info.role}-${cidHex(info.localCid)}.sqlog`;
}

/**
 * The 256 KiB chunks of busy connections, reused once the stream has written them: no string
 * per record, no long string, no conversion when a chunk is written. At most {@link POOL_MAX}
 * wait here (2 MiB). Smaller chunks are allocated as needed (quiet connections need few).
 */
const pool: Buffer[] = [];
const POOL_MAX = 8;
/** A Buffer too, so that `buf` always holds the same kind of array (one shape for the JIT). */
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * One connection's buffered qlog file, a {@link QlogRecordSink}: the engine writes its records
 * into the file's chunk directly (src/core/qlog-tracer.ts: bytes, no event objects), or, when
 * the `trace` callback wants the event objects as well, hands it those (`event`). A full chunk,
 * or one 250 ms old, goes to the fs stream, which writes it asynchronously and then returns it
 * to the pool; between chunks an idle connection holds none.
 */
class QlogFile implements QlogRecordSink {
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** Size of the next chunk: grows while chunks fill up, shrinks when the timer flushes one. */
  private chunkSize = MIN_CHUNK;
  private timer: NodeJS.Timeout | null = null;
  private dropped = 0;
  /** Bytes handed to the stream and not yet written (its writableLength, kept here: open() runs per record). */
  private unwritten = 0;
  private ended = false;
  /** end() was called: finish() follows on the next turn. */
  private closing = false;
  private readonly stream: WriteStream;
  readonly done: Promise<void>;
  readonly origin: number;

  constructor(
    readonly path: string,
    private readonly info: TracedConnection,
    private readonly maxBuffered: number,
    onEnd: (file: QlogFile) => void,
  ) {
    this.origin = info.now;
    this.stream = createWriteStream(path);
    this.done = new Promise<void>((resolve) => {
      const finish = (): void => {
        onEnd(this);
        resolve();
      };
      this.stream.once('close', finish);
      // A write error (disk full, directory gone) ends the trace; the connection carries on.
      this.stream.once('error', () => {
        this.ended = true;
        this.buf = EMPTY;
        this.pos = 0;
        if (this.timer) clearTimeout(this.timer);
        finish();
      });
    });
    putText(this, qlogRecord(qlogHeader(info, Date.now())));
  }

  /** A record starts (QlogRecordSink): refused once ended, or while the disk is too far behind. */
  open(): boolean {
    if (this.ended) return false;
    if (this.unwritten > this.maxBuffered) {
      this.dropped++;
      return false;
    }
    return true;
  }

  /** Room for `n` more bytes (QlogRecordSink): the filled part goes to the stream, a fresh chunk comes. */
  reserve(n: number): void {
    // Called on a chunk in use: it is full before its timer, the connection is busy.
    if (this.buf !== EMPTY) this.chunkSize = Math.min(this.chunkSize * 4, MAX_CHUNK);
    this.flush();
    const size = Math.max(n, this.chunkSize);
    this.buf = size === MAX_CHUNK ? (pool.pop() ?? Buffer.allocUnsafe(MAX_CHUNK)) : Buffer.allocUnsafe(size);
    this.pos = 0;
    if (this.timer === null) {
      this.timer = setTimeout(this.onTimer, FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** One event object (the path taken when the `trace` callback is set as well). */
  event(event: TraceEvent): void {
    if (this.open()) putText(this, qlogEventText(event, this.origin));
    if (event.name === 'connectivity:connection_state_updated' && event.data['new'] === 'closed') this.end(event.time);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    // 250 ms did not fill the chunk: a quieter connection, smaller chunks.
    this.chunkSize = Math.max(this.chunkSize / 4, MIN_CHUNK);
    this.flush();
  };

  /** Hand the filled part of the chunk to the stream; the chunk returns to the pool once written. */
  private flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const chunk = this.buf;
    const used = this.pos;
    this.buf = EMPTY;
    this.pos = 0;
    if (chunk === EMPTY) return;
    const pooled = chunk.length === MAX_CHUNK;
    if (used === 0) {
      if (pooled && pool.length < POOL_MAX) pool.push(chunk as Buffer);
      return;
    }
    this.unwritten += used;
    this.stream.write(chunk.subarray(0, used), () => {
      this.unwritten -= used;
      if (pooled && pool.length < POOL_MAX) pool.push(chunk as Buffer);
    });
  }

  /**
   * The connection closed (QlogRecordSink). The file is finished on the next turn of the event
   * loop, not at once: an aborted connection sends its RESET after it is 'closed', in the same
   * turn, and that packet belongs in the file.
   */
  end(time: number): void {
    if (this.ended || this.closing) return;
    this.closing = true;
    setImmediate(() => this.finish(time));
  }

  /** Finish the file now (the endpoint closes, or the connection closed a turn ago). */
  finish(time?: number): void {
    if (this.ended) return;
    if (this.dropped > 0) {
      const at = time === undefined ? 0 : time - this.info.now;
      putText(this, qlogRecord({ time: at, name: 'reliable_dgram:trace_dropped', data: { events: this.dropped } }));
    }
    this.flush();
    this.ended = true;
    this.stream.end();
  }
}

export interface QlogTargetOptions {
  /** Directory the files go to (it must exist; createEndpoint creates it). */
  dir: string;
  /** Also hand every event to this callback (the `trace` option). */
  trace?: ((event: TraceEvent, connection: TracedConnection | null) => void) | undefined;
  /** Bytes a file may fall behind the disk before its records are dropped. Default 16 MiB. */
  maxBufferedBytes?: number;
}

/**
 * A client connection's own qlog choice (`connect(..., { qlog })`): false, no file; true, a
 * file in the endpoint's `qlogDir`; a string, a file in that directory.
 */
export type QlogChoice = boolean | string;

/**
 * The endpoint's trace target for `qlogDir`, `qlogFilter`, connect()'s `qlog` and `trace`: a
 * file per connection chosen, the user's callback, or both. `end()` finishes every open file
 * and resolves when they are on disk.
 */
export class TraceOutput implements TraceTarget {
  private readonly files = new Set<QlogFile>();
  /** Choices of connect() attempts not yet connected, by attempt id (= the connection's id). */
  private readonly choices = new Map<number, QlogChoice>();
  readonly endpoint: TraceSink | null;

  constructor(
    private readonly dir: string | undefined,
    private readonly callback: ((event: TraceEvent, connection: TracedConnection | null) => void) | undefined,
    private readonly maxBuffered = DEFAULT_MAX_BUFFERED,
    private readonly filter?: ((connection: TracedConnection) => boolean) | undefined,
  ) {
    const cb = callback;
    this.endpoint = cb
      ? (event) => {
          try {
            cb(event, null);
          } catch {
            // The user's callback must not break the endpoint.
          }
        }
      : null;
  }

  /** The qlog choice of connect() attempt `attempt`, applied when it connects. */
  choose(attempt: number, choice: QlogChoice): void {
    this.choices.set(attempt, choice);
  }

  /** The attempt failed or was abandoned. */
  forget(attempt: number): void {
    this.choices.delete(attempt);
  }

  /** The directory `info`'s qlog file goes to, or undefined for none. */
  private dirFor(info: TracedConnection): string | undefined {
    if (info.role === 'client') {
      const choice = this.choices.get(info.id);
      if (choice !== undefined) {
        this.choices.delete(info.id);
        return choice === false ? undefined : choice === true ? this.dir : choice;
      }
    }
    if (this.dir === undefined || this.filter === undefined) return this.dir;
    try {
      return this.filter(info) === true ? this.dir : undefined;
    } catch {
      return undefined; // a filter that throws traces nothing, and breaks nothing
    }
  }

  connection(info: TracedConnection): TraceDestination | null {
    const cb = this.callback;
    const dir = this.dirFor(info);
    let file: QlogFile | null = null;
    if (dir !== undefined) {
      file = new QlogFile(join(dir, qlogFileName(info)), info, this.maxBuffered, (f) => this.files.delete(f));
      this.files.add(file);
    }
    // qlog only: the engine writes bytes into the file, no event objects are built.
    if (cb === undefined) return file;
    const user: TraceSink = (event) => {
      try {
        cb(event, info);
      } catch {
        // The user's callback must not break the engine.
      }
    };
    if (file === null) return user;
    const f = file;
    return (event) => {
      user(event);
      f.event(event);
    };
  }

  /** Paths of the qlog files still being written. */
  get openFiles(): string[] {
    return [...this.files].map((f) => f.path);
  }

  /** Finish every file; resolves once all of them are closed (at once when there are none). */
  end(): Promise<void> {
    if (this.files.size === 0) return Promise.resolve();
    const pending = [...this.files];
    for (const f of pending) f.finish();
    return Promise.all(pending.map((f) => f.done)).then(() => undefined);
  }
}
