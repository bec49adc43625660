/**
 * The JIT's share of a bulk transfer (issue 11): the benchmark's two bulk processes
 * (bench/child.ts bulkReceiver + bulkSender, reliable-dgram, 100 MB on 127.0.0.1), each under
 * `--trace-opt --trace-deopt`, and per side: the TurboFan jobs (count, the compiler's own ms,
 * the largest, the functions compiled more than once, OSR), the deoptimisations by function and
 * reason, and the CPU per MB over the whole transfer and its second half. Jobs before the
 * transfer (tsx, endpoint creation, the handshake) are counted apart.
 *
 *   node --import tsx bench/warmup-bulk.ts [--mb 100] [--runs 1] [--root DIR] [--v8 '<flags>'] [--no-trace] [--raw /tmp/prefix] [--contender udx|dgram] [--timeout 180] [--children bundle|tsx]
 *
 * The children run as bench/run.ts runs them: plain node from an esbuild bundle of ROOT's
 * bench/child.ts (bench/lib/child-build.ts), or under tsx with `--children tsx`.
 *
 * `--raw PREFIX` writes each child's output to PREFIX-sender.txt / PREFIX-receiver.txt, every line
 * prefixed with its arrival time (epoch ms), for bench/compile-jobs.ts.
 * `--root DIR` runs another checkout's bench/child.ts (a copy of main, for back-to-back pairs);
 * `--no-trace` gives the CPU figures without tracing's cost; `--contender` runs another contender's
 * two processes (the part of the compile volume that is not ours: node:dgram's, udx-native's JS). The counts do not depend on the
 * machine's load, the times do. Diagnostic only, not part of `npm run bench`.
 *
 * The children report on their own pipe (fd 3, bench/lib/child-protocol.ts), apart from the
 * traces on stdout (a report written to stdout can be glued to half a V8 line and missed: a run
 * then waited forever for its receiver). A side that has not reported `--timeout` seconds after
 * the run began (or when the other side reports an error) is asked for its status (SIGUSR2:
 * bytes so far, its connection's counters), which is printed, and both children are killed;
 * the script exits with status 1.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseChildLine, REPORT_FD, REPORT_FD_ENV } from './lib/child-protocol.js';
import { numberOption, stringOption } from './lib/script-options.js';
import { childBundle } from './lib/child-build.js';

const args = process.argv.slice(2);
const MB = 1e6;
const bytes = numberOption(args, 'mb', 100) * MB;
const runs = numberOption(args, 'runs', 1);
const root = stringOption(args, 'root', join(dirname(fileURLToPath(import.meta.url)), '..'));
const trace = !args.includes('--no-trace');
/** bundle (default, as bench/run.ts): `node <esbuild bundle of ROOT/bench/child.ts>`; tsx: under tsx. */
const childRuntime = stringOption(args, 'children', process.env.BENCH_CHILDREN || 'bundle');
if (childRuntime !== 'bundle' && childRuntime !== 'tsx') throw new RangeError(`--children: unknown '${childRuntime}' (choose one of bundle, tsx)`);
const v8Flags = stringOption(args, 'v8', '').split(' ').filter((f) => f !== '');
const raw = stringOption(args, 'raw', '');
const contender = stringOption(args, 'contender', 'reliable-dgram');
const timeoutMs = numberOption(args, 'timeout', 180) * 1000;
/** As bench/workloads/bulk.ts: raw dgram writes datagram-sized chunks, the others 64 KiB. */
const chunk = contender === 'dgram' ? 1200 : 65536;

interface Job {
  fn: string;
  ms: number;
  osr: boolean;
  sfi: string;
  at: number;
}
interface Side {
  jobs: Job[];
  deopts: Map<string, number>;
  /** Each deoptimisation: when its line arrived (epoch ms), function and reason. */
  deoptAt: { at: number; what: string }[];
  result: Record<string, unknown> | null;
  ready: number | null;
  pid: number;
  /** The answer to SIGUSR2, once asked (a side that did not report in time). */
  status: unknown;
  kill: () => void;
  /** SIGTERM: the child leaves through process.exit (a CPU profile, if asked for, is written). */
  stop: () => void;
  askStatus: () => void;
  /** Called with a side's error report (the run then ends, see boundRun). */
  onError: (message: string) => void;
  /** Called when its result arrived. */
  onResult: () => void;
}

