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
 * `--sockets`: the same question over real sockets, with the disk: two endpoints in this one
 * process on 127.0.0.1 move `--size` MB (default 50) one way, untraced and with `qlogDir` (a fresh
 * temporary directory), alternating; per variant the CPU ms per MB of the whole process (both
 * endpoints, serialisation and the fs stream), scavenges and mark-sweeps per 100 MB, and the qlog
 * bytes written per MB moved. Counts rather than goodput, so that a busy machine blurs it less.
 *
 *   node --import tsx bench/trace-overhead.ts --sockets [--runs 5] [--size 50]
 *
 * On a shared machine the times are noisy; the ratios are the figure to read.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { createEndpoint } from '../src/index.js';
import type { QlogRecordSink, TraceDestination, TraceEvent } from '../src/core/trace.js';
import { qlogEventRecord } from '../src/node/qlog.js';
import { Pair } from '../test/helpers/pair.js';
import type { TraceRecorder } from '../src/testing/trace-recorder.js';
import { gcSettled } from './lib/measure.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const runs = Number(flag('runs', '5'));
const sockets = args.includes('--sockets');
const bytes = Number(flag('size', sockets ? '50' : '10')) * (sockets ? 1e6 : 1024 * 1024);

/**
 * off: untraced. events: event objects built and discarded (a `trace` callback that does
 * nothing). json: event objects serialised with JSON.stringify (the qlog writer before the
 * hand-written serialiser; still the path when `trace` and `qlogDir` are both set). qlog: the
 * hand-written text of src/core/qlog-tracer.ts (what `qlogDir` alone does before the disk).
 */
type Variant = 'off' | 'events' | 'json' | 'qlog';

/** A stand-in recorder: Pair only calls `sink()`. */
function recorderWith(sink: TraceDestination): TraceRecorder {
  return { sink: () => sink } as unknown as TraceRecorder;
}

function once(variant: Variant): { cpuMs: number; events: number; qlogBytes: number } {
  let events = 0;
  let qlogBytes = 0;
  const bytesOut: QlogRecordSink = {
    // The bytes go nowhere: one 64 KiB chunk, reused (what the writer's pool does).
    origin: 0,
    buf: new Uint8Array(64 * 1024),
    pos: 0,
    open(): boolean {
      events++;
      return true;
    },
    reserve(): void {
      qlogBytes += this.pos;
      this.pos = 0;
    },
    end(): void {},
  };
  const sink: TraceDestination =
    variant === 'events'
      ? () => {
          events++;
        }
      : variant === 'json'
        ? (e: TraceEvent) => {
            events++;
            qlogBytes += qlogEventRecord(e, 0).length;
          }
        : bytesOut;
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
  if (variant === 'qlog') qlogBytes += bytesOut.pos;
  return { cpuMs: (used.user + used.system) / 1000, events, qlogBytes };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface SocketRun {
  cpuMsPerMB: number;
  /** The kernel's part of it (sendmsg/recvmsg, and the file writes). */
  sysMsPerMB: number;
  scavengesPer100MB: number;
  markSweepsPer100MB: number;
  qlogBytesPerMB: number;
  goodputMBps: number;
}

let gcMinor = 0;
let gcMajor = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcMinor++;
    else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcMajor++;
  }
});

