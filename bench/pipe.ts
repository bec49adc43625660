/**
 * Why neither side of a loopback bulk transfer is saturated (issue 11): the bulk workload's two
 * processes (sender → receiver, 64 KiB writes, 127.0.0.1), with each side measured from its first
 * byte to its last (not from endpoint creation: the receiver waits ~300 ms for the sender's
 * process to start), and the two sides' timelines on one clock.
 *
 *  - both sides: event-loop utilisation and CPU (process and main thread) over the transfer;
 *  - the receiver: every socket batch (datagrams libuv read in one poll: fewer than 32 means the
 *    socket queue ran dry) and the loop's idle gaps between batches;
 *  - the sender: every ACK BBR processed (cwnd, bytes in flight, pacing rate, state, btlBw,
 *    rtProp, extra_acked, bytes acknowledged, the RTT sample) and every datagram sent.
 *
 * The receiver's idle gaps are then matched with what the sender was doing just before data
 * arrived again: was it sending (busy), or idle with a full window, and how full was the window.
 *
 *   node --import tsx bench/pipe.ts [--mb 100] [--runs 3] [--options '{"pacing":false}'] [--dump /tmp/x]
 *
 * (--dump writes each run's raw records to /tmp/x-N.json.)
 *
 * Diagnostic only: it patches Bbr.prototype.onAck and dgram.Socket.prototype.emit/send in its
 * child processes to record (preallocated typed arrays, no allocation per record).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import dgram from 'node:dgram';
import { numberOption, stringOption } from './lib/script-options.js';

const argv = process.argv.slice(2);
const role = stringOption(argv, 'role', 'parent');
const MB = 1e6;
const bytesTotal = numberOption(argv, 'mb', 100) * MB;
const extraOptions = JSON.parse(stringOption(argv, 'options', '{}')) as Record<string, unknown>;
/** performance.now() → the monotonic clock every process shares (ms). */
const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const mono = (): number => performance.now() + offset;

/** CPU ms of every thread of this process from /proc (user + system; 10 ms ticks): main thread first. */
function threadCpu(): { main: number; total: number } {
  let main = 0;
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in 100 Hz ticks
      total += ms;
      if (Number(tid) === process.pid) main = ms;
    } catch {
      // the thread ended
    }
  }
  return { main, total };
}

/** The main thread's time on a CPU and waiting on a run queue (runnable, not running), ms: /proc schedstat. */
function mainSched(): { runMs: number; waitMs: number } {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { runMs: run! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return { runMs: NaN, waitMs: NaN };
  }
}

interface Window {
  wallMs: number;
  loopActiveMs: number;
  loopIdleMs: number;
  cpuMs: number;
  mainThreadCpuMs: number;
  otherThreadsCpuMs: number;
  /** The main thread runnable but not running (the other core busy with the peer, the JIT, GC threads, other load). */
  mainRunQueueMs: number;
}

/** Measures one window of the transfer: start() at the first byte, stop() at the last. */
class Meter {
  private elu = performance.eventLoopUtilization();
  private cpu = process.cpuUsage();
  private threads = threadCpu();
  private sched = mainSched();
  private t = 0;
  start(): void {
    this.t = mono();
    this.sched = mainSched();
    this.elu = performance.eventLoopUtilization();
    this.cpu = process.cpuUsage();
    this.threads = threadCpu();
  }
  stop(): Window {
    const elu = performance.eventLoopUtilization(this.elu);
    const cpu = process.cpuUsage(this.cpu);
    const threads = threadCpu();
    const sched = mainSched();
    const main = threads.main - this.threads.main;
    const total = threads.total - this.threads.total;
    return {
      wallMs: mono() - this.t,
      loopActiveMs: elu.active,
      loopIdleMs: elu.idle,
      cpuMs: (cpu.user + cpu.system) / 1000,
      mainThreadCpuMs: main,
      otherThreadsCpuMs: total - main,
      mainRunQueueMs: sched.waitMs - this.sched.waitMs,
    };
  }
}

/** Every GC of this process from now on, [start (monotonic ms), duration ms] pairs flattened. */
function gcLog(): number[] {
  const out: number[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) out.push(e.startTime + offset, e.duration);
  }).observe({ entryTypes: ['gc'] });
  return out;
}

async function loadEndpoint(): Promise<(o: Record<string, unknown>) => Promise<any>> {
  const mod = (await import('../src/index.js')) as unknown as { createEndpoint: (o: Record<string, unknown>) => Promise<any> };
  return mod.createEndpoint;
}