function watchChild(label: string, role: string, options: Record<string, unknown>, side: Side, onReady?: (port: number) => void): Promise<void> {
  // As bench/run.ts runs them: plain node from the bundle, or under tsx with --children tsx.
  const script = childRuntime === 'tsx' ? ['--import', 'tsx', join(root, 'bench/child.ts')] : [childBundle(join(root, 'bench/child.ts'))];
  const node = [...(trace ? ['--trace-opt', '--trace-deopt'] : []), ...v8Flags, ...script, JSON.stringify({ contender, role, options })];
  const child = spawn(process.execPath, node, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
    env: { ...process.env, [REPORT_FD_ENV]: String(REPORT_FD) },
  });
  side.pid = child.pid ?? 0;
  side.kill = () => child.kill('SIGKILL');
  side.stop = () => child.kill();
  // Only once the child answers SIGUSR2 (its 'listening' report): before, the signal ends it.
  let listening = false;
  side.askStatus = () => {
    if (listening) child.kill('SIGUSR2');
  };
  const rawFile = raw === '' ? null : openSync(`${raw}-${label}.txt`, 'w');
  const rl = createInterface({ input: child.stdout! });
  // Jobs are counted by phase: 0 before the transfer's result arrives (the whole run, as the
  // child reports once at the end), the "ready" line splits start-up from traffic.
  let phase = 0;
  // Reports come on fd 3 (a copy of each goes into the raw file, as a line of its own).
  createInterface({ input: child.stdio[REPORT_FD] as NodeJS.ReadableStream }).on('line', (line) => {
    if (rawFile !== null) writeSync(rawFile, `${Date.now()} ${line}\n`);
    const msg = parseChildLine(line) as { type: string; port?: number; result?: Record<string, unknown>; message?: string; status?: unknown } | null;
    if (msg === null) return side.onError(`${label}: garbled report line: ${line.slice(0, 300)}`);
    if (msg.type === 'ready') {
      side.ready = side.jobs.length;
      onReady?.(msg.port!);
    } else if (msg.type === 'result') {
      side.result = msg.result!;
      phase = 1;
      side.onResult();
    } else if (msg.type === 'listening') listening = true;
    else if (msg.type === 'status') side.status = msg.status;
    else if (msg.type === 'error') side.onError(`${label} failed: ${msg.message}`);
  });
  rl.on('line', (line) => {
    if (rawFile !== null) writeSync(rawFile, `${Date.now()} ${line}\n`);
    if (phase !== 0) return;
    if (line.startsWith('[completed compiling') && line.includes('TURBOFAN')) {
      const took = /took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
      side.jobs.push({
        fn: /<JSFunction (\S*)/.exec(line)?.[1] ?? '?',
        ms: took ? Number(took[1]) + Number(took[2]) + Number(took[3]) : 0,
        osr: line.includes(' OSR '),
        sfi: /\(sfi = (\S+)\)/.exec(line)?.[1] ?? '?',
        at: Date.now(),
      });
    }
    const bail = /^\[bailout \(kind: [^,]+, reason: ([^)]*)\).*?<JSFunction (\S*)/.exec(line);
    if (bail) {
      const what = `${bail[2]}: ${bail[1]}`;
      side.deopts.set(what, (side.deopts.get(what) ?? 0) + 1);
      side.deoptAt.push({ at: Date.now(), what });
    }
  });
  return new Promise((resolve) => {
    child.on('close', () => {
      if (rawFile !== null) closeSync(rawFile);
      resolve();
    });
  });
}

/**
 * Bounds one run: after `timeoutMs`, or at once when a side reports an error, each side that has
 * not reported is asked for its status, which is printed with the other side's; then both are
 * killed and the script exits with 1.
 */
