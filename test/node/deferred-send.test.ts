import { Socket as DgramSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { destroyAll, loopbackEndpoint, once, prng, randomBuffer, until, within } from './helpers.js';

/**
 * The endpoint reuses a datagram's buffer for the next one only when `dgram.Socket.send()` sent it
 * at once (libuv's `uv_udp_try_send`: the kernel has its copy, the send queue is empty after the
 * call). When the kernel cannot take it (EAGAIN: a full socket buffer), libuv queues the send and
 * holds the buffer until the socket is writable again; writing the next datagram into it then
 * would send the later bytes twice and the earlier ones never.
 *
 * Here every send of both endpoints' sockets goes the queued way: `send()` keeps the buffer and
 * sends it on a later turn, and `getSendQueueCount()` counts it meanwhile, as libuv's queue does.
 * At the real send the buffer must still hold the bytes it had when handed over.
 */
describe('a datagram whose send completes later keeps its buffer', () => {
  it('no buffer handed to a queued send is written again before it leaves; a bulk transfer arrives intact', async () => {
    const proto = DgramSocket.prototype as unknown as {
      send: (...args: unknown[]) => void;
      getSendQueueCount: () => number;
    };
    const originalSend = proto.send;
    const originalCount = proto.getSendQueueCount;
    const pending = new Map<unknown, number>();
    let sends = 0;
    let changedBeforeSent = 0;
    const cleanup: Endpoint[] = [];
    try {
      proto.send = function (this: unknown, msg: unknown, ...rest: unknown[]) {
        const view = msg as Uint8Array;
        const copy = Buffer.from(view);
        sends++;
        pending.set(this, (pending.get(this) ?? 0) + 1);
        setImmediate(() => {
          pending.set(this, pending.get(this)! - 1);
          if (!copy.equals(view)) changedBeforeSent++;
          try {
            originalSend.call(this, msg, ...rest);
          } catch {
            // closed meanwhile
          }
        });
      };
      proto.getSendQueueCount = function (this: unknown) {
        return (pending.get(this) ?? 0) + originalCount.call(this);
      };
      const server = await loopbackEndpoint(cleanup);
      const accepted = once(server, 'connection');
      const client = await loopbackEndpoint(cleanup);
      const conn = await within(5000, 'connect', client.connect(server.address().port, '127.0.0.1'));
      const [peer] = (await within(5000, 'accept', accepted)) as [Connection];
      const rand = prng(23);
      // Multi-fragment messages and a small one.
      const sent = [randomBuffer(rand, 200_000), randomBuffer(rand, 64 * 1024), randomBuffer(rand, 30_000), randomBuffer(rand, 700)];
      const got: Buffer[] = [];
      peer.on('message', (m) => got.push(Buffer.from(m)));
      for (const m of sent) conn.send(m);
      await until(10_000, 'all messages', () => got.length === sent.length);
      expect(got.map((m) => m.toString('hex'))).toEqual(sent.map((m) => m.toString('hex')));
      expect(sends).toBeGreaterThan(200);
      expect(changedBeforeSent).toBe(0);
    } finally {
      proto.send = originalSend;
      proto.getSendQueueCount = originalCount;
      destroyAll(cleanup);
    }
  });
});
