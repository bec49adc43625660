import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent, TraceSink, TracedConnection } from '../core/trace.js';
import { qlogFileName, qlogText } from '../node/qlog.js';

/**
 * Records trace events in memory, per connection, and writes them out as qlog files (the same
 * JSON-SEQ the endpoint's `qlogDir` writes: qvis and `reliable-dgram-trace` read both).
 *
 * - For sans-IO engines (a `ConnectionCore` pair): `recorder.sink('client')` is a `trace` sink.
 * - For endpoints: pass `recorder.endpointTrace` as the `trace` option of `createEndpoint`.
 *
 * Everything runs on the caller's (virtual) clock, so a run replayed from its seed records the
 * same trace again: see {@link dumpTraceOnFailure}.
 */
export class TraceRecorder {
  /** Recorded traces, in the order their connections appeared. */
  readonly traces: { info: TracedConnection; events: TraceEvent[] }[] = [];
  private readonly byCid = new Map<bigint, TraceEvent[]>();
  private nextCid = 1n;

  /** A sink for one engine (the `trace` option of `ConnectionCore`); `info` names its file. */
  sink(role: 'client' | 'server', info: Partial<TracedConnection> = {}): TraceSink {
    const full: TracedConnection = {
      id: info.id ?? this.traces.length + 1,
      role,
      localCid: info.localCid ?? this.nextCid++,
      remoteCid: info.remoteCid ?? 0n,
      address: info.address ?? '',
      port: info.port ?? 0,
      now: info.now ?? 0,
    };
    const events: TraceEvent[] = [];
    this.traces.push({ info: full, events });
    return (event) => {
      events.push(event);
    };
  }

  /** The `trace` option of `createEndpoint`: records every connection of the endpoint. */
  readonly endpointTrace = (event: TraceEvent, connection: TracedConnection | null): void => {
    if (connection === null) return;
    let events = this.byCid.get(connection.localCid);
    if (events === undefined) {
      events = [];
      this.byCid.set(connection.localCid, events);
      this.traces.push({ info: connection, events });
    }
    events.push(event);
  };

  /** Events of every trace with this name. */
  count(name: string): number {
    let n = 0;
    for (const t of this.traces) for (const e of t.events) if (e.name === name) n++;
    return n;
  }

  /** Write one qlog file per trace into `dir` (created if missing), `prefix-` before each name. */
  dump(dir: string, prefix = ''): string[] {
    mkdirSync(dir, { recursive: true });
    return this.traces.map((t) => {
      const path = join(dir, (prefix ? `${prefix}-` : '') + qlogFileName(t.info));
      writeFileSync(path, qlogText(t.info, t.events, 0));
      return path;
    });
  }
}

/** Where {@link dumpTraceOnFailure} writes: `$RD_QLOG_DIR`, else `<tmpdir>/reliable-dgram-qlog`. */
export function qlogDumpDir(): string {
  return process.env['RD_QLOG_DIR'] ?? join(tmpdir(), 'reliable-dgram-qlog');
}

/**
 * Run `run(null)` (untraced: the engine costs what it costs in production). If it throws, run
 * it again with a {@link TraceRecorder} — a seeded, virtual-time run fails the same way again —
 * write the recorded qlog files to {@link qlogDumpDir} as `<name>-*.sqlog`, and rethrow the
 * error with their paths appended to its message. Works for sync and async runs.
 *
 * Inside a fast-check property, every failing shrink step overwrites the same files, so what is
 * left on disk is the trace of the smallest counterexample, the one fast-check reports.
 */
export function dumpTraceOnFailure<T>(name: string, run: (recorder: TraceRecorder | null) => T): T {
  const retry = (error: unknown): never => {
    const recorder = new TraceRecorder();
    let paths: string[] = [];
    const finish = (): never => {
      try {
        paths = recorder.dump(qlogDumpDir(), name);
      } catch {
        // Could not write the dump: report the original failure anyway.
      }
      if (error instanceof Error && paths.length > 0) error.message += `\nqlog of the failing run: ${paths.join(', ')}`;
      throw error;
    };
    try {
      const again = run(recorder) as unknown;
      if (isPromise(again)) {
        return again.then(finish, finish) as never;
      }
    } catch {
      // Expected: it fails again.
    }
    return finish();
  };
  try {
    const result = run(null);
    if (isPromise(result)) return result.catch(retry) as T;
    return result;
  } catch (error) {
    return retry(error);
  }
}

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
