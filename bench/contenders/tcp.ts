/**
 * TCP via node:net: what a user would pick instead. Nagle off for ping-pong (a latency test).
 * Bulk writes `chunk`-byte buffers and honours write() → false → 'drain', like a careful user.
 */
import net from 'node:net';
import { once } from 'node:events';
import type {
  Contender,
  BulkReceiveResult,
  BulkSendResult,
  ManyClientResult,
  ManyServerResult,
  PingClientResult,
} from './types.js';
import { cpuMsSince, HalfMark, maxRssBytes, settledHeapBytes, usSince, wallNow } from '../lib/measure.js';
import { runWithConcurrency } from '../lib/concurrency.js';

async function listen(server: net.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function dial(port: number, host: string): Promise<net.Socket> {
  const socket = net.connect({ port, host, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

export const contender: Contender = {
  name: 'tcp',

  async bulkReceiver(o, ready): Promise<BulkReceiveResult> {
    const server = net.createServer();
    const cpu = process.cpuUsage();
    const result = new Promise<BulkReceiveResult>((resolve) => {
      server.on('connection', (socket) => {
        const half = new HalfMark(o.bytes);
        let bytes = 0;
        let firstAt = 0;
        socket.on('data', (chunk: Buffer) => {
          if (firstAt === 0) firstAt = wallNow();
          bytes += chunk.length;
          half.update(bytes);
          if (bytes >= o.bytes) {
            const lastAt = wallNow();
            resolve({ bytes, firstAt, lastAt, cpuMs: cpuMsSince(cpu), ...half.result(), maxRssBytes: maxRssBytes() });
          }
        });
      });
    });
    ready({ port: await listen(server, o.host) });
    return result;
  },

  async bulkSender(o): Promise<BulkSendResult> {
    const socket = await dial(o.port, o.host);
    const chunk = Buffer.alloc(o.chunk, 0x61);
    const cpu = process.cpuUsage();
    const half = new HalfMark(o.bytes);
    const startAt = wallNow();
    let written = 0;
    while (written < o.bytes) {
      const n = Math.min(o.chunk, o.bytes - written);
      written += n;
      half.update(written);
      if (!socket.write(n === o.chunk ? chunk : chunk.subarray(0, n))) await once(socket, 'drain');
    }
    socket.end();
    await once(socket, 'finish');
    const doneAt = wallNow();
    return { bytes: written, startAt, doneAt, cpuMs: cpuMsSince(cpu), ...half.result(), maxRssBytes: maxRssBytes() };
  },

  async pingServer(o, ready): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      socket.on('data', (chunk) => socket.write(chunk));
    });
    ready({ port: await listen(server, o.host) });
  },

  async pingClient(o): Promise<PingClientResult> {
    const socket = await dial(o.port, o.host);
    const payload = Buffer.alloc(o.size, 0x70);
    const rttUs: number[] = [];
    let trip = 0;
    let pending = 0;
    let start = 0n;
    await new Promise<void>((resolve) => {
      const next = (): void => {
        if (trip === o.warmup + o.trips) return resolve();
        pending = o.size;
        start = process.hrtime.bigint();
        socket.write(payload);
      };
      // A stream may split or join writes: a trip ends when all of its bytes are back.
      socket.on('data', (chunk: Buffer) => {
        pending -= chunk.length;
        if (pending > 0) return;
        const us = usSince(start);
        if (trip >= o.warmup) rttUs.push(us);
        trip += 1;
        next();
      });
      next();
    });
    socket.destroy();
    return { rttUs, lost: 0 };
  },

  async manyServer(o, ready): Promise<ManyServerResult> {
    let exchanged = 0;
    const server = net.createServer();
    const sockets = new Set<net.Socket>();
    const all = new Promise<void>((resolve) => {
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('error', () => sockets.delete(socket));
        socket.once('data', (chunk) => {
          socket.write(chunk);
          exchanged += 1;
          if (exchanged === o.expected) resolve();
        });
      });
    });
    const port = await listen(server, o.host);
    // Baseline once listening: what is left to grow is per-connection state.
    const heapBeforeBytes = settledHeapBytes();
    const rssBeforeBytes = process.memoryUsage().rss;
    ready({ port });
    await all;
    // Let the last replies leave before measuring the idle state.
    await new Promise((r) => setTimeout(r, 200));
    return {
      connections: sockets.size,
      heapBeforeBytes,
      heapAfterBytes: settledHeapBytes(),
      rssBeforeBytes,
      rssAfterBytes: process.memoryUsage().rss,
    };
  },

  async manyClients(o): Promise<ManyClientResult> {
    const hello = Buffer.alloc(64, 0x68);
    const open: net.Socket[] = [];
    const startAt = wallNow();
    const { ok, failed } = await runWithConcurrency(o.count, o.concurrency, async () => {
      const socket = await dial(o.port, o.host);
      socket.on('error', () => undefined);
      socket.write(hello);
      let got = 0;
      while (got < hello.length) {
        const [chunk] = (await once(socket, 'data')) as [Buffer];
        got += chunk.length;
      }
      open.push(socket);
    });
    return { established: ok, failed, startAt, doneAt: wallNow() };
  },
};