// ------------------------------------------------------------------------------------ receiver

async function receiver(): Promise<void> {
  const cap = 400_000;
  const batchStart = new Float64Array(cap);
  const batchEnd = new Float64Array(cap);
  const batchCount = new Uint16Array(cap);
  /** The loop's idle time (ms, cumulative) when each batch began. */
  const batchIdle = new Float64Array(cap);
  let batches = 0;
  let inBatch = 0;
  let recording = false;
  const endBatch = (): void => {
    if (batches < cap) {
      batchEnd[batches] = mono();
      batchCount[batches] = inBatch;
      batches++;
    }
    inBatch = 0;
  };
  const proto = dgram.Socket.prototype as unknown as { emit: (this: unknown, name: string, ...a: unknown[]) => boolean };
  const emit = proto.emit;
  proto.emit = function (this: unknown, name: string, ...a: unknown[]): boolean {
    if (name === 'message' && recording) {
      const first = inBatch === 0;
      if (first && batches < cap) {
        batchStart[batches] = mono();
        batchIdle[batches] = performance.eventLoopUtilization().idle;
      }
      inBatch++;
      const r = emit.call(this, name, ...a);
      // After the endpoint's listener: this runs after its batch-end ACK flush (setImmediate order).
      if (first) setImmediate(endBatch);
      return r;
    }
    return emit.call(this, name, ...a);
  };
  const gcs = gcLog();
  const createEndpoint = await loadEndpoint();
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...extraOptions });
  server.on('error', () => undefined);
  const whole = new Meter();
  const second = new Meter();
  recording = true;
  const done = new Promise<Record<string, unknown>>((resolve) => {
    server.on('connection', (conn: any) => {
      conn.on('error', () => undefined);
      let bytes = 0;
      let firstAt = 0;
      let halfAt = 0;
      conn.on('message', (msg: Uint8Array) => {
        if (bytes === 0) {
          firstAt = mono();
          whole.start();
        }
        bytes += msg.byteLength;
        if (halfAt === 0 && bytes >= bytesTotal / 2) {
          halfAt = mono();
          second.start();
        }
        if (bytes >= bytesTotal) {
          const lastAt = mono();
          const w = whole.stop();
          const h = second.stop();
          // Let the batch in progress end.
          setImmediate(() =>
            resolve({
              firstAt,
              halfAt,
              lastAt,
              whole: w,
              secondHalf: h,
              stats: conn.stats(),
              batches: Array.from(batchCount.subarray(0, batches)),
              batchStart: Array.from(batchStart.subarray(0, batches)),
              batchEnd: Array.from(batchEnd.subarray(0, batches)),
              batchIdle: Array.from(batchIdle.subarray(0, batches)),
              gcs,
            }),
          );
        }
      });
    });
  });
  process.send!({ port: server.address().port });
  const result = await done;
  process.send!(result);
  // Stay until the sender has its last ACKs (the parent then ends us).
  process.on('disconnect', () => process.exit(0));
}

// ------------------------------------------------------------------------------------ sender

