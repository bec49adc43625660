/**
 * The TurboFan jobs of one bulk process, by function (issue 11, the warm-up): reads a raw trace
 * that bench/warmup-bulk.ts wrote with
 *
 *   node --import tsx bench/warmup-bulk.ts --raw /tmp/w --v8 '--trace-turbo-inlining --no-concurrent-recompilation'
 *   node --import tsx bench/compile-jobs.ts /tmp/w-sender.txt [--top 40]
 *
 * or the jobs of one ping-pong process from trip 1,000 on (the benchmark's window), from
 *
 *   node --import tsx bench/warmup.ts --raw /tmp/p --v8 '--trace-turbo-inlining --no-concurrent-recompilation'
 *   node --import tsx bench/compile-jobs.ts /tmp/p.client.log [--from-trip 1000]
 *
 * and lists, for the jobs that finished inside the transfer (the child's `startAt` to its result):
 * per function the jobs, their summed time, its own bytecode size and the bytecode inlined into
 * it, the functions it inlined; then the functions inlined most often (bytecode × times). With
 * `--no-concurrent-recompilation` each job runs on the main thread and its time is the
 * compiler's main-thread time (close to its CPU on a machine that is not overloaded, unlike the
 * concurrent jobs' thread wall times), and the trace's lines are not interleaved. Sizes come
 * from V8's inlining candidates (a root that was never a candidate shows `?`). Diagnostic only.
 */
import { readFileSync } from 'node:fs';
import { LINE_PREFIX } from './lib/child-protocol.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
if (file === undefined) throw new Error('usage: compile-jobs.ts <warmup-bulk raw trace> [--top 40]');
const top = numberOption(args, 'top', 40);
/** A bench/warmup.ts raw log (ping-pong, `#TICK n` lines every 100 trips): the jobs from this trip on. */
const fromTrip = numberOption(args, 'from-trip', 1000);

interface Job {
  fn: string;
  osr: boolean;
  inlined: string[];
  ms: number;
  at: number;
  /** The last `#TICK` trip before the job finished (warmup.ts logs), else -1. */
  trip: number;
}
const size = new Map<string, number>();
const jobs: Job[] = [];
let current: Omit<Job, 'ms' | 'at' | 'trip'> | null = null;
let trip = -1;
let ticks = false;
let from = Infinity;
let to = Infinity;
// V8's two tracers write to stdout through different buffers: a `--trace-opt` record can start in
// the middle of an inlining trace's line, so records are split at their opening brackets too
// (and at the report prefix: raw files written before the reports had their own pipe can have a
// report glued to half a trace line).
const recordStart = new RegExp(`(?=\\[(?:compiling method|completed compiling|completed optimizing|marking|bailout)|${LINE_PREFIX})`);
const records = readFileSync(file, 'utf8')
  .split('\n')
  .flatMap((raw) => {
    // warmup-bulk.ts's lines lead with their arrival time; warmup.ts's do not.
    const space = raw.indexOf(' ');
    const at = space > 0 ? Number(raw.slice(0, space)) : NaN;
    return raw
      .slice(Number.isNaN(at) ? 0 : space + 1)
      .split(recordStart)
      .map((line) => ({ at, line }));
  });
for (const { at, line } of records) {
  const tick = /^#TICK (\d+)/.exec(line);
  if (tick !== null) {
    [trip, ticks] = [Number(tick[1]), true];
    continue;
  }
  if (line.startsWith(LINE_PREFIX)) {
    const msg = JSON.parse(line.slice(LINE_PREFIX.length)) as { type: string; result?: { startAt?: number } };
    if (msg.type === 'result') [from, to] = [Number(msg.result?.startAt ?? -Infinity), at];
    continue;
  }
  let m = /<SharedFunctionInfo ([^>]*)>\}, bytecode size: (\d+)/.exec(line);
  if (m !== null) size.set(m[1]!, Number(m[2]));
  m = /^\[compiling method .*<JSFunction (\S*) \(sfi = \S+\)> \(target TURBOFAN\)( OSR)?/.exec(line);
  if (m !== null) {
    current = { fn: m[1]!, osr: m[2] !== undefined, inlined: [] };
    continue;
  }
  if (current === null) continue;
  m = /^Inlining .*?<SharedFunctionInfo ([^>]*)>\} into/.exec(line);
  if (m !== null) current.inlined.push(m[1]!);
  m = /^\[completed compiling .*took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
  if (m !== null) {
    jobs.push({ ...current, ms: Number(m[1]) + Number(m[2]) + Number(m[3]), at, trip });
    current = null;
  }
}
const inside = ticks ? jobs.filter((j) => j.trip >= fromTrip) : jobs.filter((j) => j.at >= from && j.at <= to);
const bytes = (fns: string[]): number => fns.reduce((a, f) => a + (size.get(f) ?? 0), 0);
const total = inside.reduce((a, j) => a + j.ms, 0);
console.log(`${inside.length} jobs inside the ${ticks ? `ping-pong from trip ${fromTrip}` : 'transfer'} (${jobs.length - inside.length} outside), ${total.toFixed(1)} ms, ${inside.filter((j) => j.osr).length} OSR; bytecode compiled ${bytes(inside.map((j) => j.fn))} B as roots + ${bytes(inside.flatMap((j) => j.inlined))} B inlined`);
const byFn = new Map<string, { n: number; ms: number; inlinedBytes: number; inlined: Set<string> }>();
for (const j of inside) {
  const e = byFn.get(j.fn) ?? { n: 0, ms: 0, inlinedBytes: 0, inlined: new Set<string>() };
  e.n += 1;
  e.ms += j.ms;
  e.inlinedBytes += bytes(j.inlined);
  for (const f of j.inlined) e.inlined.add(f);
  byFn.set(j.fn, e);
}
for (const [fn, e] of [...byFn].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
  console.log(`${e.ms.toFixed(1).padStart(6)} ms ${String(e.n).padStart(2)}× ${fn.padEnd(28)} own ${String(size.get(fn) ?? '?').padStart(4)} B, inlined ${String(e.inlinedBytes).padStart(5)} B: ${[...e.inlined].join(' ')}`);
}
const times = new Map<string, number>();
for (const j of inside) for (const f of j.inlined) times.set(f, (times.get(f) ?? 0) + 1);
const dup = [...times].sort((a, b) => b[1] * (size.get(b[0]) ?? 0) - a[1] * (size.get(a[0]) ?? 0)).slice(0, 30);
console.log(`inlined most often (times × bytecode; "root": also compiled alone): ${dup.map(([f, n]) => `${f} ×${n} (${size.get(f)} B${byFn.has(f) ? ', root' : ''})`).join('; ')}`);
