/**
 * When each function of a ping-pong trip tiers up to TurboFan, counted in trips (not wall time,
 * so the figures hold under load), and why not sooner: V8 11.3 (Node 20) marks a function after
 * 3 + bytecode length / 150 interrupt ticks, one tick per 67,584 bytes of its own bytecode run;
 * a feedback change (a site's first use, a new map) resets the ticks and delays the marking.
 *
 *   node --import tsx bench/tierup.ts [--trips 21000] [--raw /tmp/prefix] [--parse-only] [--all] [--no-trace] [--v8 '<flags>']
 *
 * Runs bench/warmup.ts (two processes pinned to CPU 0, the benchmark's 64-byte ping-pong) with
 * `--trace-opt-verbose --trace-deopt`, each process's trace lines placed by its 100-trip ticks
 * (trip 0: trips 1–100 of that process), and prints per process: every function ticking after
 * the connection was up, with its bytecode length (V8's own "too large for small function
 * optimization: N/81"), the ticks it needs, the trips at which it ticked, was marked, compiled
 * and deoptimised (with the reason), and which functions were still not optimised at trips
 * 2k/5k/8k/10k; and per 1,000 trips each process's CPU per trip (main thread / other threads) and
 * the client's p50 per 500 trips. `--no-trace`: no V8 flags, only CPU and latency (the trace's own
 * cost out). `--parse-only` reads `--raw` logs written before. Diagnostic only: the flags are
 * set for this run's processes, never by the library.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => stringOption(args, name, dflt);
const prefix = opt('raw', '/tmp/tierup');
const trips = Number(opt('trips', '21000'));
const CHECKPOINTS = [1000, 2000, 5000, 8000, 10000, 11000];

interface Fn {
  key: string;
  name: string;
  len: number;
  needed: number;
  /** Trip (100-trip interval) of each "not yet optimizing" tick, with the count V8 printed. */
  ticks: { trip: number; n: number }[];
  marked: { trip: number; why: string }[];
  compiled: { trip: number; ms: number; osr: boolean }[];
  deopts: { trip: number; reason: string; offset: string }[];
  delayed: number[];
}

interface Parsed {
  fns: Map<string, Fn>;
  /** The client's round-trip times (µs), in order. */
  rtts: number[];
  /** Per 100-trip tick: the process's CPU µs so far (main thread, other threads: TurboFan jobs, GC helpers). */
  cpu: Map<number, { main: number; other: number }>;
}

function parse(file: string): Parsed {
  const fns = new Map<string, Fn>();
  const bySfi = new Map<string, Fn>();
  const byName = new Map<string, Fn[]>();
  let trip = -1;
  let started = false;
  let rtts: number[] = [];
  const cpu = new Map<number, { main: number; other: number }>();
  const get = (name: string, len: number, needed: number): Fn => {
    const key = `${name}/${len}`;
    let f = fns.get(key);
    if (f === undefined) {
      f = { key, name, len, needed, ticks: [], marked: [], compiled: [], deopts: [], delayed: [] };
      fns.set(key, f);
      byName.set(name, [...(byName.get(name) ?? []), f]);
    }
    return f;
  };
  /** The function behind a marking/compile/deopt line: by sfi, else the same name's most advanced ticker. */
  const ofSfi = (name: string, sfi: string): Fn => {
    const known = bySfi.get(sfi);
    if (known !== undefined) return known;
    const candidates = (byName.get(name) ?? []).filter((f) => ![...bySfi.values()].includes(f));
    const last = (f: Fn): number => (f.ticks.at(-1)?.n ?? 0) / f.needed;
    const f = candidates.sort((a, b) => last(b) - last(a))[0] ?? get(name, 0, 0);
    bySfi.set(sfi, f);
    return f;
  };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#TICK ')) {
      const [n, main, other] = line.slice(6).split(' ').map(Number);
      trip = n!;
      if (main !== undefined && other !== undefined) cpu.set(trip, { main, other });
    }
    else if (line === '#START') (started = true), (trip = 0);
    else if (line.startsWith('#TRIPS ')) rtts = JSON.parse(line.slice(7)) as number[];
    if (!started) continue;
    let m = /^\[not yet optimizing (\S+), not enough ticks: (\d+)\/(\d+) and (?: too large for small function optimization: (\d+)\/81|ICs changed)\]$/.exec(line);
    if (m) {
      const f = get(m[1]!, Number(m[4] ?? -1), Number(m[3]));
      f.ticks.push({ trip, n: Number(m[2]) });
      continue;
    }
    m = /^\[marking \S+ <JSFunction (\S*) \(sfi = (\S+)\)> for optimization to TURBOFAN.*reason: (.*)\]$/.exec(line);
    if (m) {
      ofSfi(m[1]!, m[2]!).marked.push({ trip, why: m[3]! });
      continue;
    }
    m = /^\[completed compiling \S+ <JSFunction (\S*) \(sfi = (\S+)\)> \(target TURBOFAN\)( OSR)? - took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
    if (m) {
      ofSfi(m[1]!, m[2]!).compiled.push({ trip, ms: Number(m[4]) + Number(m[5]) + Number(m[6]), osr: m[3] !== undefined });
      continue;
    }
    m = /^\[bailout \(kind: [^,]+, reason: ([^)]*)\): begin\. deoptimizing \S+ <JSFunction (\S*) \(sfi = (\S+)\)>, .*bytecode offset (\d+)/.exec(line);
    if (m) {
      ofSfi(m[2]!, m[3]!).deopts.push({ trip, reason: m[1]!, offset: m[4]! });
      continue;
    }
    m = /^\[delaying optimization of (\S+), IC changed\]$/.exec(line);
    if (m) for (const f of byName.get(m[1]!) ?? []) f.delayed.push(trip);
  }
  return { fns, rtts, cpu };
}

