import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { createEndpoint } from '../../src/index.js';
import { LossySocket } from '../../src/testing/index.js';
import { destroyAll, loopbackEndpoint, prng, randomBuffer, rawSocket, within } from './helpers.js';

const MiB = 1024 * 1024;

/** Echo every message back, waiting for 'drain' so the echo never outruns the send queue. */
async function echo(conn: Connection): Promise<void> {
  try {
    for await (const msg of conn) {
      if (!conn.send(msg)) await new Promise<void>((r) => conn.once('drain', () => r()));
    }
  } catch {
    // The test ends by destroying everything; the echo loop just stops.
  }
}

/**
 * 1,000 messages from 0 B to 1 MiB. Sizes are log-uniform (most small, a few large) so the run
 * stays within seconds; the first two are exactly 0 B and 1 MiB and a dozen more are ≥ 256 KiB.
 */
function messageSizes(rand: () => number): number[] {
  const sizes = [0, MiB];
  for (let i = 2; i < 1000; i++) {
    if (i % 80 === 0) sizes.push(256 * 1024 + Math.floor(rand() * 768 * 1024));
    else sizes.push(Math.floor(Math.exp(rand() * Math.log(64 * 1024))) - 1);
  }
  return sizes;
}

describe('echo through a LossySocket (20 % loss, 5 % duplication, reordering, 1 % corruption)', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('returns 1,000 random messages of 0 B–1 MiB intact, once each, in order', async () => {
    const server = await loopbackEndpoint(endpoints);
    server.on('connection', (conn) => void echo(conn));
    const impairment = { loss: 0.2, duplicate: 0.05, reorder: 0.05, reorderDelay: 3, corrupt: 0.01 };
    const lossy = new LossySocket(await rawSocket(), { seed: 7, send: impairment, receive: impairment });
    const client = await createEndpoint({ socket: lossy });
    endpoints.push(client);

    const conn = await within(10_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    const rand = prng(1234);
    const sent = messageSizes(rand).map((size) => randomBuffer(rand, size));
    expect(Math.max(...sent.map((m) => m.length))).toBe(MiB);

    const received: Buffer[] = [];
    const reader = (async () => {
      for await (const msg of conn) {
        received.push(msg);
        if (received.length === sent.length) break;
      }
    })();
    for (const msg of sent) {
      if (!conn.send(msg)) await new Promise<void>((r) => conn.once('drain', () => r()));
    }
    await within(45_000, 'echo', reader);

    expect(received.length).toBe(sent.length);
    for (let i = 0; i < sent.length; i++) {
      if (!received[i]!.equals(sent[i]!)) expect.fail(`message ${i} (${sent[i]!.length} B) came back different`);
    }
    // The network really was bad, and the engine noticed.
    const counters = lossy.counters;
    expect(counters.send.droppedLoss + counters.receive.droppedLoss).toBeGreaterThan(100);
    expect(counters.send.corrupted + counters.receive.corrupted).toBeGreaterThan(10);
    expect(counters.send.duplicated + counters.receive.duplicated).toBeGreaterThan(10);
    const stats = conn.stats();
    expect(stats.packetsLost).toBeGreaterThan(0);
    expect(stats.checksumFailures).toBeGreaterThan(0);
    expect(stats.duplicatesDropped).toBeGreaterThan(0);
    expect(stats.messagesReceived).toBe(sent.length);

    await within(10_000, 'close', conn.close());
  }, 60_000);
});
