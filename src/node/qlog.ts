import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { TraceEvent, TraceSink, TraceTarget, TracedConnection } from '../core/trace.js';

/**
 * qlog output: one JSON-SEQ file (RFC 7464: each record is RS, JSON, LF) per connection, in the
 * qlog 0.3 shape that qvis (https://qvis.quictools.info) and the `reliable-dgram-trace` viewer
 * read: a header record (qlog_version, qlog_format, the trace's vantage point and common fields),
 * then one record per event, `{ time, name, data }`, with times relative to `reference_time`.
 *
 * The engine produces the events (src/core/trace.ts); this module only serialises and writes
 * them. Writes are buffered: records collect into a chunk that is handed to an fs stream when it
 * reaches 64 KiB, when the connection closes, and at the latest 250 ms after the first record
 * of a chunk. The stream writes asynchronously, so the event loop never waits for the disk; if
 * the disk falls behind by more than `maxBufferedBytes`, records are dropped (and counted in a
 * final `reliable_dgram:trace_dropped` record) rather than letting memory grow without bound.
 */

const RS = '\x1e';
const CHUNK_BYTES = 64 * 1024;
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
  // Microsecond resolution is plenty and keeps the files small.
  const time = Math.round((event.time - origin) * 1000) / 1000;
  return RS + '{"time":' + time + ',"name":"' + event.name + '","data":' + JSON.stringify(event.data) + '}\n';
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

/** One connection's buffered qlog file. */
class QlogFile {
  private chunk = '';
  private timer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private ended = false;
  private readonly stream: WriteStream;
  readonly done: Promise<void>;
  readonly sink: TraceSink = (event) => this.write(event);

  constructor(
    readonly path: string,
    private readonly info: TracedConnection,
    private readonly maxBuffered: number,
    onEnd: (file: QlogFile) => void,
  ) {
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
        this.chunk = '';
        if (this.timer) clearTimeout(this.timer);
        finish();
      });
    });
    this.chunk = qlogRecord(qlogHeader(info, Date.now()));
  }

  private write(event: TraceEvent): void {
    if (this.ended) return;
    if (this.stream.writableLength > this.maxBuffered) {
      this.dropped++;
    } else {
      this.chunk += qlogEventRecord(event, this.info.now);
      if (this.chunk.length >= CHUNK_BYTES) this.flush();
      else if (this.timer === null) {
        this.timer = setTimeout(this.onTimer, FLUSH_DELAY_MS);
        this.timer.unref();
      }
    }
    if (event.name === 'connectivity:connection_state_updated' && event.data['new'] === 'closed') this.end(event.time);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  private flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.chunk.length === 0) return;
    this.stream.write(this.chunk);
    this.chunk = '';
  }

  /** Finish the file (the connection closed, or the endpoint did). */
  end(time?: number): void {
    if (this.ended) return;
    if (this.dropped > 0) {
      const at = time === undefined ? 0 : time - this.info.now;
      this.chunk += qlogRecord({ time: at, name: 'reliable_dgram:trace_dropped', data: { events: this.dropped } });
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
 * The endpoint's trace target for `qlogDir` and/or `trace`: a file per connection, the user's
 * callback, or both. `end()` finishes every open file and resolves when they are on disk.
 */
export class TraceOutput implements TraceTarget {
  private readonly files = new Set<QlogFile>();
  readonly endpoint: TraceSink | null;

  constructor(
    private readonly dir: string | undefined,
    private readonly callback: ((event: TraceEvent, connection: TracedConnection | null) => void) | undefined,
    private readonly maxBuffered = DEFAULT_MAX_BUFFERED,
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

  connection(info: TracedConnection): TraceSink | null {
    const cb = this.callback;
    let fileSink: TraceSink | null = null;
    if (this.dir !== undefined) {
      const file = new QlogFile(join(this.dir, qlogFileName(info)), info, this.maxBuffered, (f) => this.files.delete(f));
      this.files.add(file);
      fileSink = file.sink;
    }
    if (cb === undefined) return fileSink;
    const user: TraceSink = (event) => {
      try {
        cb(event, info);
      } catch {
        // The user's callback must not break the engine.
      }
    };
    if (fileSink === null) return user;
    const f = fileSink;
    return (event) => {
      user(event);
      f(event);
    };
  }

  /** Paths of the qlog files still being written. */
  get openFiles(): string[] {
    return [...this.files].map((f) => f.path);
  }

  /** Finish every file; resolves once all of them are closed. */
  end(): Promise<void> {
    const pending = [...this.files];
    for (const f of pending) f.end();
    return Promise.all(pending.map((f) => f.done)).then(() => undefined);
  }
}
