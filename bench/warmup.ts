/**
 * The JIT warm-up of a ping-pong: 64-byte round trips between two reliable-dgram processes, both
 * pinned to one CPU as in the benchmark's same-CPU runs, counted per 1,000-trip bucket: trips slower
 * than 1 ms, and in each process the TurboFan compiles and the deoptimisations V8 reports
 * (`--trace-opt --trace-deopt`), with the function and the reason of every deoptimisation.
 *
 *   node --import tsx bench/warmup.ts [--trips 11000] [--pin same|cross|none] [--no-trace] [--secure] [--names] [--jobs]
 *                                     [--raw /tmp/prefix] [--v8 '--trace-turbo-inlining'] [--contender reliable-dgram|dgram|udx]
 *
 * `--contender dgram|udx`: the same ping-pong over raw node:dgram or udx-native's streams (as the
 * benchmark's contenders run it), to count the compile jobs of the JavaScript that is not ours.
 * Each process also reports its threads' CPU over the trips (/proc/self/task/N/schedstat): the
 * main thread against V8's other threads (TurboFan's jobs, the parallel scavenger's helpers).
 *
 * The counts of compiles and deoptimisations do not depend on the machine's load; the slow-trip
 * counts do (and tracing itself costs a little: `--no-trace` for clean timings). Counted from the
 * connection's establishment to the last trip: neither start-up (tsx, the handshake) nor shutdown. Not part of `npm run bench`: a diagnostic
 * for docs/performance.md ("The warm-up tail").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { createEndpoint } from '../src/index.js';
import { UDX, acceptingStream, boundSocket } from './contenders/udx.js';
import { createNodeSuite } from '../src/crypto/node-suite.js';
import { stringOption } from './lib/script-options.js';

const BUCKET = 1000;
/**
 * Every FINE trips each process also writes a tick, so that each compile, deoptimisation and GC
 * is placed in a 100-trip interval: the slow trips of the benchmark's first window (trips
 * 1,001–11,000) are then split by what happened, in either process, in their interval.
 */
const FINE = 100;
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => stringOption(args, name, dflt);
const rdOptions = JSON.parse(process.env.BENCH_RD_OPTIONS ?? '{}') as Record<string, unknown>;
/** `--names`: list the functions compiled after the first 1,000 trips (the ones inside the benchmark's first window). */
const names = args.includes('--names');
/** `--jobs`: per process, the TurboFan jobs by V8's reason, the functions compiled more than once, the largest jobs. */
const jobs = args.includes('--jobs');
/** `--secure`: an encrypted connection (a key pair on the server, `serverKey` on the client). */
const secure = args.includes('--secure');
const PRIVATE_KEY = Buffer.alloc(32, 0x2a);
/**
 * A line straight to fd 1, in order with V8's own trace lines. fd 1 is a non-blocking pipe to the
 * parent: with heavy tracing it can be full for a moment (EAGAIN), so the write is retried.
 */
function out(line: string): void {
  // Led by a newline: V8's stdio buffer may hold half a trace line, and a marker must start a line.
  const bytes = Buffer.from(`\n${line}`);
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(1, bytes, done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
/** Marks go straight to fd 1, in order with V8's own trace lines. */
const mark = (n: number): void => out(`#MARK ${n}\n`);
/** A tick carries the process's thread CPU so far (µs: main thread, other threads), for bench/tierup.ts's CPU per trip. */
const tick = (n: number): void => {
  const cpu = threadCpuNs();
  out(`#TICK ${n} ${Math.round(cpu.main / 1000)} ${Math.round(cpu.other / 1000)}\n`);
};
// Each GC of a ping-pong process as a line in its trace (the observer runs soon after the GC).
if (opt('role', '') !== '') {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) out(`#GC ${e.duration.toFixed(2)}\n`);
  }).observe({ entryTypes: ['gc'] });
}
/** `--contender`: whose ping-pong (ours by default; 'dgram' and 'udx' as the benchmark runs them). */
const contender = opt('contender', 'reliable-dgram');
if (!['reliable-dgram', 'dgram', 'udx'].includes(contender)) throw new Error(`warmup: unknown --contender ${contender}`);