async function sender(port: number): Promise<void> {
  const { Bbr } = await import('../src/core/congestion/bbr.js');
  const cap = 200_000;
  const cols = ['t', 'now', 'inflight', 'cwnd', 'pacing', 'mode', 'btlBw', 'rtProp', 'extraAcked', 'acked', 'rtt', 'rate', 'appLimited'] as const;
  const acks = cols.map(() => new Float64Array(cap));
  let n = 0;
  const modes = ['startup', 'drain', 'probe-bw', 'probe-rtt'];
  const proto = Bbr.prototype as unknown as { onAck: (this: any, ack: any) => void };
  const onAck = proto.onAck;
  proto.onAck = function (this: any, ack: any): void {
    onAck.call(this, ack);
    if (n < cap) {
      const row = [mono(), ack.now, ack.bytesInFlight, this.window, this.pacingRate, modes.indexOf(this.mode), this.btlBw, this.rtProp, this.extraAcked, ack.ackedBytes, ack.rttSample, ack.deliveryRate, ack.appLimited ? 1 : 0];
      for (let i = 0; i < row.length; i++) acks[i]![n] = row[i] as number;
      n++;
    }
  };
  const { BlockedTime } = await import('../src/core/blocked-time.js');
  const causeAt = new Float64Array(400_000);
  const causeOf = new Uint8Array(400_000);
  let causes = 0;
  const bproto = BlockedTime.prototype as unknown as { set: (this: any, now: number, cause: number) => void };
  const bset = bproto.set;
  bproto.set = function (this: any, now: number, cause: number): void {
    if (cause !== this.cause && !this.stopped && causes < causeAt.length) {
      causeAt[causes] = mono();
      causeOf[causes++] = cause;
    }
    bset.call(this, now, cause);
  };
  const sendTimes = new Float64Array(400_000);
  let sends = 0;
  const sproto = dgram.Socket.prototype as unknown as { send: (this: unknown, ...a: unknown[]) => void };
  const send = sproto.send;
  sproto.send = function (this: unknown, ...a: unknown[]): void {
    if (sends < sendTimes.length) sendTimes[sends++] = mono();
    return send.apply(this, a);
  };

  // Every wake-up of the sender's loop (a batch of ACKs, a timer) with the loop's idle time so far.
  const wakeAt = new Float64Array(400_000);
  const wakeIdle = new Float64Array(400_000);
  const wakeKind = new Uint8Array(400_000);
  let wakes = 0;
  const mark = (kind: number): void => {
    if (wakes < wakeAt.length) {
      wakeAt[wakes] = mono();
      wakeIdle[wakes] = performance.eventLoopUtilization().idle;
      wakeKind[wakes++] = kind;
    }
  };
  let inAckBatch = false;
  const endAckBatch = (): void => {
    inAckBatch = false;
  };
  const eproto = dgram.Socket.prototype as unknown as { emit: (this: unknown, name: string, ...a: unknown[]) => boolean };
  const emit = eproto.emit;
  const realImmediate = globalThis.setImmediate;
  eproto.emit = function (this: unknown, name: string, ...a: unknown[]): boolean {
    if (name === 'message' && !inAckBatch) {
      inAckBatch = true;
      mark(1);
      realImmediate(endAckBatch);
    }
    return emit.call(this, name, ...a);
  };
  const realTimeout = globalThis.setTimeout;
  (globalThis as any).setTimeout = (fn: (...x: unknown[]) => void, ms?: number, ...rest: unknown[]) =>
    realTimeout((...x: unknown[]) => (mark(2), fn(...x)), ms, ...rest);
  (globalThis as any).setImmediate = (fn: (...x: unknown[]) => void, ...rest: unknown[]) => realImmediate((...x: unknown[]) => (mark(3), fn(...x)), ...rest);
  const gcs = gcLog();
  const createEndpoint = await loadEndpoint();
  const client = await createEndpoint({ host: '127.0.0.1', port: 0, ...extraOptions });
  client.on('error', () => undefined);
  const conn = await client.connect(port, '127.0.0.1');
  conn.on('error', () => undefined);
  const chunkBytes = 64 * 1024;
  const chunk = Buffer.alloc(chunkBytes, 0x61);
  n = 0;
  sends = 0;
  causes = 0;
  wakes = 0;
  gcs.length = 0;
  const whole = new Meter();
  const second = new Meter();
  const startAt = mono();
  whole.start();
  let written = 0;
  let halfAt = 0;
  while (written < bytesTotal) {
    const len = Math.min(chunkBytes, bytesTotal - written);
    written += len;
    if (halfAt === 0 && written >= bytesTotal / 2) {
      halfAt = mono();
      second.start();
    }
    if (!conn.send(len === chunkBytes ? chunk : chunk.subarray(0, len))) await new Promise<void>((r) => conn.once('drain', r));
  }
  await conn.flush();
  const doneAt = mono();
  const w = whole.stop();
  const h = second.stop();
  const table: Record<string, number[]> = {};
  cols.forEach((c, i) => (table[c] = Array.from(acks[i]!.subarray(0, n))));
  process.send!(
    { startAt, halfAt, doneAt, whole: w, secondHalf: h, stats: conn.stats(), acks: table, sends: Array.from(sendTimes.subarray(0, sends)), causeAt: Array.from(causeAt.subarray(0, causes)), causeOf: Array.from(causeOf.subarray(0, causes)), wakeAt: Array.from(wakeAt.subarray(0, wakes)), wakeIdle: Array.from(wakeIdle.subarray(0, wakes)), wakeKind: Array.from(wakeKind.subarray(0, wakes)), gcs },
    () => process.exit(0),
  );
}

// ------------------------------------------------------------------------------------ parent

