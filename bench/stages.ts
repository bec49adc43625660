/**
 * Where a round trip's time goes: ping-pong between two reliable-dgram processes with the shell's
 * stage trace on (src/node/stage-trace.ts), then each trip cut into the stages it passed on both
 * sides, and the breakdown of the median and the 99th-percentile trips printed (markdown, then one
 * JSON line).
 *
 *   node --import tsx bench/stages.ts [--trips 10000] [--warmup 1000] [--size 64] [--pin same|cross|none]
 *
 * Timestamps are on the system's monotonic clock (process.hrtime), the same in both processes.
 * GC pauses of both processes are matched to the stage they fell into. Not part of `npm run bench`:
 * it is a diagnostic (tracing is off in every other benchmark).
 */
import { fork, execFileSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { createEndpoint } from '../src/index.js';
import { enableStageTrace, Stage, type StageRecorder } from '../src/node/stage-trace.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const rdOptions = JSON.parse(process.env.BENCH_RD_OPTIONS ?? '{}') as Record<string, unknown>;

interface Marks {
  stages: number[];
  times: number[];
  values: number[];
}
/** [start ms (monotonic), duration ms, kind] of each GC. */
type Gc = [number, number, number];

function watchGc(rec: StageRecorder): Gc[] {
  const gcs: Gc[] = [];
  const offset = rec.now() - performance.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime + offset, e.duration, ((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0)]);
  }).observe({ entryTypes: ['gc'] });
  return gcs;
}

function pin(cpu: string | undefined): void {
  if (cpu === undefined) return;
  try {
    execFileSync('taskset', ['-pc', cpu, String(process.pid)], { stdio: 'ignore' });
  } catch {
    // no taskset: unpinned
  }
}

async function server(): Promise<void> {
  pin(process.env.STAGES_CPU);
  const rec = enableStageTrace();
  const gcs = watchGc(rec);
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
  ep.on('connection', (c) => {
    c.on('error', () => undefined);
    c.on('message', (m) => c.send(m));
  });
  process.send!({ port: ep.address().port });
  process.on('message', (m) => {
    if (m === 'reset') {
      rec.length = 0;
      gcs.length = 0;
      process.send!('reset-done');
    } else if (m === 'done') {
      process.send!({ marks: rec.drain(), gcs }, () => process.exit(0));
    }
  });
}

/** The stages of one trip in order: side, stage, name, and the earlier stage it must follow. */
const CANON: [side: 'c' | 's', stage: number, name: string, after: number][] = [
  ['c', Stage.AppSend, 'client send()', -1],
  ['c', Stage.Built, 'client packet built', 0],
  ['c', Stage.Sent, 'client socket.send returned', 1],
  // On one CPU the kernel may switch to the woken server inside the client's sendto(): the
  // server's stages can come before the client's socket.send returns.
  ['s', Stage.Message, 'server socket message', 1],
  ['s', Stage.Decoded, 'server engine input done', 3],
  ['s', Stage.Event, 'server message event', 4],
  ['s', Stage.AppSend, 'server send()', 5],
  ['s', Stage.Built, 'server packet built', 6],
  ['s', Stage.Sent, 'server socket.send returned', 7],
  ['c', Stage.Message, 'client socket message', 7],
  ['c', Stage.Decoded, 'client engine input done', 9],
  ['c', Stage.Event, 'client message event', 10],
  // Optional, for the parts of the wire segments: each sender's flush finishing after its send.
  ['c', Stage.FlushDone, 'client flush done', 2],
  ['s', Stage.FlushDone, 'server flush done', 8],
];
/** Reported segments: [from, to] indexes into CANON. */
const SEGMENT_PAIRS: [number, number][] = [
  [0, 1],
  [1, 3],
  [3, 4],
  [4, 5],
  [5, 6],
  [6, 7],
  [7, 9],
  [9, 10],
  [10, 11],
  [1, 2],
  [7, 8],
  [2, 12],
  [8, 13],
];
const SEGMENT_NAMES: Record<string, string> = {
  '0,1': 'client: send() → packet built (engine)',
  '1,3': 'client packet built → server socket message (sendto, kernel, wake-up)',
  '3,4': 'server: engine input (route, CRC, decode, ACK processing)',
  '4,5': 'server: engine input → message event',
  '5,6': 'server: application (message event → send())',
  '6,7': 'server: send() → packet built (engine)',
  '7,9': 'server packet built → client socket message (sendto, kernel, wake-up)',
  '9,10': 'client: engine input',
  '10,11': 'client: engine input → message event',
  '1,2': '(inside the above) client socket.send() call',
  '7,8': '(inside the above) server socket.send() call',
  '2,12': '(inside the above) client: rest of its flush after the send',
  '8,13': '(inside the above) server: rest of its flush after the send',
};
const SEGMENTS = SEGMENT_PAIRS.map((p) => SEGMENT_NAMES[p.join(',')]!);
/** Segments that add up to the trip (the last four are parts of others). */
const SUMMED = SEGMENT_PAIRS.length - 4;

