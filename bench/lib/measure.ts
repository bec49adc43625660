/** Process-side measurements shared by every contender's child code. */
import { readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-ms precision, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** CPU time (user + system) in ms since `since` (a process.cpuUsage() snapshot). */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/**
 * Milliseconds this process's main thread has spent runnable but not running (waiting on a run
 * queue: the other core busy with the peer, the JIT's or GC's threads, or other load), from
 * /proc/self/task/<pid>/schedstat; NaN where that is not available (not Linux).
 */
export function mainThreadRunQueueMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return Number(fields[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/** Peak resident set size of this process so far, in bytes (ru_maxrss is in KiB on Linux). */
export function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Heap in use after a full collection (needs --expose-gc; falls back to an uncollected figure). */
export function settledHeapBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** Round-trip timer in microseconds from a process.hrtime.bigint() start. */
export function usSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

/**
 * Garbage collections of one process in a time window, by kind (PerformanceObserver 'gc' entries'
 * detail.kind: perf_hooks.constants.NODE_PERFORMANCE_GC_*), and their total duration. The kind
 * fields are absent in results saved before they were counted.
 */
export interface GcCounts {
  /** Every GC event. */
  count: number;
  /** Scavenges (minor GCs, kind 1). */
  scavenges: number;
  /** Mark-Compacts (major GCs, kind 4). */
  majors?: number;
  /** Incremental marking steps (kind 8). */
  incrementals?: number;
  /** Weak-callback processing (kind 16). */
  weakcbs?: number;
  /** Total duration of every GC event, ms. */
  ms: number;
  /** Of which scavenges, ms. */
  scavengeMs?: number;
  /** Of which Mark-Compacts, ms. */
  majorMs?: number;
}

/** perf_hooks.constants.NODE_PERFORMANCE_GC_*. */
const GC_MINOR = 1;
const GC_MAJOR = 4;
const GC_INCREMENTAL = 8;
const GC_WEAKCB = 16;

/** [wall-clock start ms, duration ms, kind] of every GC since startGcLog(). */
const gcLog: [number, number, number][] = [];
let gcObserver: PerformanceObserver | null = null;

/** Start recording this process's GCs (bench/child.ts does, before any role runs). */
export function startGcLog(): void {
  if (gcObserver) return;
  gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      gcLog.push([performance.timeOrigin + e.startTime, e.duration, kind]);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
}

/** Counts GC events ([wall-clock start ms, duration ms, kind]) that started within [from, to]. */
export function countGcs(log: readonly (readonly [number, number, number])[], from: number, to: number): Required<GcCounts> {
  const out: Required<GcCounts> = { count: 0, scavenges: 0, majors: 0, incrementals: 0, weakcbs: 0, ms: 0, scavengeMs: 0, majorMs: 0 };
  for (const [start, duration, kind] of log) {
    if (start < from || start > to) continue;
    out.count++;
    out.ms += duration;
    if (kind === GC_MINOR) {
      out.scavenges++;
      out.scavengeMs += duration;
    } else if (kind === GC_MAJOR) {
      out.majors++;
      out.majorMs += duration;
    } else if (kind === GC_INCREMENTAL) out.incrementals++;
    else if (kind === GC_WEAKCB) out.weakcbs++;
  }
  return out;
}

/** This process's GCs that started within [from, to] (wall-clock ms, as wallNow()). */
export function gcBetween(from: number, to: number): Required<GcCounts> {
  return countGcs(gcLog, from, to);
}

/** Entries are delivered asynchronously: let the observer catch up before reading the log. */
export function gcSettled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Where a transfer crossed half its bytes, and the CPU it spent from there to the end. */
export interface HalfFields {
  /** Wall-clock ms (as wallNow()) when the byte count first reached half the total. */
  halfAt?: number;
  /** Bytes done at that moment (≥ half: counts move in chunks). */
  halfBytes?: number;
  /** CPU ms (user + system) from that moment to when result() is called. */
  secondHalfCpuMs?: number;
}

/**
 * Marks the moment a transfer's byte count first reaches half of `total` (one process.cpuUsage()
 * and one wallNow(), once), so a contender can report its second half apart from the JIT warm-up
 * of the first. Call update(done) after every chunk; call result() at the moment cpuMs is taken.
 */
export class HalfMark {
  /** Infinity once marked, so update() is one comparison per chunk. */
  private threshold: number;
  private at = 0;
  private bytes = 0;
  private cpu: NodeJS.CpuUsage | null = null;

  constructor(total: number) {
    this.threshold = total / 2;
  }

  update(done: number): void {
    if (done < this.threshold) return;
    this.threshold = Number.POSITIVE_INFINITY;
    this.cpu = process.cpuUsage();
    this.at = wallNow();
    this.bytes = done;
  }

  /** The mark and the CPU since it; no fields when the half was never reached. */
  result(): HalfFields {
    if (this.cpu === null) return {};
    return { halfAt: this.at, halfBytes: this.bytes, secondHalfCpuMs: cpuMsSince(this.cpu) };
  }
}
