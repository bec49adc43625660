/**
 * What the slow round trips of a steady ping-pong overlap: 64-byte round trips between two
 * reliable-dgram processes pinned as in the benchmark (`taskset -c`, every thread of each
 * process), and for a window of trips (default 11,001–21,000, the benchmark's steady state) the
 * quantiles, the trips at or over the window's p99 that overlapped a GC of either process or a
 * timer callback of either process, the GCs and timer callbacks in the window, and each process's
 * CPU time per trip.
 *
 *   node --import tsx bench/tail.ts [--pin same|cross] [--trips 21000] [--from 11000] [--secure] [--dump slow.json]
 *
 * `--dump FILE`: the two processes' ids and the slow trips' [start, duration] (ms, CLOCK_MONOTONIC)
 * as JSON, to match against `perf sched record -k CLOCK_MONOTONIC` (who ran on the CPU meanwhile).
 *
 * Timer callbacks are counted by wrapping `setTimeout` and `setImmediate` in both processes
 * (labelled by their delay). Counts (GCs, callbacks, CPU per trip) hold on a busy machine; the
 * quantiles do not. Not part of `npm run bench`: a diagnostic for docs/performance.md.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createEndpoint, type Connection } from '../src/index.js';
import { createNodeSuite } from '../src/crypto/node-suite.js';
import { stringOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => stringOption(args, name, dflt);
const secure = args.includes('--secure');
const PRIVATE_KEY = Buffer.alloc(32, 0x2a);

/** Milliseconds on the system's monotonic clock, the same in both processes. */
const MONO = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const mono = (): number => MONO + performance.now();

/** [start, duration] ms of each GC; [start, duration, label] of each timer callback. */
const gcs: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([MONO + e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });
const fires: [number, number, string][] = [];
for (const name of ['setTimeout', 'setImmediate'] as const) {
  const g = globalThis as unknown as Record<string, (fn: (...a: unknown[]) => unknown, ...rest: unknown[]) => unknown>;
  const original = g[name]!;
  g[name] = function (this: unknown, fn: (...a: unknown[]) => unknown, ...rest: unknown[]) {
    const label = name === 'setTimeout' ? `setTimeout ${Math.trunc(Number(rest[0] ?? 0))} ms` : 'setImmediate';
    const wrapped = function (this: unknown, ...a: unknown[]) {
      const s = mono();
      try {
        return fn.apply(this, a);
      } finally {
        fires.push([s, mono() - s, label]);
      }
    };
    return original.call(this, wrapped, ...rest);
  };
}

interface Report {
  gcs: [number, number][];
  fires: [number, number, string][];
  cpuUs: number;
}

async function server(): Promise<void> {
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...(secure ? { keyPair: { privateKey: PRIVATE_KEY } } : {}) });
  ep.on('connection', (c) => {
    c.on('error', () => undefined);
    c.on('message', (m) => c.send(m));
  });
  let cpu: NodeJS.CpuUsage | undefined;
  process.on('message', (m) => {
    if (m === 'mark') cpu = process.cpuUsage();
    if (m === 'done') {
      const used = process.cpuUsage(cpu);
      const report: Report = { gcs, fires, cpuUs: used.user + used.system };
      process.send!(report, () => process.exit(0));
    }
  });
  process.send!({ port: ep.address().port });
}

async function client(): Promise<void> {
  const trips = Number(opt('trips', '21000'));
  const from = Number(opt('from', '11000'));
  const self = fileURLToPath(import.meta.url);
  const child = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', self, '--role', 'server', ...(secure ? ['--secure'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0 });
  const conn: Connection = await ep.connect(port, '127.0.0.1', secure ? { serverKey: createNodeSuite().x25519Public(PRIVATE_KEY) } : {});
  if (secure && !conn.encrypted) throw new Error('--secure: the connection is not encrypted');
  conn.on('error', () => undefined);
  const payload = Buffer.alloc(64, 0x70);
  const start = new Float64Array(trips);
  const us = new Float64Array(trips);
  let cpu: NodeJS.CpuUsage | undefined;
  let cpuUs = 0;
  await new Promise<void>((resolve) => {
    let i = 0;
    let t0 = 0;
    const next = (): void => {
      t0 = performance.now();
      start[i] = MONO + t0;
      conn.send(payload);
    };
    conn.on('message', () => {
      us[i] = (performance.now() - t0) * 1000;
      i++;
      if (i === from) {
        child.send('mark');
        cpu = process.cpuUsage();
      }
      if (i === trips) {
        const used = process.cpuUsage(cpu);
        cpuUs = used.user + used.system;
        resolve();
        return;
      }
      next();
    });
    next();
  });
  child.send('done');
  const srv = await new Promise<Report>((resolve) => child.once('message', (m) => resolve(m as Report)));
  const window: number[] = [];
  for (let i = from; i < trips; i++) window.push(i);
  const sorted = window.map((i) => us[i]!).sort((a, b) => a - b);
  const q = (p: number): number => Math.round(sorted[Math.floor(p * (sorted.length - 1))]! * 10) / 10;
  const p99 = q(0.99);
  const slow = window.filter((i) => us[i]! >= p99);
  const overlaps = (i: number, list: [number, number, ...unknown[]][]): boolean =>
    list.some(([s, d]) => s < start[i]! + us[i]! / 1000 && s + d > start[i]!);
  const t0 = start[from]!;
  const t1 = start[trips - 1]! + us[trips - 1]! / 1000;
  const inWindow = <T extends [number, ...unknown[]]>(list: T[]): T[] => list.filter(([s]) => s >= t0 && s <= t1);
  const byLabel = (list: [number, number, string][]): Record<string, number> =>
    inWindow(list).reduce<Record<string, number>>((acc, [, , label]) => ((acc[label] = (acc[label] ?? 0) + 1), acc), {});
  const n = trips - from;
  const dump = opt('dump', '');
  if (dump !== '') {
    const slowTrips = slow.map((i) => [start[i]!, us[i]! / 1000]);
    writeFileSync(dump, JSON.stringify({ clientPid: process.pid, serverPid: child.pid, window: [t0, t1], p99, slowTrips }));
  }
  console.log(
    JSON.stringify({
      pin: opt('pin', 'same'),
      secure,
      window: [from + 1, trips],
      p50: q(0.5),
      p99,
      p999: q(0.999),
      slowTrips: slow.length,
      slowOverlappingGc: slow.filter((i) => overlaps(i, gcs) || overlaps(i, srv.gcs)).length,
      slowOverlappingTimer: slow.filter((i) => overlaps(i, fires) || overlaps(i, srv.fires)).length,
      gcs: { client: inWindow(gcs).length, server: inWindow(srv.gcs).length },
      timerCallbacks: { client: byLabel(fires), server: byLabel(srv.fires) },
      cpuUsPerTrip: { client: Math.round((cpuUs / n) * 100) / 100, server: Math.round((srv.cpuUs / n) * 100) / 100 },
    }),
  );
  conn.destroy();
  await ep.close();
  process.exit(0);
}

if (opt('role', '') === 'server') await server();
else if (opt('role', '') === 'client') await client();
else {
  // Both processes pinned whole (all their threads) as the benchmark pins them: the server on
  // CPU 0, the client on CPU 0 (same) or 1 (cross).
  const self = fileURLToPath(import.meta.url);
  const cpu = opt('pin', 'same') === 'cross' ? '1' : '0';
  const c = spawn('taskset', ['-c', cpu, process.execPath, '--import', 'tsx', self, '--role', 'client', ...args], { stdio: 'inherit' });
  await new Promise((resolve) => c.on('exit', resolve));
}