/** One bulk transfer over 127.0.0.1, both endpoints here; `qlog`: with qlogDir. */
async function socketOnce(qlog: boolean): Promise<SocketRun> {
  const dir = qlog ? mkdtempSync(join(tmpdir(), 'rd-qlog-')) : undefined;
  const options = dir === undefined ? {} : { qlogDir: dir };
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...options });
  const client = await createEndpoint({ host: '127.0.0.1', port: 0, ...options });
  const accepted = new Promise<import('../src/index.js').Connection>((resolve) => server.once('connection', resolve));
  const a = await client.connect(server.address().port, '127.0.0.1');
  const peer = await accepted;
  let got = 0;
  const done = new Promise<void>((resolve) =>
    peer.on('message', (m: Uint8Array) => {
      got += m.length;
      if (got >= bytes) resolve();
    }),
  );
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  await new Promise<void>((r) => setImmediate(r));
  const minor0 = gcMinor;
  const major0 = gcMajor;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(chunk.length, bytes - sent);
    sent += n;
    if (!a.send(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise<void>((r) => a.once('drain', r));
  }
  await done;
  const elapsed = performance.now() - t0;
  await Promise.all([client.close(), server.close()]);
  // The files are complete once the endpoints have closed (their streams have finished).
  const cpu = process.cpuUsage(cpu0);
  // GC entries are delivered asynchronously: let them arrive before counting.
  await gcSettled();
  const mb = bytes / 1e6;
  let qlogBytes = 0;
  if (dir !== undefined) {
    for (const f of readdirSync(dir)) qlogBytes += statSync(join(dir, f)).size;
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    cpuMsPerMB: (cpu.user + cpu.system) / 1000 / mb,
    sysMsPerMB: cpu.system / 1000 / mb,
    scavengesPer100MB: ((gcMinor - minor0) * 100) / mb,
    markSweepsPer100MB: ((gcMajor - major0) * 100) / mb,
    qlogBytesPerMB: qlogBytes / mb,
    goodputMBps: mb / (elapsed / 1000),
  };
}

async function socketsMain(): Promise<void> {
  gcObserver.observe({ entryTypes: ['gc'] });
  await socketOnce(false); // warm up the JIT
  await socketOnce(true);
  const results: Record<'off' | 'qlog', SocketRun[]> = { off: [], qlog: [] };
  // `--variant qlog` (or off): only that one, e.g. under `node --cpu-prof`.
  const only = flag('variant', '');
  for (let r = 0; r < runs; r++) {
    if (only !== 'qlog') results.off.push(await socketOnce(false));
    if (only !== 'off') results.qlog.push(await socketOnce(true));
  }
  gcObserver.disconnect();
  const pick = (v: 'off' | 'qlog', k: keyof SocketRun): number[] => results[v].map((x) => x[k]);
  console.log(`qlogDir over 127.0.0.1, ${bytes / 1e6} MB one way, both endpoints in one process, ${runs} alternating runs (median [min–max])`);
  console.log('variant  CPU ms/MB            of it sys  scavenges/100MB  mark-sweeps/100MB  qlog B/MB   goodput MB/s');
  const fmt = (xs: number[], d: number): string => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
  for (const v of ['off', 'qlog'] as const) {
    if (results[v].length === 0) continue;
    console.log(
      `${v.padEnd(8)} ${fmt(pick(v, 'cpuMsPerMB'), 2).padEnd(20)} ${median(pick(v, 'sysMsPerMB')).toFixed(2).padStart(9)}  ${median(pick(v, 'scavengesPer100MB')).toFixed(0).padStart(15)}  ${median(pick(v, 'markSweepsPer100MB')).toFixed(1).padStart(17)}  ${median(pick(v, 'qlogBytesPerMB')).toFixed(0).padStart(9)}   ${fmt(pick(v, 'goodputMBps'), 1)}`,
    );
  }
  const ratio = (k: keyof SocketRun): number => median(pick('qlog', k)) / median(pick('off', k));
  if (only === '') console.log(`qlog/off: CPU per MB ${ratio('cpuMsPerMB').toFixed(2)}×, goodput ${ratio('goodputMBps').toFixed(2)}×`);
  console.log(JSON.stringify({ bytes, runs, results }));
}

if (sockets) {
  await socketsMain();
  process.exit(0);
}


const variants: Variant[] = ['off', 'events', 'json', 'qlog'];
const cpu: Record<Variant, number[]> = { off: [], events: [], json: [], qlog: [] };
const info: Record<Variant, { events: number; qlogBytes: number }> = {
  off: { events: 0, qlogBytes: 0 },
  events: { events: 0, qlogBytes: 0 },
  json: { events: 0, qlogBytes: 0 },
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
