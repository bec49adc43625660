import { describe, expect, it } from 'vitest';
import { ConnectionTable } from '../../src/core/connection-table.js';
import { PeerTable } from '../../src/core/peer-table.js';
import { cidHigh, cidLow } from '../../src/wire/cid-halves.js';
import { VirtualNet, endpointConfig, type Node } from './endpoint-harness.js';
import type { ConnectionCore } from '../../src/core/connection.js';
import type { EndpointConnection } from '../../src/core/endpoint.js';

const SERVER = '10.0.0.2';

/** Every Map and Set an endpoint holds, up to two objects deep (its tables and theirs), each once. */
function tablesOf(root: object): (Map<unknown, unknown> | Set<unknown>)[] {
  const seen = new Set<object>();
  const found: (Map<unknown, unknown> | Set<unknown>)[] = [];
  const visit = (o: unknown, depth: number): void => {
    if (o === null || typeof o !== 'object' || seen.has(o)) return;
    seen.add(o);
    if (o instanceof Map || o instanceof Set) {
      found.push(o);
      return;
    }
    if (depth >= 2 || ArrayBuffer.isView(o) || Array.isArray(o)) return;
    for (const v of Object.values(o)) visit(v, depth + 1);
  };
  for (const v of Object.values(root)) visit(v, 1);
  return found;
}

function entries(tables: (Map<unknown, unknown> | Set<unknown>)[]): number {
  return tables.reduce((n, t) => n + t.size, 0);
}

/** `n` clients, each at its own address, connected to one server. */
function connected(n: number): { net: VirtualNet; server: Node; clients: Node[] } {
  const net = new VirtualNet(5);
  const server = net.add(SERVER, endpointConfig(), 1, 4000);
  const clients: Node[] = [];
  for (let i = 0; i < n; i++) clients.push(net.add(`10.0.1.${i + 1}`, endpointConfig(), 100 + i, 5000));
  for (const c of clients) expect(c.core.connect(net.now, SERVER, 4000).ok).toBe(true);
  net.run(2000, () => clients.every((c) => c.events.some((e) => e.type === 'connected')));
  expect(server.core.connectionCount).toBe(n);
  return { net, server, clients };
}

describe('the endpoint tables, per connection', () => {
  it('hold two entries per established connection (by local ID, by peer) and no string key of its own', () => {
    const n = 6;
    const { server, clients } = connected(n);
    const serverTables = tablesOf(server.core);
    // Server: one entry by local ID, one by (address, port, remote ID), and each client's
    // address in the per-address count (one per address here). Before: four, one of them
    // keyed by an "address|port|cid" string (a Set, a Map by BigInt, one by low half, one by string).
    expect(entries(serverTables)).toBe(2 * n + n);
    const stringKeyed = serverTables.filter((t) => [...t.keys()].some((k) => typeof k === 'string' && k.includes('|')));
    expect(stringKeyed).toEqual([]);
    for (const c of clients) expect(entries(tablesOf(c.core))).toBe(2);
  });

  it('drop every entry when the connections close (the retired IDs are kept, then pruned)', () => {
    const { net, server, clients } = connected(3);
    const base = entries(tablesOf(connected(0).server.core));
    for (const c of clients) {
      const ev = c.events.find((e) => e.type === 'connected');
      if (ev?.type !== 'connected') throw new Error('not connected');
      ev.connection.core.close(net.now);
      c.core.touch(ev.connection);
    }
    net.run(net.now + 60_000, () => server.core.connectionCount === 0 && clients.every((c) => c.core.connectionCount === 0));
    expect(server.core.connectionCount).toBe(0);
    // Retired: the local IDs and the peers' triples, until retiredCidLifetime passes.
    expect(entries(tablesOf(server.core))).toBe(base + 2 * 3);
    net.run(net.now + endpointConfig().retiredCidLifetime + 1000, () => false);
    expect(entries(tablesOf(server.core))).toBe(base);
  });
});

interface Entry {
  localCid: bigint;
  cidHi: number;
  cidLo: number;
}
const entry = (cid: bigint): Entry => ({ localCid: cid, cidHi: cidHigh(cid), cidLo: cidLow(cid) });

describe('ConnectionTable', () => {
  it('keeps one entry per connection and finds connections whose IDs share their low 32 bits', () => {
    const t = new ConnectionTable<Entry>();
    const a = entry(0x1111_1111_dead_beefn);
    const b = entry(0x2222_2222_dead_beefn);
    const c = entry(0x3333_3333_0000_0001n);
    for (const e of [a, b, c]) t.add(e);
    expect(t.size).toBe(3);
    expect(t.byLow.size).toBe(2);
    expect(t.get(a.localCid)).toBe(a);
    expect(t.get(b.localCid)).toBe(b);
    expect(t.get(c.localCid)).toBe(c);
    expect(t.get(0x4444_4444_dead_beefn)).toBeUndefined();
    expect([...t]).toEqual([a, c, b]);
    expect(t.delete(a)).toBe(true);
    expect(t.delete(a)).toBe(false);
    expect(t.get(b.localCid)).toBe(b);
    expect(t.size).toBe(2);
    expect(t.delete(b)).toBe(true);
    expect([...t]).toEqual([c]);
  });
});

interface Peer {
  remoteCid: bigint;
  address: string;
  port: number;
}

