/**
 * reliable-dgram itself, through its public endpoint API (issue 4): createEndpoint, connect,
 * send → false → 'drain', 'message'. Loaded from the source tree so the benchmark measures the
 * working copy. Until `createEndpoint` is exported, availability() says so and the harness
 * prints a 'not available' line instead of numbers.
 */
import type {
  Contender,
  BulkReceiveResult,
  BulkSendResult,
  ManyClientResult,
  ManyServerResult,
  PingClientResult,
} from './types.js';
import { CcSampler } from '../lib/cc-sampler.js';
import { cpuMsSince, HalfMark, mainThreadRunQueueMs, maxRssBytes, settledHeapBytes, usSince, wallNow } from '../lib/measure.js';
import { runWithConcurrency } from '../lib/concurrency.js';
import { performance } from 'node:perf_hooks';

/** Where a side's busy time is measured from: its event loop, CPU and run-queue time at that moment. */
interface BusyMark {
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  cpu: NodeJS.CpuUsage;
  runQueueMs: number;
}

function busyMark(): BusyMark {
  return { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), runQueueMs: mainThreadRunQueueMs() };
}

/**
 * Since `since` (the sender's first write, the receiver's first byte: not endpoint creation,
 * which for the receiver includes waiting for the sender's process to start): the event loop's
 * idle (blocked waiting for I/O or a timer) and active milliseconds, the CPU, and the main
 * thread's time runnable but not running. A receiver that waits for data, or a sender that waits
 * on its window or pacer, shows it as idle; a side descheduled by the other's work or the JIT
 * shows it as run-queue time (idle in the loop's count if it happened while waiting).
 */
function busySince(since: BusyMark): Record<string, number> {
  const d = performance.eventLoopUtilization(since.elu);
  return { loopIdleMs: d.idle, loopActiveMs: d.active, transferCpuMs: cpuMsSince(since.cpu), runQueueMs: mainThreadRunQueueMs() - since.runQueueMs };
}

// The structural subset of the public API used here: written from the issue 4 contract so this
// file compiles before the endpoint lands.
interface Connection {
  send(data: Uint8Array): boolean;
  on(event: 'message', fn: (msg: Uint8Array) => void): unknown;
  on(event: 'error' | 'close', fn: (...args: unknown[]) => void): unknown;
  once(event: 'drain', fn: () => void): unknown;
  stats?(): unknown;
  flush?(): Promise<void>;
  close(): Promise<void>;
  destroy(err?: Error): void;
}
interface Endpoint {
  on(event: 'connection', fn: (conn: Connection) => void): unknown;
  on(event: 'error', fn: (err: unknown) => void): unknown;
  address(): { port: number } | null;
  connect(port: number, host: string): Promise<Connection>;
  close(): Promise<void>;
}
type CreateEndpoint = (o?: Record<string, unknown>) => Promise<Endpoint> | Endpoint;

let createEndpointFn: CreateEndpoint | undefined;

/** Extra endpoint options for experiments, e.g. BENCH_RD_OPTIONS='{"pacing":false}' (both sides). */
const experimentOptions = JSON.parse(process.env.BENCH_RD_OPTIONS ?? '{}') as Record<string, unknown>;

export async function availability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const mod = (await import('../../src/index.js')) as unknown as { createEndpoint?: unknown };
    if (typeof mod.createEndpoint !== 'function') {
      return { ok: false, reason: 'not available: src/index.ts does not export createEndpoint yet' };
    }
    createEndpointFn = mod.createEndpoint as CreateEndpoint;
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `not available: importing src/index.ts failed: ${(err as Error).message}` };
  }
}

/** Creates an endpoint with `preferred` options, or plain `base` if the endpoint rejects them. */
async function endpoint(base: Record<string, unknown>, preferred: Record<string, unknown> = {}): Promise<Endpoint> {
  if (createEndpointFn === undefined) throw new Error('reliable-dgram is not available');
  let ep: Endpoint;
  try {
    ep = await createEndpointFn({ ...base, ...preferred, ...experimentOptions });
  } catch (err) {
    if (Object.keys(preferred).length === 0) throw err;
    ep = await createEndpointFn({ ...base, ...experimentOptions });
  }
  ep.on('error', () => undefined);
  return ep;
}

function portOf(ep: Endpoint): number {
  const address = ep.address();
  if (address === null) throw new Error('endpoint is not bound');
  return address.port;
}

