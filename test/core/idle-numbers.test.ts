// Idle connections stay small (issue 11 part 4): the numbers an endpoint starts its sequences at
// are below 2^30, so that the packet-number and TSN fields of every stage hold small integers
// (V8 keeps a number ≥ 2^31 as a 16-byte heap object in each field holding it; with full
// 32-bit starting values about half of a dozen such fields per connection were). Any u32 stays
// valid on the wire (docs/protocol.md §4.1); this is what this implementation picks.
import { describe, expect, it } from 'vitest';
import { EndpointCore } from '../../src/core/endpoint.js';
import { ConnectionCore } from '../../src/core/connection.js';
import { decodePacket } from '../../src/wire/packet.js';
import { VirtualNet, endpointConfig, type Node } from './endpoint-harness.js';
import { reachable } from '../helpers/footprint.js';

/** The largest random bytes there are: every draw is 0xff. */
const allOnes = (n: number): Uint8Array => {
  const b = new Uint8Array(n).fill(0xff);
  // Connection IDs must not repeat: vary the first byte of 8-byte draws.
  if (n === 8) b[0] = 0x80 + (counter++ % 64);
  return b;
};
let counter = 0;

function node(net: VirtualNet, name: string): Node {
  const n: Node = {
    name,
    port: 4000,
    core: new EndpointCore({ config: endpointConfig(), randomBytes: allOnes, createConnection: (init) => new ConnectionCore(init), now: 0 }),
    events: [],
  };
  net.nodes.set(name, n);
  return n;
}

/** A client (10.0.0.11) connected to a server (10.0.0.2) on all-ones random bytes: both endpoint records. */
function connectedPair() {
  const net = new VirtualNet(5);
  const server = node(net, '10.0.0.2');
  const client = node(net, '10.0.0.11');
  expect(client.core.connect(net.now, '10.0.0.2', 4000).ok).toBe(true);
  net.run(2000, () => client.events.some((e) => e.type === 'connected'));
  const connected = client.events.find((e) => e.type === 'connected');
  const accepted = server.events.find((e) => e.type === 'accepted');
  if (connected?.type !== 'connected' || accepted?.type !== 'accepted') throw new Error('no connection');
  return { net, server, client, connected, accepted };
}

describe('initial packet numbers and TSNs', () => {
  it('are drawn below 2^30 on both sides, even from all-ones random bytes', () => {
    const { net } = connectedPair();
    const params = net.log.flatMap((w) => {
      const p = decodePacket(w.data);
      return p.ok && (p.value.type === 'initial' || p.value.type === 'accept') ? [p.value.params] : [];
    });
    expect(params.length).toBeGreaterThanOrEqual(2);
    for (const p of params) {
      expect(p.initialPacketNumber).toBeLessThan(2 ** 30);
      expect(p.initialTsn).toBeLessThan(2 ** 30);
      // Still random: 30 bits of the draw (all ones here).
      expect(p.initialPacketNumber).toBe(2 ** 30 - 1);
    }
  });

  it('connection IDs are kept as signed 32-bit halves: small integers even with the top bits set, and routing still finds them', () => {
    const { net, server, client, connected, accepted } = connectedPair();
    for (const c of [connected.connection, accepted.connection]) {
      // The CIDs have their top bit set in both halves (0x8…ff… from the all-ones draws).
      expect(c.localCid >> 63n).toBe(1n);
      expect(c.localCid & 0x8000_0000n).toBe(0x8000_0000n);
      for (const half of [c.cidHi, c.cidLo, (c.core as unknown as { localCidHi: number }).localCidHi, (c.core as unknown as { localCidLo: number }).localCidLo]) {
        expect(half | 0).toBe(half);
      }
    }
    // DATA both ways goes through the fast route with these halves.
    const got: string[] = [];
    net.onEvent = (n, ev) => {
      if (ev.type === 'connection-event' && ev.event.type === 'message') got.push(`${n.name}:${Buffer.from(ev.event.data).toString()}`);
    };
    connected.connection.core.send(new TextEncoder().encode('up'));
    client.core.touch(connected.connection);
    accepted.connection.core.send(new TextEncoder().encode('down'));
    server.core.touch(accepted.connection);
    net.run(4000, () => got.length === 2);
    expect(got.sort()).toEqual(['10.0.0.11:down', '10.0.0.2:up']);
  });

  it('an endpoint record keeps the peer reset token as integers (no typed array of its own), and gives it back byte for byte', () => {
    const { net, server, client, connected, accepted } = connectedPair();
    const tokens = new Map<string, Uint8Array>();
    for (const w of net.log) {
      const p = decodePacket(w.data);
      if (p.ok && (p.value.type === 'initial' || p.value.type === 'accept')) tokens.set(w.from, new Uint8Array(p.value.params.resetToken));
    }
    expect([...connected.connection.remoteResetToken]).toEqual([...tokens.get('10.0.0.2')!]);
    expect([...accepted.connection.remoteResetToken]).toEqual([...tokens.get('10.0.0.11')!]);
    for (const c of [connected.connection, accepted.connection]) {
      // Not the engine's, and not the server's ACCEPT copy (kept until the client's first DATA).
      const own = reachable(c, (key) => key === 'core' || key === 'acceptDatagram');
      expect([...own].filter(([o]) => ArrayBuffer.isView(o)).map(([, path]) => path)).toEqual([]);
    }
  });
});
