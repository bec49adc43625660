import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { destroyAll, gc, loopbackEndpoint, memoryInUse, once, within } from './helpers.js';

const MiB = 1024 * 1024;

describe('backpressure', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('a sender that ignores false hits ERR_SEND_QUEUE_FULL at maxQueuedBytes; memory stays bounded', async () => {
    const options = { maxQueuedBytes: 4 * MiB, highWaterMark: 1 * MiB, receiveWindow: 1 * MiB };
    const server = await loopbackEndpoint(endpoints, options);
    const accepted = once(server, 'connection');
    const client = await loopbackEndpoint(endpoints, options);
    const conn = await client.connect(server.address().port, '127.0.0.1');
    const [peer] = (await accepted) as [Connection];
    // The receiver reads nothing: its credit is withheld, flow control stops the sender.
    gc();
    const before = memoryInUse();
    const chunk = Buffer.alloc(64 * 1024, 9);
    let accepted64k = 0;
    let falseSeen = false;
    let error: { code?: string } | undefined;
    for (let i = 0; i < 10_000 && !error; i++) {
      try {
        if (!conn.send(chunk)) falseSeen = true;
        accepted64k++;
      } catch (e) {
        error = e as { code?: string };
      }
      // Let the network run now and then, as a real producer would.
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    expect(falseSeen).toBe(true);
    expect(error?.code).toBe('ERR_SEND_QUEUE_FULL');
    expect(conn.bufferedAmount).toBeLessThanOrEqual(4 * MiB);
    // Queued + receive window + in flight: far from 10,000 × 64 KiB.
    expect(accepted64k * 64 * 1024).toBeLessThan(12 * MiB);
    gc();
    expect(memoryInUse() - before).toBeLessThan(24 * MiB);
    // The connection is still healthy: the receiver starts reading and gets everything.
    let received = 0;
    const all = new Promise<void>((resolve) =>
      peer.on('message', (m) => {
        received += m.length;
        if (received === accepted64k * 64 * 1024) resolve();
      }),
    );
    await within(20_000, 'receive the queued data', all);
    expect(received).toBe(accepted64k * 64 * 1024);
  }, 40_000);

  it('a sender that waits for drain moves 100 MiB to an async-iterating receiver with flat memory', async () => {
    const server = await loopbackEndpoint(endpoints);
    const accepted = once(server, 'connection');
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect(server.address().port, '127.0.0.1');
    const [peer] = (await accepted) as [Connection];
    const total = 100 * MiB;
    const size = 64 * 1024;
    const count = total / size;

    gc();
    const baseline = memoryInUse();
    let peak = 0;
    const sample = () => {
      peak = Math.max(peak, memoryInUse() - baseline);
    };
    const reader = (async () => {
      let seq = 0;
      let bytes = 0;
      for await (const m of peer) {
        if (m.length !== size || m.readUInt32BE(0) !== seq) throw new Error(`message ${seq} wrong`);
        seq++;
        bytes += m.length;
        if (seq % 64 === 0) sample();
        if (seq === count) break;
      }
      return bytes;
    })();
    // Memory after a full GC every 10 MiB: what the transfer really holds on to.
    const settled: number[] = [];
    for (let i = 0; i < count; i++) {
      const chunk = Buffer.allocUnsafe(size);
      chunk.fill(i & 0xff);
      chunk.writeUInt32BE(i, 0);
      if (!conn.send(chunk)) await new Promise<void>((r) => conn.once('drain', () => r()));
      if (i % 64 === 0) sample();
      if (i % 160 === 159) {
        gc();
        settled.push(memoryInUse() - baseline);
      }
    }
    expect(await within(40_000, '100 MiB', reader)).toBe(total);
    // Flat: what stays alive is bounded by windows and queues and does not grow with the bytes
    // moved; even the peak (garbage not yet collected included) is far below the payload.
    expect(settled.length).toBe(10);
    expect(Math.max(...settled)).toBeLessThan(24 * MiB);
    expect(settled[settled.length - 1]!).toBeLessThan(settled[0]! + 8 * MiB);
    expect(peak).toBeLessThan(80 * MiB);
    await within(5000, 'close', conn.close());
  }, 60_000);
});
