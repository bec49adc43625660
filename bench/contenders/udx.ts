/**
 * udx-native (libudx, C): the native peer. Streams need both ends to know each other's stream id
 * and address; the receiving stream learns the sender's address from its first packet through
 * udx's `firewall` hook (which also makes it work behind the impairment proxy, whose upstream
 * port is not known in advance). "Many connections" uses a one-datagram hello on the socket to
 * trade stream ids, since udx has no handshake of its own.
 */
import { createRequire } from 'node:module';
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

// Minimal typing for the parts of udx-native used here (it ships no types).
export interface UdxAddress { host: string; port: number; family: number }
export interface UdxSocket {
  bind(port?: number, host?: string): void;
  address(): UdxAddress;
  on(event: 'message', fn: (msg: Buffer, from: UdxAddress) => void): void;
  trySend(buf: Buffer, port: number, host?: string): void;
  close(): Promise<void>;
}
export interface UdxStream {
  readonly retransmits: number;
  readonly packetsTransmitted: number;
  readonly bytesTransmitted: number;
  connect(socket: UdxSocket, remoteId: number, port: number, host?: string): void;
  write(buf: Buffer): boolean;
  end(): void;
  flush(): Promise<boolean>;
  destroy(): void;
  on(event: 'data', fn: (buf: Buffer) => void): this;
  on(event: 'error' | 'close' | 'drain', fn: (...args: unknown[]) => void): this;
  once(event: 'drain', fn: () => void): this;
}
export interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number, opts?: { firewall?: (socket: UdxSocket, port: number, host: string) => boolean }): UdxStream;
}
export const UDX = createRequire(import.meta.url)('udx-native') as new () => Udx;

const SENDER_ID = 1;
const RECEIVER_ID = 2;
const HELLO = 0x48;
const HELLO_ACK = 0x41;

/** A stream that connects back to whoever sends to it first (returning false = let it in). */
export function acceptingStream(udx: Udx, id: number, remoteId: number): UdxStream {
  const stream: UdxStream = udx.createStream(id, {
    firewall: (socket, port, host) => {
      stream.connect(socket, remoteId, port, host);
      return false;
    },
  });
  stream.on('error', () => undefined);
  return stream;
}

export function boundSocket(udx: Udx, host: string): UdxSocket {
  const socket = udx.createSocket();
  socket.bind(0, host);
  return socket;
}