/** Numeric counters from conn.stats(), flattened one level ("rtt.smoothed"), for the JSON file. */
function numericStats(conn: Connection): Record<string, number> {
  const out: Record<string, number> = {};
  const stats = conn.stats?.();
  if (stats === null || typeof stats !== 'object') return out;
  for (const [key, value] of Object.entries(stats as Record<string, unknown>)) {
    if (typeof value === 'number') out[key] = value;
    else if (typeof value === 'bigint') out[key] = Number(value);
    else if (value !== null && typeof value === 'object') {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'number') out[`${key}.${inner}`] = v;
      }
    }
  }
  return out;
}

/**
 * The encrypted variant (issue 13): the server has a fixed key pair (benchmark only, so that the
 * client child process can pin it without a side channel), the client connects with `serverKey`.
 */
const BENCH_KEY_PAIR = {
  privateKey: '2qVB5pE1ZdO0vKkZ3JHu8gG8o1bXnK0aG2eWcS5p1Ek=',
  publicKey: '',
};

let secure = false;

function serverOptions(base: Record<string, unknown>): Record<string, unknown> {
  return secure ? { ...base, keyPair: { privateKey: BENCH_KEY_PAIR.privateKey } } : base;
}

async function connectTo(client: Endpoint, port: number, host: string): Promise<Connection> {
  if (!secure) return client.connect(port, host);
  const { createNodeSuite } = await import('../../src/crypto/node-suite.js');
  BENCH_KEY_PAIR.publicKey ||= Buffer.from(createNodeSuite().x25519Public(Buffer.from(BENCH_KEY_PAIR.privateKey, 'base64'))).toString('base64');
  const conn = await (client as unknown as { connect(p: number, h: string, o: { serverKey: string }): Promise<Connection> }).connect(port, host, {
    serverKey: BENCH_KEY_PAIR.publicKey,
  });
  if ((conn as unknown as { encrypted?: boolean }).encrypted !== true) throw new Error('the encrypted contender got a plaintext connection');
  return conn;
}

/**
 * The running bulk role's progress, for status() (a parent that timed out asks for it): the bytes
 * received (or written, and whether flush() was reached), and its connection once there is one.
 */
const progress: { bytes: number; expected: number; flushing: boolean; conn: Connection | null } = { bytes: 0, expected: 0, flushing: false, conn: null };