/** CPU µs per trip in each 1,000-trip bucket: main thread / other threads. */
function cpuPerTrip(p: Parsed): string[] {
  const out: string[] = [];
  for (let at = 1000; p.cpu.has(at); at += 1000) {
    const a = p.cpu.get(at - 1000 === 0 ? 100 : at - 1000)!;
    const b = p.cpu.get(at)!;
    const n = at - 1000 === 0 ? 900 : 1000;
    out.push(`${((b.main - a.main) / n).toFixed(1)}/${((b.other - a.other) / n).toFixed(1)}`);
  }
  return out;
}

/** Optimised at `at`: its last compile came before `at` and after its last deoptimisation. */
const optimisedAt = (f: Fn, at: number): boolean => {
  const c = f.compiled.filter((x) => x.trip < at).at(-1);
  const d = f.deopts.filter((x) => x.trip < at).at(-1);
  return c !== undefined && (d === undefined || d.trip <= c.trip);
};

function report(side: string, p: Parsed): Record<string, unknown> {
  const fns = [...p.fns.values()].filter((f) => f.ticks.length > 0 || f.compiled.length > 0 || f.deopts.length > 0);
  const first = (f: Fn): number => f.compiled[0]?.trip ?? Infinity;
  fns.sort((a, b) => first(a) - first(b) || b.len - a.len);
  const all = args.includes('--all');
  console.log(`\n## ${side}: functions ticking or compiled after the connection was up (trip = 100-trip interval of this process)\n`);
  console.log('| function | bytecode | ticks needed | first tick | last tick | trips per tick | marked | compiled (ms) | deopts (trip: reason @offset) | IC delays |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |');
  for (const f of fns) {
    if (!all && first(f) < 1000 && f.deopts.length === 0) continue;
    const t0 = f.ticks[0]?.trip;
    const t1 = f.ticks.at(-1)?.trip;
    const per = t0 !== undefined && t1 !== undefined && f.ticks.length > 1 ? Math.round((t1 - t0) / (f.ticks.length - 1)) : '';
    console.log(
      `| ${f.name} | ${f.len > 0 ? f.len : '<81?'} | ${f.needed || ''} | ${t0 ?? ''} | ${t1 ?? ''} | ${per} | ${f.marked.map((x) => `${x.trip} ${x.why === 'hot and stable' ? 'hot' : x.why === 'small function' ? 'small' : x.why}`).join(', ')} | ${f.compiled.map((x) => `${x.trip}${x.osr ? ' OSR' : ''} (${x.ms.toFixed(1)})`).join(', ')} | ${f.deopts.map((x) => `${x.trip}: ${x.reason} @${x.offset}`).join('; ')} | ${f.delayed.length || ''} |`,
    );
  }
  // Bytecode run in Ignition/Sparkplug per trip, from the ticks (one per 67,584 bytes of a
  // function's own bytecode; the marking tick itself prints no line, so a lower bound).
  const BUDGET = 67584;
  const interpreted: number[] = [];
  for (let at = 0; at < 11000; at += 1000) {
    const by = fns
      .map((f) => ({ f, n: f.ticks.filter((t) => t.trip >= at && t.trip < at + 1000).length + f.marked.filter((m) => m.trip >= at && m.trip < at + 1000).length }))
      .filter((x) => x.n > 0)
      .sort((a, b) => b.n - a.n);
    const bytes = (by.reduce((sum, x) => sum + x.n, 0) * BUDGET) / 1000;
    interpreted.push(Math.round(bytes));
    console.log(`${side}: trips ${at + 1}–${at + 1000}: ≥${Math.round(bytes)} B of bytecode interpreted per trip; most: ${by.slice(0, 10).map((x) => `${x.f.name}/${x.f.len > 0 ? x.f.len : '<81'} ${Math.round((x.n * BUDGET) / 1000)}`).join(', ')}`);
  }
  const pending: Record<number, string[]> = {};
  for (const at of CHECKPOINTS) {
    // Not optimised yet at `at` but optimised (or still ticking) later: on the trip's path.
    const waiting = fns.filter((f) => !optimisedAt(f, at) && (f.compiled.some((c) => c.trip >= at) || f.ticks.some((t) => t.trip >= at)));
    pending[at] = waiting.map((f) => `${f.name}/${f.len > 0 ? f.len : '?'}`);
    console.log(`\n${side}: not optimised at trip ${at} (${waiting.length}): ${waiting.map((f) => `${f.name} ${f.len > 0 ? f.len : '<81'}B`).join(', ')}`);
  }
  const inWindow = (a: { trip: number }[]): number => a.filter((x) => x.trip >= 1000 && x.trip < 11000).length;
  return {
    jobs: fns.reduce((s, f) => s + f.compiled.length, 0),
    jobsInFirstWindow: fns.reduce((s, f) => s + inWindow(f.compiled), 0),
    deopts: fns.reduce((s, f) => s + f.deopts.length, 0),
    deoptsInFirstWindow: fns.reduce((s, f) => s + inWindow(f.deopts), 0),
    lastJobTrip: Math.max(...fns.flatMap((f) => f.compiled.map((c) => c.trip))),
    interpretedBytesPerTrip: interpreted,
    pendingCount: Object.fromEntries(CHECKPOINTS.map((at) => [at, pending[at]!.length])),
  };
}

