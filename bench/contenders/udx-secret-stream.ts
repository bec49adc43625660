/**
 * udx-native + @hyperswarm/secret-stream: what Holepunch users run for an encrypted UDP
 * transport (libudx streams, a Noise XX handshake over Ed25519/X25519 and libsodium's
 * secretstream, XChaCha20-Poly1305, per message). The encrypted counterpart of the `udx`
 * contender, for issue 13's "encrypted bulk beside udx + secret-stream" comparison. Bulk and
 * ping-pong only; the streams are set up as in udx.ts.
 */
import { createRequire } from 'node:module';
import type { BulkReceiveResult, BulkSendResult, Contender, PingClientResult } from './types.js';
import { cpuMsSince, HalfMark, maxRssBytes, usSince, wallNow } from '../lib/measure.js';
import { UDX, acceptingStream, boundSocket, type UdxStream } from './udx.js';

interface SecretStream {
  write(buf: Buffer): boolean;
  end(): void;
  destroy(): void;
  on(event: 'data', fn: (buf: Buffer) => void): this;
  on(event: 'error' | 'close' | 'drain' | 'finish' | 'connect', fn: (...args: unknown[]) => void): this;
  once(event: 'drain' | 'finish' | 'connect', fn: () => void): this;
}
const SecretStreamClass = createRequire(import.meta.url)('@hyperswarm/secret-stream') as new (
  isInitiator: boolean,
  rawStream: UdxStream,
  opts?: Record<string, unknown>,
) => SecretStream;

const SENDER_ID = 1;
const RECEIVER_ID = 2;

function secure(initiator: boolean, raw: UdxStream): SecretStream {
  const s = new SecretStreamClass(initiator, raw);
  s.on('error', () => undefined);
  return s;
}

export const contender: Contender = {
  name: 'udx-secret-stream',

  async bulkReceiver(o, ready): Promise<BulkReceiveResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = secure(false, acceptingStream(udx, RECEIVER_ID, SENDER_ID));
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
    const raw = udx.createStream(SENDER_ID);
    raw.on('error', () => undefined);
    raw.connect(socket, RECEIVER_ID, o.port, o.host);
    const stream = secure(true, raw);
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
    // Everything handed to the raw stream, then acknowledged by the receiver.
    await new Promise<void>((resolve) => {
      stream.once('finish', resolve);
      stream.end();
    });
    await raw.flush();
    return {
      bytes: written,
      startAt,
      doneAt: wallNow(),
      cpuMs: cpuMsSince(cpu),
      ...half.result(),
      maxRssBytes: maxRssBytes(),
      datagrams: raw.packetsTransmitted,
      extra: { retransmits: raw.retransmits, packetsTransmitted: raw.packetsTransmitted, bytesTransmitted: raw.bytesTransmitted },
    };
  },

  async pingServer(o, ready): Promise<void> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const stream = secure(false, acceptingStream(udx, RECEIVER_ID, SENDER_ID));
    stream.on('data', (chunk) => stream.write(chunk));
    ready({ port: socket.address().port });
  },

  async pingClient(o): Promise<PingClientResult> {
    const udx = new UDX();
    const socket = boundSocket(udx, o.host);
    const raw = udx.createStream(SENDER_ID);
    raw.on('error', () => undefined);
    raw.connect(socket, RECEIVER_ID, o.port, o.host);
    const stream = secure(true, raw);
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
};
