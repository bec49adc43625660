/**
 * Raw node:dgram: the physical limit. No reliability, no ordering, no congestion control, so
 * bulk is one-way and unpaced; the receiver's datagram rate is the ceiling every UDP transport in
 * Node lives under. Not a contender for "many connections" (there are no connections).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { Contender, BulkReceiveResult, BulkSendResult, PingClientResult } from './types.js';
import { cpuMsSince, HalfMark, maxRssBytes, usSince, wallNow } from '../lib/measure.js';

/** 4 MiB: the reference measurements showed it removes loss at paced rates (not the ceiling). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
const DATA = 0;
const END = 1;
/** Datagrams sent per turn of the event loop, and the queue length at which a burst waits. */
const BURST = 512;
const SEND_WINDOW = 256;
const IDLE_END_MS = 400;

async function bindUdp(host: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket({
    type: 'udp4',
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES,
  });
  // ICMP "port unreachable" after the peer has gone surfaces as ECONNREFUSED: not our concern.
  socket.on('error', () => undefined);
  socket.bind(port, host);
  await once(socket, 'listening');
  return socket;
}

export const contender: Contender = {
  name: 'dgram',

  async bulkReceiver(o, ready): Promise<BulkReceiveResult> {
    const socket = await bindUdp(o.host);
    const cpu = process.cpuUsage();
    const half = new HalfMark(o.bytes);
    let bytes = 0;
    let datagrams = 0;
    let firstAt = 0;
    let lastAt = 0;
    let senderDatagrams = -1;
    const result = new Promise<BulkReceiveResult>((resolve) => {
      const finish = (): void => {
        clearInterval(idleCheck);
        socket.close();
        const extra: Record<string, number> = {};
        if (senderDatagrams >= 0) {
          extra.sentDatagrams = senderDatagrams;
          extra.lossPercent = senderDatagrams > 0 ? (100 * (senderDatagrams - datagrams)) / senderDatagrams : 0;
        }
        resolve({ bytes, firstAt, lastAt, cpuMs: cpuMsSince(cpu), ...half.result(), maxRssBytes: maxRssBytes(), datagrams, extra });
      };
      // The end marker can be lost like any datagram: fall back to "nothing for a while".
      const idleCheck = setInterval(() => {
        if (firstAt !== 0 && wallNow() - lastAt > IDLE_END_MS) finish();
      }, 50);
      socket.on('message', (msg) => {
        if (msg[0] === END && msg.length === 9) {
          senderDatagrams = Number(msg.readBigUInt64BE(1));
          finish();
          return;
        }
        const now = wallNow();
        if (firstAt === 0) firstAt = now;
        lastAt = now;
        bytes += msg.length;
        datagrams += 1;
        half.update(bytes);
      });
    });
    ready({ port: socket.address().port });
    return result;
  },

  async bulkSender(o): Promise<BulkSendResult> {
    const socket = await bindUdp(o.host);
    socket.connect(o.port, o.host);
    await once(socket, 'connect');
    const payload = Buffer.alloc(o.chunk, 0x61);
    payload[0] = DATA;
    const total = Math.ceil(o.bytes / o.chunk);
    const cpu = process.cpuUsage();
    const half = new HalfMark(total * o.chunk);
    const startAt = wallNow();
    // No per-send callback: Node then tries a synchronous send first (uv_udp_try_send), which
    // is what an unpaced sender looks like. Bursts yield to the event loop, and a growing send
    // queue (the kernel said EAGAIN) is left to drain before the next burst, so memory stays bounded.
    let sent = 0;
    await new Promise<void>((resolve) => {
      const burst = (): void => {
        if (socket.getSendQueueCount() < SEND_WINDOW) {
          const until = Math.min(total, sent + BURST);
          while (sent < until) {
            socket.send(payload);
            sent += 1;
            half.update(sent * o.chunk);
          }
        }
        if (sent < total) setImmediate(burst);
        else resolve();
      };
      burst();
    });
    while (socket.getSendQueueCount() > 0) await new Promise((r) => setImmediate(r));
    const doneAt = wallNow();
    const cpuMs = cpuMsSince(cpu);
    const halfFields = half.result();
    const end = Buffer.alloc(9);
    end[0] = END;
    end.writeBigUInt64BE(BigInt(total), 1);
    for (let i = 0; i < 5; i++) {
      socket.send(end);
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.close();
    return { bytes: total * o.chunk, startAt, doneAt, cpuMs, ...halfFields, maxRssBytes: maxRssBytes(), datagrams: total };
  },

  async pingServer(o, ready): Promise<void> {
    const socket = await bindUdp(o.host);
    socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
    ready({ port: socket.address().port });
  },

  async pingClient(o): Promise<PingClientResult> {
    const socket = await bindUdp(o.host);
    socket.connect(o.port, o.host);
    await once(socket, 'connect');
    const payload = Buffer.alloc(o.size, 0x70);
    const rttUs: number[] = [];
    let lost = 0;
    let trip = 0;
    let start = 0n;
    let watchedTrip = -1;
    let watchdog: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const next = (): void => {
        if (trip === o.warmup + o.trips) return resolve();
        start = process.hrtime.bigint();
        socket.send(payload);
      };
      // A lost datagram would stall the loop forever: one watchdog (not a timer per trip) counts
      // it as lost and moves on.
      watchdog = setInterval(() => {
        if (watchedTrip === trip) {
          lost += 1;
          trip += 1;
          next();
        }
        watchedTrip = trip;
      }, 250);
      socket.on('message', () => {
        const us = usSince(start);
        if (trip >= o.warmup) rttUs.push(us);
        trip += 1;
        next();
      });
      next();
    });
    clearInterval(watchdog);
    socket.close();
    return { rttUs, lost };
  },
};
