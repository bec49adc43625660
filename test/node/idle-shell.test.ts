import { describe, expect, it } from 'vitest';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import { SimNetwork } from '../../src/testing/index.js';
import { Rng } from '../../src/testing/rng.js';

/** Entries of every Map and Set the object holds directly. */
function ownTableEntries(o: object): number {
  let n = 0;
  for (const v of Object.values(o)) if (v instanceof Map || v instanceof Set) n += v.size;
  return n;
}

/** A server and a client endpoint on the simulator with `count` connections between them. */
async function connections(count: number): Promise<{ net: SimNetwork; server: Endpoint; client: Endpoint; conns: Connection[]; peers: Connection[] }> {
  const net = new SimNetwork({ seed: 7, impairment: { delay: 5 } });
  const rng = new Rng(7);
  const randomBytes = (n: number): Uint8Array => rng.bytes(n);
  const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes });
  const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes });
  const peers: Connection[] = [];
  server.on('connection', (c: Connection) => peers.push(c));
  const conns: Connection[] = [];
  for (let i = 0; i < count; i++) void client.connect(4433, '10.0.0.2').then((c) => conns.push(c));
  if (!(await net.runUntilAsync(() => conns.length === count && peers.length === count, 10_000))) throw new Error('not connected');
  return { net, server, client, conns, peers };
}

describe('the Node shell, per idle connection', () => {
  it('keeps no table of its own per connection: `connections` reads the engine table', async () => {
    const { net, server, client, conns, peers } = await connections(5);
    try {
      // Before: the shell's own Set of live connections held one entry per connection.
      expect(ownTableEntries(server)).toBe(0);
      expect(ownTableEntries(client)).toBe(0);
      expect(client.connections).toEqual(conns);
      expect(server.connections).toEqual(peers);
      // A connection is gone from `connections` once it is over, while its engine may still drain.
      const closed = conns[1]!;
      const done = closed.close();
      expect(await net.runUntilAsync(() => closed.closed && peers[1]!.closed, 10_000)).toBe(true);
      await done;
      // Both engines linger, draining (they re-acknowledge a repeated CLOSE), but neither is a connection.
      expect([server.stats().drainingConnections, client.stats().drainingConnections]).toEqual([1, 1]);
      expect(client.connections).toEqual([conns[0], conns[2], conns[3], conns[4]]);
      expect(server.connections).toEqual([peers[0], peers[2], peers[3], peers[4]]);
    } finally {
      client.destroy();
      server.destroy();
    }
  });

  it('holds its yes/no state in one field: a Connection has twelve own properties', async () => {
    const { server, client, conns, peers } = await connections(1);
    try {
      for (const c of [conns[0]!, peers[0]!]) {
        const keys = Reflect.ownKeys(c).map(String);
        // node:events' five (_events, _eventsCount, _maxListeners, two symbols) and seven of
        // the shell's. Before: eighteen (six booleans and a second error field).
        expect(keys, keys.join(', ')).toHaveLength(12);
        expect(keys).toContain('flags');
      }
    } finally {
      client.destroy();
      server.destroy();
    }
  });

  it('ends with the error destroy(err) was given, on this side only', async () => {
    const { net, server, client, conns, peers } = await connections(1);
    try {
      const err = new Error('mine');
      const seen: unknown[] = [];
      conns[0]!.on('error', (e) => seen.push(['error', e]));
      conns[0]!.on('close', (e) => seen.push(['close', e]));
      peers[0]!.on('error', () => undefined);
      conns[0]!.destroy(err);
      expect(seen).toEqual([
        ['error', err],
        ['close', err],
      ]);
      await expect(conns[0]!.flush()).rejects.toBe(err);
      expect(await net.runUntilAsync(() => peers[0]!.closed, 10_000)).toBe(true);
    } finally {
      client.destroy();
      server.destroy();
    }
  });
});
