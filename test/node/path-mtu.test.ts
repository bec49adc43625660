import { afterEach, describe, expect, it } from 'vitest';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import { LossySocket } from '../../src/testing/index.js';
import { destroyAll, loopbackEndpoint, prng, randomBuffer, rawSocket, within } from './helpers.js';

/** Send `count` messages of 64 KiB from `conn`, read them on the server's side; resolve when all arrived intact. */
async function bulk(conn: Connection, count: number, accepted: Promise<Connection>): Promise<void> {
  const rand = prng(5);
  const sent = Array.from({ length: count }, () => randomBuffer(rand, 64 * 1024));
  const peer = await within(5_000, 'accept', accepted);
  const reader = (async () => {
    let i = 0;
    for await (const m of peer) {
      if (!m.equals(sent[i]!)) throw new Error(`message ${i} differs`);
      if (++i === sent.length) return;
    }
  })();
  for (const m of sent) if (!conn.send(m)) await new Promise<void>((r) => conn.once('drain', () => r()));
  await within(30_000, 'bulk', reader);
}

describe('path-MTU discovery on real sockets (127.0.0.1)', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('a bulk transfer over loopback reaches pathMtu = 1,452 by default, and says so', async () => {
    const server = await loopbackEndpoint(endpoints);
    const client = await loopbackEndpoint(endpoints);
    const accepted = bulkPeer(server);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    const changes: [number, string][] = [];
    conn.on('pathMtu', (size, reason) => changes.push([size, reason]));
    await bulk(conn, 64, accepted);
    const stats = conn.stats();
    expect(stats.pathMtu).toBe(1452);
    expect(changes).toEqual([[1452, 'probe']]);
    expect(stats.mtuProbesSent).toBeGreaterThan(0);
    expect(stats.blackHolesDetected).toBe(0);
  }, 40_000);

  it('through a socket whose path carries at most 1,300 bytes, settles just below it and delivers everything', async () => {
    const server = await loopbackEndpoint(endpoints);
    const lossy = new LossySocket(await rawSocket(), { seed: 3, send: { mtu: 1300 } });
    const client = await createEndpoint({ socket: lossy });
    endpoints.push(client);
    const accepted = bulkPeer(server);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    await bulk(conn, 64, accepted);
    const mtu = conn.stats().pathMtu;
    expect(mtu).toBeLessThanOrEqual(1300);
    expect(mtu).toBeGreaterThan(1280);
    expect(lossy.counters.send.droppedMtu).toBeGreaterThan(0); // the probes above 1,300 were really dropped
  }, 40_000);

  it('maxDatagramSize: 1200 disables discovery', async () => {
    const server = await loopbackEndpoint(endpoints);
    const client = await loopbackEndpoint(endpoints, { maxDatagramSize: 1200 });
    const accepted = bulkPeer(server);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    await bulk(conn, 16, accepted);
    expect(conn.stats().pathMtu).toBe(1200);
    expect(conn.stats().mtuProbesSent).toBe(0);
  }, 40_000);
});

/** The server's next connection, listened for before the client connects. */
function bulkPeer(server: Endpoint): Promise<Connection> {
  return new Promise<Connection>((r) => server.once('connection', r));
}