/** p50 of each 500-trip block, and the first block from which every later 1,000-trip block's p50 is within 10 % of the last 5,000 trips'. */
function latency(rtts: number[]): Record<string, unknown> {
  const p50 = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
  const steady = p50(rtts.slice(-5000));
  const block = 500;
  const blocks = Array.from({ length: Math.floor(rtts.length / block) }, (_, i) => p50(rtts.slice(i * block, (i + 1) * block)));
  let reached = blocks.length;
  for (let i = blocks.length - 1; i >= 0 && blocks[i]! <= steady * 1.1; i--) reached = i;
  const q = (a: number[], p: number): number => [...a].sort((x, y) => x - y)[Math.floor(a.length * p)] ?? NaN;
  const firstWindow = rtts.slice(1000, 11000);
  const steadyWindow = rtts.slice(11000, 21000);
  return {
    firstWindowP50: q(firstWindow, 0.5),
    firstWindowP99: q(firstWindow, 0.99),
    steadyWindowP50: q(steadyWindow, 0.5),
    steadyWindowP99: q(steadyWindow, 0.99),
    steadyP50: steady,
    tripsToSteady: reached * block,
    p50Per500: blocks.map(Math.round),
  };
}

if (!args.includes('--parse-only')) {
  const warmup = fileURLToPath(new URL('./warmup.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', warmup, '--trips', String(trips), '--raw', prefix, ...(args.includes('--no-trace') ? ['--no-trace'] : []), '--v8', `${args.includes('--no-trace') ? '' : '--trace-opt-verbose'} ${opt('v8', '')}`], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tierup: warmup.ts failed (${r.status})`);
  console.log(r.stdout.trim().split('\n').slice(0, 9).join('\n'));
}
const client = parse(`${prefix}.client.log`);
const server = parse(`${prefix}.server.log`);
const traced = !args.includes('--no-trace');
const summary = {
  ...(traced ? { client: report('client', client), server: report('server', server) } : {}),
  cpuUsPerTripMainOther: { client: cpuPerTrip(client), server: cpuPerTrip(server) },
  latency: latency(client.rtts),
};
console.log(`\n${JSON.stringify(summary)}`);