describe('PeerTable', () => {
  it('files connections by remote ID, telling paths apart when peers chose the same ID', () => {
    const t = new PeerTable<Peer>();
    const a: Peer = { remoteCid: 7n, address: '10.0.0.1', port: 1 };
    const b: Peer = { remoteCid: 7n, address: '10.0.0.1', port: 2 };
    const c: Peer = { remoteCid: 7n, address: '10.0.0.3', port: 1 };
    const twin: Peer = { remoteCid: 7n, address: '10.0.0.1', port: 1 };
    expect(t.add(a)).toBe(true);
    expect(t.get('10.0.0.1', 1, 7n)).toBe(a);
    expect(t.get('10.0.0.1', 2, 7n)).toBeUndefined();
    expect(t.get('10.0.0.1', 1, 8n)).toBeUndefined();
    expect(t.add(b)).toBe(true);
    expect(t.add(c)).toBe(true);
    expect(t.add(twin)).toBe(false);
    expect(t.size).toBe(3);
    expect(t.get('10.0.0.1', 1, 7n)).toBe(a);
    expect(t.get('10.0.0.1', 2, 7n)).toBe(b);
    expect(t.get('10.0.0.3', 1, 7n)).toBe(c);
    expect(t.delete(twin)).toBe(false);
    expect(t.delete(b)).toBe(true);
    expect(t.delete(a)).toBe(true);
    expect(t.size).toBe(1);
    expect(t.get('10.0.0.3', 1, 7n)).toBe(c);
    // A connection moves: out under the old path, in under the new one.
    expect(t.delete(c)).toBe(true);
    c.address = '10.0.0.4';
    expect(t.add(c)).toBe(true);
    expect(t.get('10.0.0.3', 1, 7n)).toBeUndefined();
    expect(t.get('10.0.0.4', 1, 7n)).toBe(c);
  });
});

describe('a connection that moves (the endpoint\'s tables follow it)', () => {
  /**
   * Two clients whose randomness is the same (seed 7) pick the same connection ID: the server
   * files their connections by path. `move` stands in for the engine validating a new path of
   * one of them (its 'path-changed' event), which the endpoint's tables follow.
   */
  function twins(at: [string, string]) {
    const net = new VirtualNet(5);
    const server = net.add(SERVER, endpointConfig(), 1, 4000);
    const clients = at.map((a) => net.add(a, endpointConfig(), 7, 5000));
    for (const c of clients) expect(c.core.connect(net.now, SERVER, 4000).ok).toBe(true);
    net.run(2000, () => clients.every((c) => c.events.some((e) => e.type === 'connected')));
    const records = server.events.flatMap((e) => (e.type === 'accepted' ? [e.connection] : []));
    expect(records).toHaveLength(2);
    const move = (i: number, address: string, port: number): void => {
      const r = records[i]!;
      const core = r.core as ConnectionCore;
      const poll = core.pollEvent.bind(core);
      let once = true;
      core.pollEvent = () => {
        if (!once) return poll();
        once = false;
        return { type: 'path-changed', address, port, previousAddress: r.address, previousPort: r.port };
      };
      server.core.touch(r);
      net.flush();
    };
    const byPeer = (server.core as unknown as { byPeer: PeerTable<EndpointConnection> }).byPeer;
    const perAddress = (server.core as unknown as { perAddress: { shared: Map<string, string>; count(a: string): number } }).perAddress;
    return { net, server, clients, records, move, byPeer, perAddress };
  }

  it('one that moves onto the path and ID of another is filed there once that one is gone', () => {
    const { net, clients, records, move, byPeer } = twins(['10.0.1.1', '10.0.1.2']);
    const [a, b] = records as [EndpointConnection, EndpointConnection];
    expect(a.remoteCid).toBe(b.remoteCid);
    move(1, '10.0.1.1', 5000);
    expect(b.address).toBe('10.0.1.1');
    // The triple is a's: b waits for it.
    expect(byPeer.get('10.0.1.1', 5000, b.remoteCid)).toBe(a);
    expect(byPeer.get('10.0.1.2', 5000, b.remoteCid)).toBeUndefined();
    // a closes and is forgotten: b takes its triple (before: in no table by peer, for good).
    const clientA = clients[0]!.events.find((e) => e.type === 'connected');
    if (clientA?.type !== 'connected') throw new Error('no client connection');
    clientA.connection.core.close(net.now);
    clients[0]!.core.touch(clientA.connection);
    net.run(net.now + 5000, () => a.closed);
    expect(a.closed).toBe(true);
    expect(byPeer.get('10.0.1.1', 5000, b.remoteCid)).toBe(b);
    expect(byPeer.size).toBe(1);
  });

  it('one that moves to an address other connections come from shares their address string (counted there)', () => {
    const { records, move, perAddress } = twins(['10.0.1.1', '10.0.1.2']);
    expect(perAddress.shared.size).toBe(0);
    // The second moves to the first's address (another port): two connections from there now.
    move(1, '10.0.1.1', 5001);
    expect(perAddress.count('10.0.1.1')).toBe(2);
    expect(perAddress.count('10.0.1.2')).toBe(0);
    // Filed as shared: the moved connection keeps the string the other keeps (before: the datagram's copy).
    expect([...perAddress.shared.keys()]).toEqual(['10.0.1.1']);
    expect(records[1]!.address).toBe('10.0.1.1');
  });
});
