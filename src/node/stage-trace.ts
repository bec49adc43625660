/**
 * Benchmark instrumentation: timestamps of each datagram's way through the shell (bench/stages.ts
 * turns them into the per-stage breakdown of a round trip in docs/performance.md).
 *
 * Off unless a benchmark calls {@link enableStageTrace}: every call site is
 * `if (stageTrace !== null) stageTrace.mark(...)`, one load and compare of a module variable that
 * stays null in production, so tracing costs nothing when off. When on, marks go into
 * preallocated typed arrays (no allocation per mark), so tracing does not add the garbage it is
 * meant to expose.
 */

/** The points one datagram passes, in order, on its way in and out. */
export const Stage = {
  /** The socket's 'message' listener was entered (the datagram reached JavaScript). */
  Message: 1,
  /** The engine returned from handling the datagram (routing, CRC, decode, ACK processing). */
  Decoded: 2,
  /** A received message is handed to the application ('message' emit / iterator). */
  Event: 3,
  /** The application called `send()`. */
  AppSend: 4,
  /** The engine returned a datagram to send (`pollTransmit`). Value: its size in bytes. */
  Built: 5,
  /** `socket.send()` returned. */
  Sent: 6,
  /** The socket's send callback ran. */
  SendCallback: 7,
  /** A flush ran from a microtask (work queued by send/release outside a flush). */
  MicrotaskFlush: 8,
  /** The endpoint's timer fired. Value: how late it fired, in µs. */
  Timer: 9,
  /** A flush ran from a setImmediate (after a batch of datagrams). */
  ImmediateFlush: 10,
  /** A flush finished (its timer re-armed): the endpoint is done with what triggered it. */
  FlushDone: 11,
} as const;

export const STAGE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Stage).map(([k, v]) => [v, k]));

export class StageRecorder {
  readonly stages: Uint8Array;
  readonly times: Float64Array;
  readonly values: Float64Array;
  length = 0;
  /** Converts performance.now() to the system's monotonic clock, shared by every process. */
  private readonly offset: number;

  constructor(capacity: number) {
    this.stages = new Uint8Array(capacity);
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  }

  /** Record `stage` now (milliseconds on the monotonic clock). Drops marks once full. */
  mark(stage: number, value = 0): void {
    const i = this.length;
    if (i >= this.stages.length) return;
    this.stages[i] = stage;
    this.times[i] = performance.now() + this.offset;
    this.values[i] = value;
    this.length = i + 1;
  }

  /** The marks so far as plain arrays (for IPC/JSON), and forget them. */
  drain(): { stages: number[]; times: number[]; values: number[] } {
    const n = this.length;
    const out = {
      stages: Array.from(this.stages.subarray(0, n)),
      times: Array.from(this.times.subarray(0, n)),
      values: Array.from(this.values.subarray(0, n)),
    };
    this.length = 0;
    return out;
  }

  /** Milliseconds on the same clock as the marks. */
  now(): number {
    return performance.now() + this.offset;
  }
}

/** The active recorder, or null (the default: tracing off). */
export let stageTrace: StageRecorder | null = null;

/** Turn tracing on for this process (benchmarks only). */
export function enableStageTrace(capacity = 1 << 21): StageRecorder {
  stageTrace = new StageRecorder(capacity);
  return stageTrace;
}

export function disableStageTrace(): void {
  stageTrace = null;
}