const plainContender: Contender = {
  name: 'reliable-dgram',

  status(): Record<string, unknown> {
    const { conn, ...rest } = progress;
    const state = (conn as unknown as { state?: string } | null)?.state;
    return { ...rest, connection: conn === null ? null : { state, ...numericStats(conn) } };
  },

  async bulkReceiver(o, ready): Promise<BulkReceiveResult> {
    const server = await endpoint(serverOptions({ host: o.host, port: 0 }));
    const cpu = process.cpuUsage();
    let mark: BusyMark | null = null;
    progress.expected = o.bytes;
    const result = new Promise<BulkReceiveResult>((resolve) => {
      server.on('connection', (conn) => {
        conn.on('error', () => undefined);
        progress.conn = conn;
        const sampler = CcSampler.start(conn, 'receiver');
        const half = new HalfMark(o.bytes);
        let bytes = 0;
        let firstAt = 0;
        conn.on('message', (msg) => {
          if (firstAt === 0) {
            firstAt = wallNow();
            mark = busyMark();
          }
          bytes += msg.byteLength;
          progress.bytes = bytes;
          half.update(bytes);
          if (bytes >= o.bytes) {
            sampler?.stop();
            resolve({ bytes, firstAt, lastAt: wallNow(), cpuMs: cpuMsSince(cpu), ...half.result(), maxRssBytes: maxRssBytes(), extra: { ...numericStats(conn), ...busySince(mark!) } });
          }
        });
      });
    });
    ready({ port: portOf(server) });
    return result;
  },

  async bulkSender(o): Promise<BulkSendResult> {
    const client = await endpoint({ host: o.host, port: 0 });
    const conn = await connectTo(client, o.port, o.host);
    conn.on('error', () => undefined);
    progress.conn = conn;
    progress.expected = o.bytes;
    const sampler = CcSampler.start(conn, 'sender');
    const chunk = Buffer.alloc(o.chunk, 0x61);
    const cpu = process.cpuUsage();
    const half = new HalfMark(o.bytes);
    const mark = busyMark();
    const startAt = wallNow();
    let written = 0;
    while (written < o.bytes) {
      const n = Math.min(o.chunk, o.bytes - written);
      written += n;
      progress.bytes = written;
      half.update(written);
      if (!conn.send(n === o.chunk ? chunk : chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => conn.once('drain', resolve));
      }
    }
    // Done means acknowledged: flush() if offered, else a graceful close (which waits for acks).
    const extraBefore = numericStats(conn);
    progress.flushing = true;
    if (typeof conn.flush === 'function') await conn.flush();
    else await conn.close();
    const doneAt = wallNow();
    sampler?.stop();
    const cpuMs = cpuMsSince(cpu);
    const halfFields = half.result();
    const extra = { ...extraBefore, ...numericStats(conn), ...busySince(mark) };
    return { bytes: written, startAt, doneAt, cpuMs, ...halfFields, maxRssBytes: maxRssBytes(), extra };
  },

  async pingServer(o, ready): Promise<void> {
    const server = await endpoint(serverOptions({ host: o.host, port: 0 }));
    server.on('connection', (conn) => {
      conn.on('error', () => undefined);
      conn.on('message', (msg) => conn.send(msg));
    });
    ready({ port: portOf(server) });
  },

  async pingClient(o): Promise<PingClientResult> {
    const client = await endpoint({ host: o.host, port: 0 });
    const conn = await connectTo(client, o.port, o.host);
    conn.on('error', () => undefined);
    const payload = Buffer.alloc(o.size, 0x70);
    const rttUs: number[] = [];
    let trip = 0;
    let start = 0n;
    await new Promise<void>((resolve) => {
      const next = (): void => {
        if (trip === o.warmup + o.trips) return resolve();
        start = process.hrtime.bigint();
        conn.send(payload);
      };
      conn.on('message', () => {
        const us = usSince(start);
        if (trip >= o.warmup) rttUs.push(us);
        trip += 1;
        next();
      });
      next();
    });
    conn.destroy();
    return { rttUs, lost: 0 };
  },

  async manyServer(o, ready): Promise<ManyServerResult> {
    // Raise the connection limits if the endpoint has such options; plain defaults otherwise.
    const server = await endpoint(
      serverOptions({ host: o.host, port: 0 }),
      { maxConnections: o.expected + 1000, maxConnectionsPerAddress: o.expected + 1000 },
    );
    let exchanged = 0;
    let connections = 0;
    const all = new Promise<void>((resolve) => {
      server.on('connection', (conn) => {
        connections += 1;
        conn.on('error', () => undefined);
        conn.on('close', () => (connections -= 1));
        conn.on('message', (msg) => {
          conn.send(msg);
          exchanged += 1;
          if (exchanged === o.expected) resolve();
        });
      });
    });
    // Baseline once bound: what is left to grow is per-connection state.
    const heapBeforeBytes = settledHeapBytes();
    const rssBeforeBytes = process.memoryUsage().rss;
    ready({ port: portOf(server) });
    await all;
    await new Promise((r) => setTimeout(r, 200));
    return {
      connections,
      heapBeforeBytes,
      heapAfterBytes: settledHeapBytes(),
      rssBeforeBytes,
      rssAfterBytes: process.memoryUsage().rss,
    };
  },

  async manyClients(o): Promise<ManyClientResult> {
    // One client endpoint per process, many connections on it: connection IDs demultiplex them.
    const client = await endpoint({ host: o.host, port: 0 }, { maxConnections: o.count + 100, maxPendingConnects: Math.max(256, o.concurrency) });
    const hello = Buffer.alloc(64, 0x68);
    const open: Connection[] = [];
    const startAt = wallNow();
    const { ok, failed } = await runWithConcurrency(o.count, o.concurrency, async () => {
      const conn = await connectTo(client, o.port, o.host);
      conn.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        conn.on('message', () => resolve());
        conn.send(hello);
      });
      open.push(conn);
    });
    return { established: ok, failed, startAt, doneAt: wallNow() };
  },
};

export const contender: Contender = plainContender;

/** reliable-dgram with encryption (a key pair on the server, `serverKey` on the client): bulk and ping-pong. */
export const encryptedContender: Contender = {
  name: 'reliable-dgram-encrypted',
  status: () => plainContender.status!(),
  bulkReceiver: (o, ready) => ((secure = true), plainContender.bulkReceiver!(o, ready)),
  bulkSender: (o) => ((secure = true), plainContender.bulkSender!(o)),
  pingServer: (o, ready) => ((secure = true), plainContender.pingServer!(o, ready)),
  pingClient: (o) => ((secure = true), plainContender.pingClient!(o)),
  // Not in the `many` workload (bulk and ping-pong only there); bench/idle-heap.ts measures it.
  manyServer: (o, ready) => ((secure = true), plainContender.manyServer!(o, ready)),
  manyClients: (o) => ((secure = true), plainContender.manyClients!(o)),
};
