import fc from 'fast-check';
import { expect } from 'vitest';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import { Rng, SimNetwork, type Impairment } from '../../src/testing/index.js';
import { PausedProcess } from './paused-process.js';
import type { TraceEvent } from '../../src/core/trace.js';

/**
 * The benchmark's bulk transfer (bench/contenders/reliable-dgram.ts) on a SimNetwork, through
 * the public API, with either process paused at times (PausedProcess):
 * test/property/bulk-transfer.property.test.ts sweeps it.
 */

/** Virtual time allowed for one transfer and its close. */
const LIMIT_MS = 600_000;

export interface Schedule {
  seed: number;
  bytes: number;
  chunk: number;
  link: Impairment;
  /** [start ms after the connection opened, length ms] for the sender's and the receiver's process. */
  senderPauses: [number, number][];
  receiverPauses: [number, number][];
  /** After a chunk, with this probability, the sender's application waits `lateMs` before the next. */
  lateProbability: number;
  lateMs: number;
  /** 0: 'message' events; otherwise an async iterator that waits up to this many ms per message. */
  readerDelayMs: number;
  maxDatagramSize: number;
  /** Datagrams a paused process's socket holds before it drops (the kernel's receive buffer). */
  receiveBuffer: number;
  /** On resume, a paused process reads its socket before running its overdue timers. */
  ioFirst: boolean;
  /** Small windows: a 64 KiB receive window that does not grow, 'drain' past 16 KiB queued. */
  smallWindows: boolean;
}

const pausesArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 1, max: 3000 })), { maxLength: 4 });

/** Schedules for `transfer`: sizes, chunking, impairment, pauses of either process, late writes, slow readers, windows. */
export const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  bytes: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 70_000, max: 600_000 })),
  chunk: fc.constantFrom(1000, 1200, 4096, 16_384, 65_536),
  link: fc.record({
    loss: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.15, noNaN: true })),
    duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
    reorder: fc.double({ min: 0, max: 0.1, noNaN: true }),
    delay: fc.integer({ min: 0, max: 40 }),
    jitter: fc.integer({ min: 0, max: 10 }),
  }),
  senderPauses: pausesArb,
  receiverPauses: pausesArb,
  lateProbability: fc.constantFrom(0, 0, 0.02, 0.1),
  lateMs: fc.integer({ min: 1, max: 400 }),
  readerDelayMs: fc.constantFrom(0, 0, 1, 20),
  maxDatagramSize: fc.constantFrom(1452, 1452, 1200, 9000),
  receiveBuffer: fc.constantFrom(256, 64, 8),
  ioFirst: fc.boolean(),
  smallWindows: fc.boolean(),
});

/** Chunk `i`: its index in the first 4 bytes (as far as it has room), then a pattern. */
function chunkOf(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, (i * 7 + 3) & 0xff);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(i);
  head.copy(b, 0, 0, Math.min(4, size));
  return b;
}

interface Outcome {
  received: number;
  /** First mismatch in the received stream (null: none). */
  corrupt: string | null;
  flushed: boolean;
  senderClosed: boolean;
  receiverClosed: boolean;
  senderError: string | null;
  receiverError: string | null;
  virtualMs: number;
  senderStats: unknown;
  receiverStats: unknown;
  /** Pauses that happened (sender, receiver), their total ms, and datagrams a full receive buffer dropped. */
  pauses: [number, number];
  pausedMs: number;
  pauseDrops: number;
}

