import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { destroyAll, loopbackEndpoint, within } from './helpers.js';

describe('many connections on one endpoint', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('200 clients connect at once, exchange messages, close gracefully; the server ends with zero connections', async () => {
    const server = await loopbackEndpoint(endpoints);
    const serverSide: Connection[] = [];
    server.on('connection', (conn) => {
      serverSide.push(conn);
      conn.on('message', (msg) => conn.send(Buffer.concat([Buffer.from('re:'), msg])));
    });
    const port = server.address().port;
    const clients = await Promise.all(Array.from({ length: 200 }, () => loopbackEndpoint(endpoints)));
    const conns = await within(15_000, 'connect 200', Promise.all(clients.map((c) => c.connect(port, '127.0.0.1'))));
    expect(server.connections.length).toBe(200);
    expect(server.stats().connections).toBe(200);

    // Each client sends 10 messages and expects 10 replies, in order.
    await within(
      20_000,
      'exchange',
      Promise.all(
        conns.map(async (conn, i) => {
          const replies: string[] = [];
          const done = new Promise<void>((resolve) =>
            conn.on('message', (m) => {
              replies.push(m.toString());
              if (replies.length === 10) resolve();
            }),
          );
          for (let j = 0; j < 10; j++) conn.send(Buffer.from(`c${i}m${j}`));
          await done;
          expect(replies).toEqual(Array.from({ length: 10 }, (_, j) => `re:c${i}m${j}`));
        }),
      ),
    );

    const serverClosed = Promise.all(serverSide.map((c) => new Promise<unknown>((r) => c.once('close', r))));
    await within(20_000, 'close 200', Promise.all(conns.map((c) => c.close())));
    const errors = await within(20_000, 'server side closes', serverClosed);
    expect(errors.every((e) => e === undefined)).toBe(true);
    expect(server.connections.length).toBe(0);
    expect(server.stats()).toMatchObject({ connections: 0, connectionsAccepted: 200, connectionsClosed: 200 });
    await within(10_000, 'client endpoints close', Promise.all(clients.map((c) => c.close())));
    await within(10_000, 'server closes', server.close());
    expect(server.closed).toBe(true);
  }, 60_000);
});