/** CPU ns of this process's main thread and of all its other threads, from the kernel's schedstat. */
function threadCpuNs(): { main: number; other: number } {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let ns = 0;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // a thread that ended meanwhile
    }
    if (Number(tid) === process.pid) main += ns;
    else other += ns;
  }
  return { main, other };
}
let cpuAtStart = { main: 0, other: 0 };
const started = (): void => {
  cpuAtStart = threadCpuNs();
  out('#START\n');
};
/** This process's thread CPU since #START, as a trace line the parent reads. */
const cpuLine = (): void => {
  const now = threadCpuNs();
  out(`#CPU ${JSON.stringify({ mainMs: Math.round((now.main - cpuAtStart.main) / 1e5) / 10, otherMs: Math.round((now.other - cpuAtStart.other) / 1e5) / 10 })}\n`);
};

async function server(): Promise<void> {
  let n = 0;
  const echoed = (): void => {
    if (++n % FINE === 0) tick(n);
    if (n % BUCKET === 0) mark(n);
  };
  // The parent asks for the CPU line (a newline on stdin) once the client is done.
  process.stdin.on('data', () => {
    cpuLine();
    out('#END\n');
  });
  if (contender === 'dgram') {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await new Promise((resolve) => socket.once('listening', resolve));
    let first = true;
    socket.on('message', (msg, rinfo) => {
      if (first) (first = false), started();
      socket.send(msg, rinfo.port, rinfo.address);
      echoed();
    });
    out(`#PORT ${socket.address().port}\n`);
    return;
  }
  if (contender === 'udx') {
    const udx = new UDX();
    const socket = boundSocket(udx, '127.0.0.1');
    const stream = acceptingStream(udx, 2, 1);
    let first = true;
    stream.on('data', (chunk) => {
      if (first) (first = false), started();
      stream.write(chunk);
      echoed();
    });
    out(`#PORT ${socket.address().port}\n`);
    return;
  }
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions, ...(secure ? { keyPair: { privateKey: PRIVATE_KEY } } : {}) });
  ep.on('connection', (c) => {
    started();
    c.on('error', () => undefined);
    c.on('message', (m) => {
      c.send(m);
      echoed();
    });
  });
  out(`#PORT ${ep.address().port}\n`);
  // The parent ends this process once the client is done (nothing after the trips is counted).
}

/** A ping-pong client's two ends: send one payload; call `onReply` once per whole reply. */
interface PingClient {
  send(payload: Buffer): void;
  onReply(fn: () => void): void;
  stats(): Record<string, number>;
}

async function pingClient(port: number): Promise<PingClient> {
  if (contender === 'dgram') {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    socket.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return { send: (p) => socket.send(p), onReply: (fn) => socket.on('message', fn), stats: () => ({}) };
  }
  if (contender === 'udx') {
    const udx = new UDX();
    const socket = boundSocket(udx, '127.0.0.1');
    const stream = udx.createStream(1);
    stream.on('error', () => undefined);
    stream.connect(socket, 2, port, '127.0.0.1');
    let pending = 0;
    return {
      send: (p) => {
        pending = p.length;
        stream.write(p);
      },
      onReply: (fn) =>
        stream.on('data', (chunk) => {
          pending -= chunk.length;
          if (pending <= 0) fn();
        }),
      stats: () => ({ retransmitted: stream.retransmits }),
    };
  }
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
  const conn = await ep.connect(port, '127.0.0.1', secure ? { serverKey: createNodeSuite().x25519Public(PRIVATE_KEY) } : {});
  if (secure && !conn.encrypted) throw new Error('--secure: the connection is not encrypted');
  conn.on('error', () => undefined);
  return {
    send: (p) => conn.send(p),
    onReply: (fn) => conn.on('message', fn),
    stats: () => {
      const st = conn.stats();
      return { ptos: st.ptoCount, retransmitted: st.packetsRetransmitted };
    },
  };
}

async function client(port: number, trips: number): Promise<void> {
  const conn = await pingClient(port);
  started();
  const payload = Buffer.alloc(64, 0x70);
  const us: number[] = [];
  await new Promise<void>((resolve) => {
    let start = 0n;
    conn.onReply(() => {
      us.push(Number(process.hrtime.bigint() - start) / 1000);
      if (us.length % FINE === 0) tick(us.length);
      if (us.length % BUCKET === 0) mark(us.length);
      if (us.length === trips) return resolve();
      start = process.hrtime.bigint();
      conn.send(payload);
    });
    start = process.hrtime.bigint();
    conn.send(payload);
  });
  cpuLine();
  out(`#END\n#STATS ${JSON.stringify(conn.stats())}\n`);
  out(`#TRIPS ${JSON.stringify(us.map((x) => Math.round(x)))}\n`);
  process.exit(0);
}