/** `trace`: every trace event of both endpoints ('tx' the sender's, 'rx' the receiver's), for debugging a schedule. */
export async function transfer(s: Schedule, debug: { trace?: (side: 'tx' | 'rx', event: TraceEvent) => void } = {}): Promise<Outcome> {
  const net = new SimNetwork({ seed: s.seed, impairment: s.link });
  const rng = new Rng(s.seed);
  const randomBytes = (n: number): Uint8Array => rng.bytes(n);
  const rx = new PausedProcess(net, s.receiveBuffer, s.ioFirst);
  const tx = new PausedProcess(net, s.receiveBuffer, s.ioFirst);
  const small = { receiveWindow: 65_536, maxReceiveWindow: 65_536, maxMessageSize: 65_536, highWaterMark: 16_384 };
  const options = { randomBytes, maxDatagramSize: s.maxDatagramSize, ...(s.smallWindows ? small : {}) };
  const trace = debug.trace;
  const server: Endpoint = await createEndpoint({
    ...options,
    clock: rx.clock,
    socket: rx.socket('10.0.0.2', 4433),
    ...(trace ? { trace: (e: TraceEvent) => trace('rx', e) } : {}),
  });
  const client: Endpoint = await createEndpoint({
    ...options,
    clock: tx.clock,
    socket: tx.socket('10.0.0.1'),
    ...(trace ? { trace: (e: TraceEvent) => trace('tx', e) } : {}),
  });
  const out: Outcome = {
    received: 0,
    corrupt: null,
    flushed: false,
    senderClosed: false,
    receiverClosed: false,
    senderError: null,
    receiverError: null,
    virtualMs: 0,
    senderStats: null,
    receiverStats: null,
    pauses: [0, 0],
    pausedMs: 0,
    pauseDrops: 0,
  };
  // The expected stream, compared as it arrives: chunk by chunk, the last one short.
  const expected = (offset: number, length: number): Buffer => {
    const parts: Buffer[] = [];
    for (let at = offset; at < offset + length; ) {
      const i = Math.floor(at / s.chunk);
      const c = chunkOf(i, Math.min(s.chunk, s.bytes - i * s.chunk));
      const from = at - i * s.chunk;
      const take = Math.min(c.length - from, offset + length - at);
      parts.push(c.subarray(from, from + take));
      at += take;
    }
    return Buffer.concat(parts);
  };
  const take = (msg: Buffer): void => {
    if (out.corrupt === null && !msg.equals(expected(out.received, msg.length))) out.corrupt = `bytes ${out.received}..${out.received + msg.length} differ`;
    out.received += msg.length;
  };
  let peer: Connection | null = null;
  const sleepOn = (p: PausedProcess, ms: number): Promise<void> => new Promise((r) => p.clock.setTimer(p.clock.now() + ms, r));
  server.on('connection', (conn: Connection) => {
    peer = conn;
    conn.on('error', (e: Error) => (out.receiverError = e.message));
    conn.on('close', () => (out.receiverClosed = true));
    if (s.readerDelayMs === 0) conn.on('message', take);
    else {
      const reader = new Rng(s.seed ^ 0x5eed);
      void (async () => {
        for await (const msg of conn) {
          take(msg);
          await sleepOn(rx, reader.next() * s.readerDelayMs);
        }
      })().catch((e: Error) => (out.receiverError ??= e.message));
    }
  });
  let conn: Connection | null = null;
  void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
  expect(await net.runUntilAsync(() => conn !== null, 30_000)).toBe(true);
  const c = conn! as Connection;
  c.on('error', (e: Error) => (out.senderError = e.message));
  c.on('close', () => (out.senderClosed = true));
  const opened = net.clock.now();
  for (const [at, ms] of s.senderPauses) net.clock.setTimer(opened + at, () => tx.pause(ms));
  for (const [at, ms] of s.receiverPauses) net.clock.setTimer(opened + at, () => rx.pause(ms));
  const late = new Rng(s.seed ^ 0x1a7e);
  const sending = (async () => {
    let i = 0;
    for (let written = 0; written < s.bytes; i++) {
      const n = Math.min(s.chunk, s.bytes - written);
      written += n;
      if (!c.send(chunkOf(i, n))) await new Promise<void>((r) => c.once('drain', r));
      if (late.next() < s.lateProbability) await sleepOn(tx, s.lateMs);
    }
    await c.flush();
    out.flushed = true;
    await c.close();
  })().catch((e: Error) => (out.senderError ??= e.message));
  await net.runUntilAsync(() => out.received === s.bytes && out.senderClosed && out.receiverClosed && !tx.isPaused && !rx.isPaused, LIMIT_MS);
  out.virtualMs = net.clock.now() - opened;
  out.pauses = [tx.pauses, rx.pauses];
  out.pausedMs = tx.pausedMs + rx.pausedMs;
  out.pauseDrops = tx.dropped + rx.dropped;
  out.senderStats = summary(c);
  out.receiverStats = peer === null ? null : summary(peer);
  client.destroy();
  server.destroy();
  await net.runAsync(1000);
  void sending;
  return out;
}

/** The counters that say where a transfer stands, for a failure's message. */
function summary(conn: Connection): Record<string, unknown> {
  const st = conn.stats() as unknown as Record<string, unknown>;
  const pick = ['timeBlockedByFlowControl', 'bytesSent', 'bytesReceived', 'packetsSent', 'packetsReceived', 'packetsLost', 'packetsRetransmitted', 'ptoCount', 'bufferedAmount', 'queuedMessages', 'bytesInFlight', 'cwnd'];
  return { state: conn.state, ...Object.fromEntries(pick.filter((k) => k in st).map((k) => [k, st[k]])) };
}