export const contender: Contender = {
  name: 'udx',

  async bulkReceiver(o, ready): Promise<BulkReceiveResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = acceptingStream(udx, RECEIVER_ID, SENDER_ID);
    const cpu = process.cpuUsage();
    const result = new Promise<BulkReceiveResult>((resolve) => {
      const half = new HalfMark(o.bytes);
      let bytes = 0;
      let firstAt = 0;
      stream.on('data', (chunk) => {
        if (firstAt === 0) firstAt = wallNow();
        bytes += chunk.length;
        half.update(bytes);
        if (bytes >= o.bytes) resolve({ bytes, firstAt, lastAt: wallNow(), cpuMs: cpuMsSince(cpu), ...half.result(), maxRssBytes: maxRssBytes() });
      });
    });
    ready({ port: socket.address().port });
    return result;
  },

  async bulkSender(o): Promise<BulkSendResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = udx.createStream(SENDER_ID);
    stream.on('error', () => undefined);
    stream.connect(socket, RECEIVER_ID, o.port, o.host);
    const chunk = Buffer.alloc(o.chunk, 0x61);
    const cpu = process.cpuUsage();
    const half = new HalfMark(o.bytes);
    const startAt = wallNow();
    let written = 0;
    while (written < o.bytes) {
      const n = Math.min(o.chunk, o.bytes - written);
      written += n;
      half.update(written);
      if (!stream.write(n === o.chunk ? chunk : chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => stream.once('drain', resolve));
      }
    }
    await stream.flush(); // resolves once the receiver acknowledged everything
    const doneAt = wallNow();
    return {
      bytes: written,
      startAt,
      doneAt,
      cpuMs: cpuMsSince(cpu),
      ...half.result(),
      maxRssBytes: maxRssBytes(),
      datagrams: stream.packetsTransmitted,
      extra: {
        retransmits: stream.retransmits,
        packetsTransmitted: stream.packetsTransmitted,
        bytesTransmitted: stream.bytesTransmitted,
      },
    };
  },

  async pingServer(o, ready): Promise<void> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = acceptingStream(udx, RECEIVER_ID, SENDER_ID);
    stream.on('data', (chunk) => stream.write(chunk));
    ready({ port: socket.address().port });
  },

  async pingClient(o): Promise<PingClientResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = udx.createStream(SENDER_ID);
    stream.on('error', () => undefined);
    stream.connect(socket, RECEIVER_ID, o.port, o.host);
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
        stream.write(payload);
      };
      stream.on('data', (chunk) => {
        pending -= chunk.length;
        if (pending > 0) return;
        const us = usSince(start);
        if (trip >= o.warmup) rttUs.push(us);
        trip += 1;
        next();
      });
      next();
    });
    stream.destroy();
    return { rttUs, lost: 0 };
  },

  async manyServer(o, ready): Promise<ManyServerResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const streams = new Map<string, { serverId: number }>();
    let nextId = 1;
    let exchanged = 0;
    const all = new Promise<void>((resolve) => {
      socket.on('message', (msg, from) => {
        if (msg.length !== 5 || msg[0] !== HELLO) return;
        const clientId = msg.readUInt32BE(1);
        const key = `${from.port}:${clientId}`;
        let entry = streams.get(key);
        if (entry === undefined) {
          entry = { serverId: nextId++ };
          streams.set(key, entry);
          const stream = udx.createStream(entry.serverId);
          stream.on('error', () => undefined);
          stream.connect(socket, clientId, from.port, from.host);
          stream.on('data', (chunk) => {
            stream.write(chunk);
            exchanged += 1;
            if (exchanged === o.expected) resolve();
          });
        }
        const ack = Buffer.alloc(9);
        ack[0] = HELLO_ACK;
        ack.writeUInt32BE(clientId, 1);
        ack.writeUInt32BE(entry.serverId, 5);
        socket.trySend(ack, from.port, from.host);
      });
    });
    // Baseline once bound: what is left to grow is per-connection state.
    const heapBeforeBytes = settledHeapBytes();
    const rssBeforeBytes = process.memoryUsage().rss;
    ready({ port: socket.address().port });
    await all;
    await new Promise((r) => setTimeout(r, 200));
    return {
      connections: streams.size,
      heapBeforeBytes,
      heapAfterBytes: settledHeapBytes(),
      rssBeforeBytes,
      rssAfterBytes: process.memoryUsage().rss,
    };
  },

  async manyClients(o): Promise<ManyClientResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const waiting = new Map<number, (serverId: number) => void>();
    socket.on('message', (msg) => {
      if (msg.length !== 9 || msg[0] !== HELLO_ACK) return;
      waiting.get(msg.readUInt32BE(1))?.(msg.readUInt32BE(5));
    });
    const hello = Buffer.alloc(64, 0x68);
    const startAt = wallNow();
    const { ok, failed } = await runWithConcurrency(o.count, o.concurrency, async (index) => {
      const clientId = index + 1;
      const stream = udx.createStream(clientId);
      stream.on('error', () => undefined);
      const serverId = await new Promise<number>((resolve, reject) => {
        const req = Buffer.alloc(5);
        req[0] = HELLO;
        req.writeUInt32BE(clientId, 1);
        let tries = 0;
        const retry = setInterval(() => {
          if (++tries > 10) {
            clearInterval(retry);
            waiting.delete(clientId);
            reject(new Error('hello timed out'));
          } else socket.trySend(req, o.port, o.host);
        }, 500);
        waiting.set(clientId, (id) => {
          clearInterval(retry);
          waiting.delete(clientId);
          resolve(id);
        });
        socket.trySend(req, o.port, o.host);
      });
      stream.connect(socket, serverId, o.port, o.host);
      await new Promise<void>((resolve) => {
        let got = 0;
        stream.on('data', (chunk) => {
          got += chunk.length;
          if (got >= hello.length) resolve();
        });
        stream.write(hello);
      });
    });
    return { established: ok, failed, startAt, doneAt: wallNow() };
  },
};