interface Side {
  compiles: number[];
  /** TurboFan's own times for those compiles (--trace-opt's three phases), ms. */
  compileMs: number;
  /** "function (ms)" of each compile after the first bucket. */
  late: string[];
  deopts: number[];
  /** "function: reason" → count, over the whole run. */
  reasons: Map<string, number>;
  /** Every TurboFan job: function, ms, why V8 chose it ('small function', 'hot and stable', or 'OSR'), the function's identity (sfi). */
  jobs: { fn: string; ms: number; why: string; sfi: string }[];
  /** sfi → the reason V8 gave when it marked the function (the job's line does not repeat it). */
  marked: Map<string, string>;
  /** Per 100-trip interval (FINE): compiles completed, deoptimisations, GCs. */
  fine: { compiles: number[]; deopts: number[]; gcs: number[]; maxJobMs: number[] };
  /** The process's thread CPU over the trips (#CPU line), ms. */
  cpu?: { mainMs: number; otherMs: number };
}

const newSide = (): Side => ({ compiles: [], compileMs: 0, late: [], deopts: [], reasons: new Map(), jobs: [], marked: new Map(), fine: { compiles: [], deopts: [], gcs: [], maxJobMs: [] } });
/**
 * Reads one child's stdout: V8's trace lines between our marks, bucketed by the last mark
 * (`--raw PREFIX`: every line also to PREFIX.<name>.log). Resolves when the child's stdout ends.
 */
