/**
 * A diagnostic preload for any Node process of a chat load run: records event-loop stalls (a 2 ms
 * interval timer that fired more than 6 ms late) and GC pauses, with their wall-clock times, so
 * that they can be laid beside the deliveries CHAT_LOAD_DUMP writes (bench/history.md, "Where
 * the chat's slow deliveries wait"). Writes STALL_PROBE_DIR (default: the OS temp dir)
 * /stall-<pid>.json at exit and every second (test workers may be killed without an exit event):
 *
 *   NODE_OPTIONS="--import ./examples/chat/scripts/stall-probe.mjs" CHAT_LOAD_INTERVAL_MS=200 \
 *     CHAT_LOAD_DUMP=/tmp/deliveries.json npx vitest run examples/chat/test/e2e/load.test.ts -t SQLite
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const file = join(process.env.STALL_PROBE_DIR ?? tmpdir(), `stall-${process.pid}.json`);
/** [wall ms when the stall began, its length ms] */
const stalls = [];
/** [wall ms, duration ms, kind] */
const gcs = [];
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > 6) stalls.push([performance.timeOrigin + last, now - last]);
  last = now;
}, 2).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([performance.timeOrigin + e.startTime, e.duration, GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind)]);
}).observe({ entryTypes: ['gc'] });

const write = () => writeFileSync(file, JSON.stringify({ pid: process.pid, argv: process.argv.slice(1, 3), stalls, gcs }));
setInterval(write, 1000).unref();
process.on('exit', write);
