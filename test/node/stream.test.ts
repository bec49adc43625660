import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createStream } from '../../src/index.js';
import { Rng } from '../../src/testing/index.js';
import { simPair } from './helpers.js';

/** createStream() over the simulator: virtual time, seeded loss. */
const setup = (seed: number, loss = 0) =>
  simPair(seed, { impairment: { delay: 5, loss }, endpoint: { highWaterMark: 256 * 1024, receiveWindow: 512 * 1024 } });

function* chunks(seed: number, total: number, size: number): Generator<Buffer> {
  const rng = new Rng(seed);
  for (let sent = 0; sent < total; sent += size) yield Buffer.from(rng.bytes(Math.min(size, total - sent)));
}

const sha = (seed: number, total: number, size: number): string => {
  const h = createHash('sha256');
  for (const c of chunks(seed, total, size)) h.update(c);
  return h.digest('hex');
};

describe('createStream()', () => {
  it('pipeline() moves 8 MiB through a lossy link intact; end() ends the peer readable only (half-close)', async () => {
    const { net, conn, peer, done } = await setup(1, 0.02);
    const total = 8 * 1024 * 1024;
    const out = createStream(conn, { channel: 3 });
    const inn = createStream(peer, { channel: 3 });
    const hash = createHash('sha256');
    let received = 0;
    let readDone = false;
    let writeDone = false;
    void pipeline(inn, new Writable({ write(c: Buffer, _e, cb) { hash.update(c); received += c.length; cb(); } })).then(() => (readDone = true));
    void pipeline(Readable.from(chunks(7, total, 100_000)), out).then(() => (writeDone = true));
    expect(await net.runUntilAsync(() => readDone && writeDone, 600_000)).toBe(true);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sha(7, total, 100_000));
    // Half-close: the other direction still works.
    const back = createStream(peer, { channel: 4 });
    const fwd = createStream(conn, { channel: 4 });
    const got: Buffer[] = [];
    fwd.on('data', (d: Buffer) => got.push(d));
    back.end(Buffer.from('reply after the end'));
    expect(await net.runUntilAsync(() => fwd.readableEnded || got.length > 0, 10_000)).toBe(true);
    expect(await net.runUntilAsync(() => fwd.readableEnded, 10_000)).toBe(true);
    expect(Buffer.concat(got).toString()).toBe('reply after the end');
    for (const s of [out, inn, back, fwd]) s.destroy();
    done();
  });

  it('backpressure: a reader that does not read stops the writer with bounded memory on both sides', async () => {
    const { net, conn, peer, done } = await setup(2);
    const out = createStream(conn, { channel: 1 });
    const inn = createStream(peer, { channel: 1 });
    inn.pause();
    let written = 0;
    let blocked = false;
    const writeMore = (): void => {
      while (out.write(Buffer.alloc(16 * 1024, 1))) written += 16 * 1024;
      written += 16 * 1024;
      blocked = true;
    };
    writeMore();
    out.on('drain', () => {
      blocked = false;
      writeMore();
    });
    // Run 5 s of virtual time: the writer must be blocked and far from 5 s × link rate.
    await net.runUntilAsync(() => false, 5000);
    expect(blocked).toBe(true);
    const queued = conn.bufferedAmount;
    // Sender: its queue is bounded by highWaterMark (+ one write), the receiver by its window.
    expect(queued).toBeLessThanOrEqual(256 * 1024 + 64 * 1024 + 16 * 1024);
    expect(peer.stats().retainedBytes).toBeLessThanOrEqual(512 * 1024 + 64 * 1024 + 32 * 1024);
    expect(written).toBeLessThan(4 * 1024 * 1024);
    // Reading again lets everything through.
    const before = written;
    inn.resume();
    await net.runUntilAsync(() => written > before + 1024 * 1024, 60_000);
    expect(written).toBeGreaterThan(before + 1024 * 1024);
    out.destroy();
    inn.destroy();
    done();
  });

  it('errors are not swallowed: a connection that fails destroys the stream with its error', async () => {
    const { net, conn, peer, done } = await setup(3);
    const inn = createStream(peer, { channel: 0 });
    let error: { code?: string } | undefined;
    inn.on('error', (e: { code?: string }) => (error = e));
    inn.resume();
    conn.destroy();
    expect(await net.runUntilAsync(() => error !== undefined, 10_000)).toBe(true);
    expect(error?.code).toBe('ERR_CONNECTION_RESET');
    expect(() => createStream(conn, { channel: 999 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    done();
  });
});