function watch(name: 'client' | 'server', child: ChildProcess, side: Side, onLine: (line: string) => boolean): Promise<void> {
  let bucket = 0;
  let fine = 0;
  let started = false;
  let done = false;
  const rl = createInterface({ input: child.stdout! });
  const raw = opt('raw', '');
  const rawFile = raw === '' ? null : openSync(`${raw}.${name}.log`, 'w');
  rl.on('line', (line) => {
    if (rawFile !== null) writeSync(rawFile, `${line}\n`);
    if (onLine(line)) return;
    if (line.startsWith('#CPU ')) {
      side.cpu = JSON.parse(line.slice(5)) as { mainMs: number; otherMs: number };
      return;
    }
    if (line.startsWith('#MARK ')) {
      bucket = Number(line.slice(6)) / BUCKET;
      return;
    }
    if (line.startsWith('#TICK ')) {
      fine = Number(line.slice(6).split(' ')[0]) / FINE;
      return;
    }
    const inc = (a: number[]): void => {
      if (started && !done) a[fine] = (a[fine] ?? 0) + 1;
    };
    if (line.startsWith('#GC ')) return inc(side.fine.gcs);
    if (line === '#START') started = true;
    if (line === '#END') done = true;
    if (!started || done) return;
    const marking = /^\[marking \S+ <JSFunction .*?\(sfi = (\S+)\)> for optimization to TURBOFAN.*reason: (.*)\]$/.exec(line);
    if (marking) side.marked.set(marking[1]!, marking[2]!);
    if (line.startsWith('[completed compiling') && line.includes('TURBOFAN')) {
      side.compiles[bucket] = (side.compiles[bucket] ?? 0) + 1;
      inc(side.fine.compiles);
      const took = /took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
      const ms = took ? Number(took[1]) + Number(took[2]) + Number(took[3]) : 0;
      side.compileMs += ms;
      if (started && !done) side.fine.maxJobMs[fine] = Math.max(side.fine.maxJobMs[fine] ?? 0, ms);
      const fn = /<JSFunction (\S*)/.exec(line)?.[1] ?? '?';
      if (bucket >= 1) side.late.push(`${fn} ${ms.toFixed(1)}`);
      const sfi = /\(sfi = (\S+)\)/.exec(line)?.[1] ?? '?';
      const osr = line.includes(' OSR ');
      side.jobs.push({ fn, ms, why: osr ? 'OSR' : (side.marked.get(sfi) ?? '?'), sfi });
    }
    const bail = /^\[bailout \(kind: [^,]+, reason: ([^)]*)\).*?<JSFunction (\S*)/.exec(line);
    const dep = /^\[marking dependent code .*?<SharedFunctionInfo (\S+)>.*reason: (.*)\]$/.exec(line);
    const what = bail ? `${bail[2]}: ${bail[1]}` : dep ? `${dep[1]}: ${dep[2]}` : null;
    if (what !== null) {
      side.deopts[bucket] = (side.deopts[bucket] ?? 0) + 1;
      inc(side.fine.deopts);
      side.reasons.set(what, (side.reasons.get(what) ?? 0) + 1);
    }
  });
  return new Promise((resolve) => {
    rl.on('close', () => {
      if (rawFile !== null) closeSync(rawFile);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const role = opt('role', '');
  if (role === 'server') return server();
  if (role === 'client') return client(Number(opt('port', '0')), Number(opt('trips', '11000')));

  const trips = Number(opt('trips', '11000'));
  const pin = opt('pin', 'same');
  const trace = !args.includes('--no-trace');
  /** `--v8 '<flags>'`: more V8 flags for both children (e.g. `--trace-turbo-inlining`, with `--raw`). */
  const v8Flags = opt('v8', '').split(' ').filter((f) => f !== '');
  const self = fileURLToPath(import.meta.url);
  const start = (r: string, cpu: string | undefined, extra: string[]): ChildProcess => {
    const node = [...(trace ? ['--trace-opt', '--trace-deopt'] : []), ...v8Flags, '--import', 'tsx', self, '--role', r, '--contender', contender, ...(secure ? ['--secure'] : []), ...extra];
    return cpu === undefined || pin === 'none'
      ? spawn(process.execPath, node, { stdio: ['pipe', 'pipe', 'inherit'], env: process.env })
      : spawn('taskset', ['-c', cpu, process.execPath, ...node], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  };
  const sides = { client: newSide(), server: newSide() };
  const srv = start('server', '0', []);
  let port = 0;
  const gotPort = new Promise<void>((resolve, reject) => {
    // A server that ends before it says its port (a crash: its stderr is ours) ends the run too.
    void watch('server', srv, sides.server, (line) => {
      if (!line.startsWith('#PORT ')) return false;
      port = Number(line.slice(6));
      resolve();
      return true;
    }).then(() => reject(new Error('warmup: the server ended before it was listening')));
  });
  await gotPort;
  let rtts: number[] = [];
  let clientStats: Record<string, number> = {};
  const cli = start('client', pin === 'cross' ? '1' : '0', ['--port', String(port), '--trips', String(trips)]);
  await watch('client', cli, sides.client, (line) => {
    if (line.startsWith('#STATS ')) {
      clientStats = JSON.parse(line.slice(7)) as Record<string, number>;
      return true;
    }
    if (!line.startsWith('#TRIPS ')) return false;
    rtts = JSON.parse(line.slice(7)) as number[];
    return true;
  });
  // The server's thread CPU up to now (asked on its stdin), then it is ended.
  srv.stdin!.write('\n');
  for (let i = 0; i < 250 && sides.server.cpu === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  srv.kill();

  const buckets = Math.ceil(trips / BUCKET);
  const row = (label: string, values: (number | undefined)[]): string =>
    `| ${label} | ${Array.from({ length: buckets }, (_, i) => String(values[i] ?? 0)).join(' | ')} |`;
  const slow = Array.from({ length: buckets }, (_, i) => rtts.slice(i * BUCKET, (i + 1) * BUCKET).filter((us) => us > 1000).length);
  const q = (list: number[], p: number): number => {
    const s = [...list].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  };
  const header = Array.from({ length: buckets }, (_, i) => `${i * BUCKET + 1}–${(i + 1) * BUCKET}`);
  const lines = [
    `Ping-pong warm-up${secure ? ' (encrypted)' : ''}, ${trips} trips of 64 B, pin ${pin}${trace ? ', V8 tracing on' : ''}; per 1,000-trip bucket:`,
    '',
    `| trips | ${header.join(' | ')} |`,
    `| --- | ${header.map(() => '---:').join(' | ')} |`,
    row('trips > 1 ms', slow),
  ];
  if (trace) {
    lines.push(row('TurboFan compiles, client', sides.client.compiles), row('TurboFan compiles, server', sides.server.compiles));
    lines.push(row('deoptimisations, client', sides.client.deopts), row('deoptimisations, server', sides.server.deopts));
  }
  console.log(lines.join('\n'));
  for (const [name, s] of Object.entries(sides)) {
    if (names && s.late.length > 0) console.log(`\n${name}: compiled after trip ${BUCKET} (function, ms): ${s.late.join('; ')}`);
    if (jobs) {
      const by = new Map<string, { n: number; ms: number }>();
      for (const j of s.jobs) {
        const e = by.get(j.why) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += j.ms;
        by.set(j.why, e);
      }
      const times = new Map<string, number>();
      for (const j of s.jobs) times.set(j.sfi, (times.get(j.sfi) ?? 0) + 1);
      const twice = [...new Set(s.jobs.filter((j) => times.get(j.sfi)! > 1).map((j) => `${j.fn} ×${times.get(j.sfi)}`))];
      const top = [...s.jobs].sort((a, b) => b.ms - a.ms).slice(0, 15).map((j) => `${j.fn} ${j.ms.toFixed(1)}`);
      console.log(`\n${name}: ${s.jobs.length} TurboFan jobs, ${Math.round(s.compileMs)} ms; by V8's reason: ${[...by].map(([w, e]) => `${w} ${e.n} (${Math.round(e.ms)} ms)`).join(', ')}; jobs under 1 ms: ${s.jobs.filter((j) => j.ms < 1).length}`);
      console.log(`${name}: compiled more than once: ${twice.join(', ') || 'none'}; largest: ${top.join('; ')}`);
    }
    if (s.reasons.size > 0) console.log(`\n${name} deoptimisations: ${[...s.reasons].map(([w, n]) => `${w} ×${n}`).join('; ')}`);
  }
  const sum = (a: (number | undefined)[]): number => a.reduce<number>((x, y) => x + (y ?? 0), 0);
  // The first window's slow trips (> 1 ms) by what either process did in their 100-trip interval
  // (a compile completed there; else a deoptimisation; else a GC; else none of these), against
  // the share of the window's intervals of each kind.
  // A compile is "large" when its job took 5 ms or more (--trace-opt's wall time of the job).
  const kindOf = (i: number): 'largeCompile' | 'compile' | 'deopt' | 'gc' | 'none' => {
    const any = (k: 'compiles' | 'deopts' | 'gcs'): boolean => (sides.client.fine[k][i] ?? 0) + (sides.server.fine[k][i] ?? 0) > 0;
    if (Math.max(sides.client.fine.maxJobMs[i] ?? 0, sides.server.fine.maxJobMs[i] ?? 0) >= 5) return 'largeCompile';
    return any('compiles') ? 'compile' : any('deopts') ? 'deopt' : any('gcs') ? 'gc' : 'none';
  };
  const slowBy = { largeCompile: 0, compile: 0, deopt: 0, gc: 0, none: 0 };
  const intervalsBy = { largeCompile: 0, compile: 0, deopt: 0, gc: 0, none: 0 };
  for (let i = BUCKET / FINE; i < Math.min(trips, 11_000) / FINE; i++) {
    const kind = kindOf(i);
    intervalsBy[kind]++;
    slowBy[kind] += rtts.slice(i * FINE, (i + 1) * FINE).filter((us) => us > 1000).length;
  }
  console.log(
    JSON.stringify({
      trips,
      pin,
      secure,
      slowPerBucket: slow,
      p50: q(rtts, 0.5),
      p99First10k: q(rtts.slice(0, 10_000), 0.99),
      p99After1000: q(rtts.slice(1000, 11_000), 0.99),
      // A compile stall longer than the PTO makes one fire (spuriously): the client's count.
      clientPtos: clientStats.ptos,
      ...(trace
        ? {
            compiles: { client: sum(sides.client.compiles), server: sum(sides.server.compiles) },
            compileMs: { client: Math.round(sides.client.compileMs), server: Math.round(sides.server.compileMs) },
            deopts: { client: sum(sides.client.deopts), server: sum(sides.server.deopts) },
            // Inside the benchmark's first window (its 1,000-trip warm-up excluded).
            compilesAfter1000: { client: sum(sides.client.compiles.slice(1)), server: sum(sides.server.compiles.slice(1)) },
          }
        : {}),
      ...(trace ? { windowSlowByInterval: slowBy, windowIntervals: intervalsBy } : {}),
      contender,
      threadCpuMs: { client: sides.client.cpu, server: sides.server.cpu },
    }),
  );
}

await main();