interface Trip {
  total: number;
  seg: number[];
  /** Extra work inside the trip, per side: datagrams built, microtask/immediate flushes, timer fires. */
  extra: Record<string, number>;
  gcSegments: number[];
  gcMs: number;
}

function sliceMarks(m: Marks, from: number, to: number): { stage: number; t: number; v: number }[] {
  // Binary search the first mark ≥ from.
  let lo = 0;
  let hi = m.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (m.times[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  const out = [];
  for (let i = lo; i < m.times.length && m.times[i]! <= to; i++) out.push({ stage: m.stages[i]!, t: m.times[i]!, v: m.values[i]! });
  return out;
}

export const missing: Record<string, number> = {};

function analyse(trips: [number, number][], client: Marks, server: Marks, cgc: Gc[], sgc: Gc[]): Trip[] {
  const out: Trip[] = [];
  for (const [t0, t1] of trips) {
    const sides = { c: sliceMarks(client, t0 - 1e-6, t1 + 1e-6), s: sliceMarks(server, t0, t1) };
    const at: number[] = [];
    let ok = true;
    for (const [side, stage, , after] of CANON) {
      const from = after < 0 ? t0 : at[after]!;
      const hit = sides[side].find((x) => x.stage === stage && x.t >= from);
      if (!hit && (stage === Stage.Sent || stage === Stage.FlushDone)) {
        // Optional: on one CPU the peer may finish the whole trip inside this sendto().
        at.push(NaN);
        continue;
      }
      if (!hit) {
        ok = false;
        missing[`${side}:${stage}`] = (missing[`${side}:${stage}`] ?? 0) + 1;
        break;
      }
      at.push(hit.t);
    }
    if (!ok) continue;
    const extra: Record<string, number> = {};
    for (const side of ['c', 's'] as const) {
      for (const x of sides[side]) {
        const key =
          x.stage === Stage.Built ? 'datagrams' : x.stage === Stage.MicrotaskFlush ? 'microtask flush' : x.stage === Stage.ImmediateFlush ? 'setImmediate flush' : x.stage === Stage.Timer ? 'timer fired' : x.stage === Stage.SendCallback ? 'send callbacks' : null;
        if (key) extra[`${side}:${key}`] = (extra[`${side}:${key}`] ?? 0) + 1;
      }
    }
    const seg = SEGMENT_PAIRS.map(([a, b]) => (at[b]! - at[a]!) * 1000);
    const gcSegments: number[] = [];
    let gcMs = 0;
    for (const [s, d] of [...cgc, ...sgc]) {
      if (s + d < t0 || s > t1) continue;
      gcMs += d;
      const i = SEGMENT_PAIRS.slice(0, SUMMED).findIndex(([a, b]) => s + d >= at[a]! && s < at[b]!);
      gcSegments.push(i);
    }
    out.push({ total: (t1 - t0) * 1000, seg, extra, gcSegments, gcMs });
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};

const mean = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x));
  return s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
};

function band(sorted: Trip[], lo: number, hi: number): Trip[] {
  const a = Math.floor(lo * (sorted.length - 1));
  const b = Math.max(a + 1, Math.ceil(hi * (sorted.length - 1)));
  return sorted.slice(a, b);
}