function boundRun(sides: { label: string; side: Side }[]): { fail: (why: string) => void; done: () => void } {
  let failing = false;
  const fail = (why: string): void => {
    if (failing) return;
    failing = true;
    clearTimeout(timer);
    const silent = sides.filter((s) => s.side.result === null);
    for (const s of silent) s.side.askStatus();
    setTimeout(() => {
      console.error(`warmup-bulk: ${why}`);
      for (const s of sides) {
        const what = s.side.result !== null ? 'reported' : `did not report; status: ${s.side.status === null ? 'no answer' : JSON.stringify(s.side.status)}`;
        console.error(`warmup-bulk: ${s.label} (pid ${s.side.pid}) ${what}`);
      }
      for (const s of sides) s.side.kill();
      process.exit(1);
    }, 2000);
  };
  const timer = setTimeout(() => fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
  return { fail, done: () => clearTimeout(timer) };
}

const newSide = (): Side => ({
  jobs: [],
  deopts: new Map(),
  deoptAt: [],
  result: null,
  ready: null,
  pid: 0,
  status: null,
  kill: () => undefined,
  stop: () => undefined,
  askStatus: () => undefined,
  onError: () => undefined,
  onResult: () => undefined,
});

function report(name: string, s: Side, from: number, to: number, halfAt: number): Record<string, unknown> {
  const r = s.result ?? {};
  const total = Number(r.bytes ?? 0) / MB;
  const half = (Number(r.bytes ?? 0) - Number(r.halfBytes ?? 0)) / MB;
  // Jobs whose completion fell inside the transfer (wall clock of this process: the child's
  // line arrives within a pipe's delay).
  const inside = s.jobs.filter((j) => j.at >= from && j.at <= to);
  const times = new Map<string, number>();
  for (const j of inside) times.set(j.sfi, (times.get(j.sfi) ?? 0) + 1);
  const twice = [...new Set(inside.filter((j) => times.get(j.sfi)! > 1).map((j) => `${j.fn} ×${times.get(j.sfi)}`))];
  const top = [...inside].sort((a, b) => b.ms - a.ms).slice(0, 12).map((j) => `${j.fn} ${j.ms.toFixed(1)}`);
  const ms = inside.reduce((a, j) => a + j.ms, 0);
  if (trace) {
    console.log(`${name}: ${inside.length} TurboFan jobs in the transfer (${s.jobs.length - inside.length} before/after), ${Math.round(ms)} ms compiler time, ${inside.filter((j) => j.osr).length} OSR, ${inside.filter((j) => j.ms < 1).length} under 1 ms`);
    console.log(`${name}: compiled more than once: ${twice.join(', ') || 'none'}`);
    console.log(`${name}: largest: ${top.join('; ')}`);
    const late = inside.filter((j) => j.at >= halfAt);
    console.log(`${name}: ${late.length} jobs after the receiver's half mark (${Math.round(late.reduce((a, j) => a + j.ms, 0))} ms): ${late.map((j) => `${j.fn} ${j.ms.toFixed(1)} @${Math.round(j.at - from)}`).join('; ')}`);
    const when = (at: number): string => (at < from ? 'before' : at > to ? 'after' : `${Math.round(at - from)} ms`);
    console.log(`${name}: deoptimisations (ms into the transfer of ${Math.round(to - from)}): ${s.deoptAt.map((d) => `${d.what} @${when(d.at)}`).join('; ') || 'none'}`);
  }
  return {
    pid: s.pid,
    jobs: inside.length,
    compileMs: Math.round(ms),
    deopts: [...s.deopts.values()].reduce((a, b) => a + b, 0),
    cpuMsPerMB: Number((Number(r.cpuMs) / total).toFixed(2)),
    secondHalfCpuMsPerMB: Number((Number(r.secondHalfCpuMs) / half).toFixed(2)),
  };
}

for (let run = 0; run < runs; run++) {
  const rx = newSide();
  const tx = newSide();
  let from: number;
  let startSender: (port: number) => void = () => undefined;
  const portKnown = new Promise<number>((resolve) => (startSender = resolve));
  const bound = boundRun([
    { label: 'receiver', side: rx },
    { label: 'sender', side: tx },
  ]);
  rx.onError = tx.onError = bound.fail;
  const receiving = watchChild('receiver', 'bulkReceiver', { host: '127.0.0.1', bytes }, rx, startSender);
  const port = await portKnown;
  from = Date.now();
  // The sender leaves by itself once its flush() resolved (bench/child.ts). The receiver stays
  // until both have reported: stopped as soon as its own result came, its last ACK could still be
  // waiting for its timer, and the sender's flush() would wait for it until the idle timeout.
  const received = new Promise<void>((resolve) => (rx.onResult = resolve));
  const sending = watchChild('sender', 'bulkSender', { host: '127.0.0.1', port, bytes, chunk }, tx);
  tx.onResult = () => tx.stop();
  await sending;
  await received;
  rx.stop();
  await receiving;
  bound.done();
  const r = rx.result ?? {};
  // The transfer: the sender's first write to the receiver's last byte (both epoch ms).
  from = Number(tx.result?.startAt ?? from);
  const to = Number(r.lastAt ?? Date.now()) + 20;
  const goodput = Number(r.bytes) / MB / ((Number(r.lastAt) - Number(r.firstAt)) / 1000);
  // The same window on CLOCK_MONOTONIC (s), to cut a `perf record -k CLOCK_MONOTONIC` profile to it.
  const toMono = Number(process.hrtime.bigint()) / 1e6 - Date.now();
  const half = Number(r.halfAt ?? 0);
  const window = { fromMono: (from + toMono) / 1000, halfMono: (half + toMono) / 1000, toMono: (to + toMono) / 1000 };
  const out = { run, window, goodputMBps: Number(goodput.toFixed(1)), sender: report('sender', tx, from, to, half), receiver: report('receiver', rx, from, to, half) };
  console.log(JSON.stringify(out));
}
