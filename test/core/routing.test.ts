import { describe, expect, it } from 'vitest';
import { EndpointCore, type EndpointConnection } from '../../src/core/endpoint.js';
import { ConnectionCore } from '../../src/core/connection.js';
import { VirtualNet, endpointConfig, seededRandomBytes, type Node } from './endpoint-harness.js';

const SERVER = '10.0.0.2';

/**
 * Random bytes whose 8-byte draws (connection IDs) all end in the same four bytes: every
 * connection ID this endpoint picks shares its low 32 bits with the others.
 */
function collidingRandomBytes(seed: number): (n: number) => Uint8Array {
  const inner = seededRandomBytes(seed);
  return (n) => {
    const b = inner(n);
    if (n === 8) b.set([0xde, 0xad, 0xbe, 0xef], 4);
    return b;
  };
}

describe('EndpointCore routing of DATA by connection ID', () => {
  it('routes connections whose IDs share their low 32 bits (the allocation-free lookup falls back to the full ID)', () => {
    const net = new VirtualNet(5);
    const server: Node = {
      name: SERVER,
      port: 4000,
      core: new EndpointCore({
        config: endpointConfig(),
        randomBytes: collidingRandomBytes(1),
        createConnection: (init) => new ConnectionCore(init),
        now: 0,
      }),
      events: [],
    };
    net.nodes.set(SERVER, server);
    const clients = [net.add('10.0.0.11', endpointConfig(), 2, 5000), net.add('10.0.0.12', endpointConfig(), 3, 5000), net.add('10.0.0.13', endpointConfig(), 4, 5000)];
    for (const c of clients) expect(c.core.connect(net.now, SERVER, 4000).ok).toBe(true);
    const connectedOf = (n: Node): EndpointConnection | undefined => {
      const ev = n.events.find((e) => e.type === 'connected');
      return ev?.type === 'connected' ? ev.connection : undefined;
    };
    net.run(2000, () => clients.every((c) => connectedOf(c) !== undefined));
    const accepted = server.events.flatMap((e) => (e.type === 'accepted' ? [e.connection] : []));
    expect(accepted).toHaveLength(3);
    expect(new Set(accepted.map((c) => c.localCid & 0xffff_ffffn)).size).toBe(1);
    expect(new Set(accepted.map((c) => c.localCid)).size).toBe(3);
    clients.forEach((c, i) => {
      const conn = connectedOf(c)!;
      conn.core.send(new TextEncoder().encode(`from client ${i}`));
      c.core.touch(conn);
    });
    const received = (): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const e of server.events) {
        if (e.type === 'connection-event' && e.event.type === 'message') {
          m.set(e.connection.address, [...(m.get(e.connection.address) ?? []), Buffer.from(e.event.data).toString()]);
        }
      }
      return m;
    };
    net.run(net.now + 2000, () => received().size === 3);
    expect(Object.fromEntries(received())).toEqual({
      '10.0.0.11': ['from client 0'],
      '10.0.0.12': ['from client 1'],
      '10.0.0.13': ['from client 2'],
    });
    expect(server.core.stats().dropped['unknown-cid']).toBe(0);
  });
});

describe('EndpointCore: the ACCEPT kept for a repeated INITIAL', () => {
  it('is sent again while the client has sent no DATA, and forgotten once it has (an idle connection holds no copy)', () => {
    const net = new VirtualNet(5);
    const server = net.add(SERVER, endpointConfig(), 1, 4000);
    const client = net.add('10.0.0.1', endpointConfig(), 2, 5000);
    expect(client.core.connect(net.now, SERVER, 4000).ok).toBe(true);
    net.run(2000, () => client.events.some((e) => e.type === 'connected'));
    const initials = net.log.filter((w) => w.from === '10.0.0.1' && w.data[1] === 0x01);
    const withCookie = initials[initials.length - 1]!.data;
    const accepts = (): number => net.log.filter((w) => w.from === SERVER && w.data[1] === 0x03).length;
    // The ACCEPT was lost, say: the client repeats its INITIAL, and the server answers again.
    const before = accepts();
    net.inject('10.0.0.1', 5000, server, withCookie);
    net.flush();
    expect(accepts()).toBe(before + 1);
    // Once DATA came from the client, it had the ACCEPT: a late INITIAL gets no answer.
    const ev = client.events.find((e) => e.type === 'connected');
    const conn = ev?.type === 'connected' ? ev.connection : undefined;
    conn!.core.send(new TextEncoder().encode('hello'));
    client.core.touch(conn!);
    net.run(net.now + 1000, () => server.events.some((e) => e.type === 'connection-event' && e.event.type === 'message'));
    const after = accepts();
    net.inject('10.0.0.1', 5000, server, withCookie);
    net.flush();
    expect(accepts()).toBe(after);
  });
});
