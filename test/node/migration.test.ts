import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/index.js';
import type { Connection, Endpoint } from '../../src/index.js';
import { destroyAll, loopbackEndpoint, prng, randomBuffer, until, within } from './helpers.js';

/**
 * Connection migration over real sockets on 127.0.0.1: a client endpoint moved to a new local
 * port in the middle of a transfer (Endpoint.rebind) keeps its connection; the server validates
 * the new address (PATH_CHALLENGE / PATH_RESPONSE) and moves there.
 */
describe('Endpoint.rebind(): a client moved to a new local port mid-transfer', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  for (const encrypted of [false, true]) {
    it(`${encrypted ? 'encrypted' : 'plaintext'}: the transfer completes byte-exact and the server follows the client`, async () => {
      const keys = generateKeyPair();
      const server = await loopbackEndpoint(endpoints, { acceptConnections: true, ...(encrypted ? { keyPair: keys } : {}) });
      const client = await loopbackEndpoint(endpoints);
      let serverConn: Connection | undefined;
      const chunks: Buffer[] = [];
      let bytes = 0;
      const moves: string[] = [];
      server.on('connection', (c: Connection) => {
        serverConn = c;
        c.on('message', (m: Buffer) => {
          chunks.push(m);
          bytes += m.length;
        });
        c.on('migrated', (address: string, port: number) => moves.push(`${address}:${port}`));
      });
      const keyOptions = encrypted ? { serverKey: keys.publicKey } : {};
      const conn = await within(10_000, 'connect', client.connect(server.address().port, '127.0.0.1', keyOptions));
      const oldPort = client.address().port;
      const rand = prng(5);
      const messages = Array.from({ length: 64 }, () => randomBuffer(rand, 64 * 1024)); // 4 MiB
      for (const m of messages.slice(0, 32)) conn.send(m);
      await until(10_000, 'first half delivered', () => chunks.length >= 16);
      await within(5_000, 'rebind', client.rebind({ host: '127.0.0.1' }));
      const newPort = client.address().port;
      expect(newPort).not.toBe(oldPort);
      for (const m of messages.slice(32)) conn.send(m);
      await until(20_000, 'everything delivered', () => chunks.length === messages.length);
      expect(Buffer.concat(chunks).equals(Buffer.concat(messages))).toBe(true);
      expect(bytes).toBe(4 * 1024 * 1024);
      expect(serverConn!.remotePort).toBe(newPort);
      expect(moves).toEqual([`127.0.0.1:${newPort}`]);
      expect(serverConn!.stats().pathChanges).toBe(1);
      expect(serverConn!.stats().pathValidationsFailed).toBe(0);
      // And the connection works both ways from the new port.
      serverConn!.send('back');
      const back = await within(5_000, 'reply', new Promise<string>((resolve) => conn.once('message', (m: Buffer) => resolve(m.toString()))));
      expect(back).toBe('back');
    }, 40_000);
  }

  it('rejects bad arguments and a closed endpoint with stable codes', async () => {
    const client = await loopbackEndpoint(endpoints);
    expect(() => client.rebind({ port: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', name: 'RangeError' }));
    expect(() => client.rebind({ bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => client.rebind({ host: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const port = client.address().port;
    client.destroy();
    expect(port).toBeGreaterThan(0);
    await expect(client.rebind()).rejects.toMatchObject({ code: 'ERR_ENDPOINT_CLOSED' });
  });
});
