/**
 * What tracing costs the engine, in virtual time (no sockets, no disk): the same seeded 10 MiB
 * transfer (10 Mbit/s, 40 ms RTT, 1 % loss) run untraced, traced into a sink that discards the
 * events (the cost of building them), and traced into qlog JSON-SEQ text (building plus
 * serialising, what `qlogDir` does before the disk). CPU time of the whole simulated run
 * (both engines and the link model) per variant, median of `--runs` (default 5), and the ratio
 * to the untraced run; also the events and bytes of qlog per run.
 *
 *   node --import tsx bench/trace-overhead.ts [--runs 5] [--size 10]
 *
 * On a shared machine the times are noisy; the ratios are the figure to read.
 */
import type { TraceEvent, TraceSink } from '../src/core/trace.js';
import { qlogEventRecord } from '../src/node/qlog.js';
import { Pair } from '../test/helpers/pair.js';
import type { TraceRecorder } from '../src/testing/trace-recorder.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const runs = Number(flag('runs', '5'));
const bytes = Number(flag('size', '10')) * 1024 * 1024;

type Variant = 'off' | 'events' | 'qlog';

/** A stand-in recorder: Pair only calls `sink()`. */
function recorderWith(sink: TraceSink): TraceRecorder {
  return { sink: () => sink } as unknown as TraceRecorder;
}

function once(variant: Variant): { cpuMs: number; events: number; qlogBytes: number } {
  let events = 0;
  let qlogBytes = 0;
  const sink: TraceSink =
    variant === 'events'
      ? () => {
          events++;
        }
      : (e: TraceEvent) => {
          events++;
          qlogBytes += qlogEventRecord(e, 0).length;
        };
  const pair = new Pair({
    seed: 11,
    link: { delay: 20, rate: 10_000_000 / 8, queue: 50_000, loss: 0.01 },
    config: { idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
    trace: variant === 'off' ? null : recorderWith(sink),
  });
  pair.keepMessages = false;
  const chunk = new Uint8Array(64 * 1024);
  const start = process.cpuUsage();
  for (let left = bytes; left > 0; left -= chunk.length) pair.a.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
  pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes, 3_600_000);
  const used = process.cpuUsage(start);
  return { cpuMs: (used.user + used.system) / 1000, events, qlogBytes };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const variants: Variant[] = ['off', 'events', 'qlog'];
const cpu: Record<Variant, number[]> = { off: [], events: [], qlog: [] };
const info: Record<Variant, { events: number; qlogBytes: number }> = {
  off: { events: 0, qlogBytes: 0 },
  events: { events: 0, qlogBytes: 0 },
  qlog: { events: 0, qlogBytes: 0 },
};
once('off'); // warm up the JIT
for (let r = 0; r < runs; r++) {
  // Interleaved, so that a noisy neighbour hurts every variant alike.
  for (const v of variants) {
    const res = once(v);
    cpu[v].push(res.cpuMs);
    info[v] = { events: res.events, qlogBytes: res.qlogBytes };
  }
}
const base = median(cpu.off);
console.log(`trace overhead, ${bytes / 1024 / 1024} MiB simulated transfer, median of ${runs} runs (CPU ms of the whole simulation)`);
console.log('variant  cpu ms   × untraced  events/run  qlog MB/run');
for (const v of variants) {
  const m = median(cpu[v]);
  console.log(
    `${v.padEnd(8)} ${m.toFixed(0).padStart(6)}   ${(m / base).toFixed(2).padStart(9)}  ${String(info[v].events).padStart(10)}  ${(info[v].qlogBytes / 1e6).toFixed(2).padStart(11)}`,
  );
}
console.log(JSON.stringify({ runs, bytes, cpuMs: Object.fromEntries(variants.map((v) => [v, median(cpu[v])])), info }));