function report(trips: Trip[], meta: Record<string, unknown>): void {
  const sorted = [...trips].sort((a, b) => a.total - b.total);
  const q = (p: number): number => sorted[Math.floor(p * (sorted.length - 1))]!.total;
  const p50 = band(sorted, 0.49, 0.51);
  const p99 = band(sorted, 0.985, 0.995);
  const slow = sorted.filter((t) => t.total > 1000);
  const rows = SEGMENTS.map((name, i) => ({
    name,
    p50: median(p50.map((t) => t.seg[i]!)),
    p99: median(p99.map((t) => t.seg[i]!)),
    p99mean: mean(p99.map((t) => t.seg[i]!)),
    slowest: slow.filter((t) => t.seg.indexOf(Math.max(...t.seg.slice(0, SUMMED))) === i).length,
    gc: slow.filter((t) => t.gcSegments.includes(i)).length,
  }));
  const extras = (ts: Trip[]): Record<string, number> => {
    const sum: Record<string, number> = {};
    for (const t of ts) for (const [k, v] of Object.entries(t.extra)) sum[k] = (sum[k] ?? 0) + v;
    for (const k of Object.keys(sum)) sum[k] = Number((sum[k]! / Math.max(1, ts.length)).toFixed(2));
    return sum;
  };
  const f = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));
  console.log(`trips ${sorted.length}: p50 ${f(q(0.5))} µs, p99 ${f(q(0.99))} µs, p99.9 ${f(q(0.999))} µs, over 1 ms: ${slow.length} (${slow.filter((t) => t.gcMs > 0).length} overlap a GC)\n`);
  console.log('| stage | p50 trip, µs | p99 trips, median µs | p99 trips, mean µs | slow trips (>1 ms): largest stage | slow trips: GC in stage |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.name} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.p99mean)} | ${r.slowest} | ${r.gc} |`);
  console.log(`| **total** | ${f(median(p50.map((t) => t.total)))} | ${f(median(p99.map((t) => t.total)))} | ${f(p99.reduce((a, t) => a + t.total, 0) / Math.max(1, p99.length))} | ${slow.length} | |`);
  console.log(`\nper trip, p50 band: ${JSON.stringify(extras(p50))}\nper trip, p99 band: ${JSON.stringify(extras(p99))}`);
  console.log(
    JSON.stringify({
      ...meta,
      p50: q(0.5),
      p99: q(0.99),
      p999: q(0.999),
      over1ms: slow.length,
      slowWithGc: slow.filter((t) => t.gcMs > 0).length,
      rows,
      extrasP50: extras(p50),
      extrasP99: extras(p99),
    }),
  );
}

async function client(): Promise<void> {
  const trips = Number(opt('trips', '10000'));
  const warmup = Number(opt('warmup', '1000'));
  const size = Number(opt('size', '64'));
  const placement = opt('pin', 'same');
  const cpus = placement === 'same' ? ['0', '0'] : placement === 'cross' ? ['0', '1'] : [undefined, undefined];
  pin(cpus[1]);
  const rec = enableStageTrace();
  const gcs = watchGc(rec);
  const child = fork(new URL(import.meta.url).pathname, ['server'], {
    execArgv: process.execArgv,
    env: { ...process.env, ...(cpus[0] !== undefined ? { STAGES_CPU: cpus[0] } : {}) },
  });
  const { port } = await new Promise<{ port: number }>((r) => child.once('message', (m) => r(m as { port: number })));
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
  const conn = await ep.connect(port, '127.0.0.1');
  conn.on('error', () => undefined);
  const payload = Buffer.alloc(size, 0x70);
  const run = (n: number, record: [number, number][] | null): Promise<void> =>
    new Promise((resolve) => {
      let i = 0;
      let t0 = 0;
      const onMessage = (): void => {
        if (record) record.push([t0, rec.now()]);
        if (++i === n) {
          conn.off('message', onMessage);
          resolve();
          return;
        }
        t0 = rec.now();
        conn.send(payload);
      };
      conn.on('message', onMessage);
      t0 = rec.now();
      conn.send(payload);
    });
  await run(warmup, null);
  child.send('reset');
  await new Promise((r) => child.once('message', r));
  rec.length = 0;
  gcs.length = 0;
  const record: [number, number][] = [];
  await run(trips, record);
  const cm = rec.drain();
  child.send('done');
  const { marks, gcs: sgcs } = await new Promise<{ marks: Marks; gcs: Gc[] }>((r) => child.once('message', (m) => r(m as { marks: Marks; gcs: Gc[] })));
  report(analyse(record, cm, marks, gcs, sgcs), { missing, placement, trips, size, clientGc: gcs.length, serverGc: sgcs.length });
  conn.destroy();
  await ep.close();
  process.exit(0);
}

if (process.argv[2] === 'server') await server();
else await client();
