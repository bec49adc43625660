/** Process-side measurements shared by every contender's child code. */
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-ms precision, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** CPU time (user + system) in ms since `since` (a process.cpuUsage() snapshot). */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
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