function child(args: string[], onMessage: (m: any, p: ChildProcess) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    p.on('message', (m) => onMessage(m, p));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${args.join(' ')} exited ${code}`))));
  });
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

function analyse(r: any, s: any): void {
  const mb = bytesTotal / MB;
  const goodput = mb / ((r.lastAt - s.startAt) / 1000);
  const secondHalf = mb / 2 / ((r.lastAt - r.halfAt) / 1000);
  console.log(`goodput ${f(goodput)} MB/s (second half ${f(secondHalf)}), sender start → receiver first byte ${f(r.firstAt - s.startAt, 2)} ms`);
  for (const [name, side] of [['sender', s], ['receiver', r]] as const) {
    for (const [label, w] of [['whole', side.whole], ['2nd half', side.secondHalf]] as const) {
      console.log(
        `  ${name.padEnd(8)} ${label.padEnd(8)} wall ${f(w.wallMs).padStart(6)} ms  loop active ${f(w.loopActiveMs).padStart(6)} idle ${f(w.loopIdleMs).padStart(6)} (busy ${f((100 * w.loopActiveMs) / (w.loopActiveMs + w.loopIdleMs), 0)} %)  cpu ${f(w.cpuMs).padStart(6)} (main ${w.mainThreadCpuMs}, other threads ${w.otherThreadsCpuMs}), main thread on a run queue ${f(w.mainRunQueueMs)} ms`,
      );
    }
  }
  // Receiver batches during the transfer.
  const counts: number[] = r.batches;
  const dry = counts.filter((c) => c < 32).length;
  const gaps: number[] = [];
  for (let i = 1; i < counts.length; i++) gaps.push(r.batchIdle[i] - r.batchIdle[i - 1]);
  const idleGaps = gaps.filter((g) => g > 0.05);
  const sumGaps = idleGaps.reduce((a, b) => a + b, 0);
  console.log(
    `  receiver batches ${counts.length}, datagrams/batch p10/50/90 ${quantile(counts, 0.1)}/${quantile(counts, 0.5)}/${quantile(counts, 0.9)}; ` +
      `< 32 (queue ran dry) ${dry} (${f((100 * dry) / counts.length, 0)} %); loop idle > 50 µs between batches ${idleGaps.length} times, sum ${f(sumGaps)} ms, p50/p90/max ${f(quantile(idleGaps, 0.5), 3)}/${f(quantile(idleGaps, 0.9), 3)}/${f(Math.max(...idleGaps), 2)} ms`,
  );
  // Sender per ACK.
  const a = s.acks;
  const len = a.t.length;
  const modeTime = [0, 0, 0, 0];
  for (let i = 1; i < len; i++) modeTime[a.mode[i - 1]]! += a.t[i] - a.t[i - 1];
  const steady = [...Array(len).keys()].filter((i) => a.t[i] > s.startAt + 50);
  const pick = (col: string): number[] => steady.map((i) => a[col][i]);
  const q3 = (xs: number[], d = 0, k = 1): string => `${f(quantile(xs, 0.1) * k, d)}/${f(quantile(xs, 0.5) * k, d)}/${f(quantile(xs, 0.9) * k, d)}`;
  console.log(
    `  sender ACKs ${len}; ms in startup/drain/probe-bw/probe-rtt ${modeTime.map((x) => f(x)).join('/')}; after 50 ms, p10/50/90: ` +
      `cwnd ${q3(pick('cwnd'), 0, 1e-3)} KB, in flight after ACK ${q3(pick('inflight'), 0, 1e-3)} KB, acked/ACK ${q3(pick('acked'), 0, 1e-3)} KB, ` +
      `btlBw ${q3(pick('btlBw'), 0, 1e-3)} MB/s, rtProp ${q3(pick('rtProp'), 3)} ms, rtt sample ${q3(pick('rtt').filter((x) => x > 0), 3)} ms, extra_acked ${q3(pick('extraAcked'), 0, 1e-3)} KB, pacing ${q3(pick('pacing'), 0, 1e-3)} MB/s`,
  );
  console.log(`  sender stats: blocked cwnd ${f(s.stats.timeBlockedByCongestion)} pacing ${f(s.stats.timeBlockedByPacing)} ms, lost ${s.stats.packetsLost}, minRtt ${f(s.stats.minRtt, 3)} srtt ${f(s.stats.srtt, 3)}`);
  // The receiver's loop idle between batches (> 20 µs), and what the sender was doing meanwhile,
  // at 5 µs steps: in a GC; its loop idle (waiting for an ACK with the window full, for the
  // pacer, or for nothing); sending (a datagram within 30 µs); or busy otherwise (or descheduled).
  const sends: number[] = s.sends;
  const causeAt: number[] = s.causeAt;
  const causeOf: number[] = s.causeOf;
  const idleSpans: [number, number][] = [];
  for (let i = 1; i < s.wakeAt.length; i++) {
    const d = s.wakeIdle[i] - s.wakeIdle[i - 1];
    if (d > 0.002) idleSpans.push([s.wakeAt[i] - d, s.wakeAt[i]]);
  }
  const gcSpans: [number, number][] = [];
  for (let i = 0; i < s.gcs.length; i += 2) gcSpans.push([s.gcs[i], s.gcs[i] + s.gcs[i + 1]]);
  const by = { gc: 0, idleCwnd: 0, idlePacing: 0, idleOther: 0, sending: 0, busy: 0 };
  const waitsByPhase = [0, 0, 0];
  let waits = 0;
  let waitSum = 0;
  const step = 0.005;
  let j = 0;
  let c = 0;
  let w = 0;
  let g = 0;
  for (let i = 1; i < counts.length; i++) {
    const idle = r.batchIdle[i] - r.batchIdle[i - 1];
    if (idle <= 0.02) continue;
    // The idle stretch ends when the next batch begins.
    const g1 = r.batchStart[i];
    const g0 = Math.max(r.batchEnd[i - 1], g1 - idle);
    waits++;
    waitSum += idle;
    const phase = g0 < r.firstAt + 50 ? 0 : g0 < r.halfAt ? 1 : 2;
    waitsByPhase[phase]! += idle;
    for (let t = g0; t < g1; t += step) {
      while (j < sends.length && sends[j]! < t - 0.03) j++;
      while (c < causeAt.length && causeAt[c]! <= t) c++;
      while (w < idleSpans.length && idleSpans[w]![1] < t) w++;
      while (g < gcSpans.length && gcSpans[g]![1] < t) g++;
      const cause = c > 0 ? causeOf[c - 1]! : 4;
      if (g < gcSpans.length && gcSpans[g]![0] <= t) by.gc += step;
      else if (w < idleSpans.length && idleSpans[w]![0] <= t) {
        if (cause === 1) by.idleCwnd += step;
        else if (cause === 2) by.idlePacing += step;
        else by.idleOther += step;
      } else if (j < sends.length && sends[j]! <= t + 0.03) by.sending += step;
      else by.busy += step;
    }
  }
  const rgc = r.gcs.filter((_: number, i: number) => i % 2 === 1 && r.gcs[i - 1] >= r.firstAt && r.gcs[i - 1] <= r.lastAt);
  const sgc = gcSpans.filter(([a0]) => a0 >= s.startAt && a0 <= r.lastAt);
  console.log(
    `  receiver loop idle between batches (> 20 µs): ${waits}, ${f(waitSum)} ms (first 50 ms ${f(waitsByPhase[0]!)}, rest of 1st half ${f(waitsByPhase[1]!)}, 2nd half ${f(waitsByPhase[2]!)}); ` +
      `the sender meanwhile: in a GC ${f(by.gc)} ms, loop idle with the window full ${f(by.idleCwnd)}, for the pacer ${f(by.idlePacing)}, otherwise ${f(by.idleOther)}, sending ${f(by.sending)}, busy otherwise or descheduled ${f(by.busy)}`,
  );
  console.log(
    `  GCs during the transfer: receiver ${rgc.length}, ${f(rgc.reduce((x: number, y: number) => x + y, 0))} ms; sender ${sgc.length}, ${f(sgc.reduce((x, [a0, a1]) => x + a1 - a0, 0))} ms`,
  );
}

async function parent(): Promise<void> {
  const runs = numberOption(argv, 'runs', 3);
  for (let run = 0; run < runs; run++) {
    let port = 0;
    let rres: any;
    let sres: any;
    let portReady!: () => void;
    const ready = new Promise<void>((r) => (portReady = r));
    let rchild!: ChildProcess;
    const rp = child(['--role', 'receiver', ...argv], (m, p) => {
      rchild = p;
      if (m.port !== undefined) {
        port = m.port;
        portReady();
      } else rres = m;
    });
    await ready;
    await child(['--role', 'sender', '--port', String(port), ...argv], (m) => (sres = m));
    rchild.disconnect();
    await rp;
    console.log(`run ${run + 1}/${runs}:`);
    const dump = stringOption(argv, 'dump', '');
    if (dump !== '') writeFileSync(`${dump}-${run + 1}.json`, JSON.stringify({ receiver: rres, sender: sres }));
    analyse(rres, sres);
  }
}

if (role === 'receiver') await receiver();
else if (role === 'sender') await sender(numberOption(argv, 'port', 0));
else await parent();
