import { describe, expect, it } from 'vitest';
import type { EndpointConnection } from '../../src/core/endpoint.js';
import { PacketType } from '../../src/wire/index.js';
import { VirtualNet, endpointConfig, type Node } from './endpoint-harness.js';
import { createNodeSuite } from '../../src/crypto/node-suite.js';
import { SecurePacketType } from '../../src/wire/secure.js';

/**
 * RFC 9002 §5: the client's first RTT sample comes from its handshake (INITIAL → ACCEPT), so
 * its PTO, and with it the close's drain period (3 PTO, RFC 9000 §10.2), follow the path
 * rather than `initialRtt` (100 ms here) from the first moment. Virtual time, 20 ms one way.
 */
const ONE_WAY = 20;
const N = 200;

function connectMany(n: number, drop?: (data: Uint8Array, from: string) => boolean): { net: VirtualNet; server: Node; client: Node; conns: EndpointConnection[] } {
  const net = new VirtualNet(ONE_WAY);
  const server = net.add('s', endpointConfig({ acceptConnections: true }), 1, 4000);
  const client = net.add('c', endpointConfig({ maxPendingConnects: n }), 2, 5000);
  if (drop) net.filter = (w) => !drop(w.data, w.from);
  for (let i = 0; i < n; i++) client.core.connect(net.now, 's', 4000);
  const connected = (): EndpointConnection[] =>
    client.events.flatMap((e) => (e.type === 'connected' ? [e.connection] : []));
  net.run(10_000, () => connected().length === n);
  return { net, server, client, conns: connected() };
}

describe('the handshake gives the client its first RTT sample', () => {
  it('srtt and PTO follow the handshake round trip, not initialRtt', () => {
    const { conns } = connectMany(1);
    const s = conns[0]!.core.stats();
    expect(s.srtt).toBeCloseTo(2 * ONE_WAY, 6);
    expect(s.minRtt).toBeCloseTo(2 * ONE_WAY, 6);
    // srtt + 4·rttvar (srtt/2) + maxAckDelay (5): 40 + 80 + 5; with initialRtt alone it was 305.
    expect(s.pto).toBeCloseTo(125, 6);
  });

  it('a repeated INITIAL gives no sample (the ACCEPT may answer either copy)', () => {
    // The first ACCEPT is lost: the client repeats its (cookie) INITIAL, the server its ACCEPT.
    let accepts = 0;
    const { conns } = connectMany(1, (data, from) => from === 's' && data[1] === PacketType.Accept && accepts++ === 0);
    expect(accepts).toBe(2);
    const s = conns[0]!.core.stats();
    expect(s.srtt).toBe(100);
    expect(s.minRtt).toBe(0);
  });

  it('a second RETRY (the first INITIAL was repeated on a path slower than its timer) is not followed: one cookie INITIAL, timed right', () => {
    // 150 ms one way: the INITIAL is repeated at 200 ms and both copies are answered by a RETRY.
    // One RETRY is followed per INITIAL sent (docs/protocol.md §10.2 step 4), so the second,
    // arriving before any retransmission, sends no second cookie INITIAL: the ACCEPT answers the
    // only one, a true sample of 300 ms. (When both were followed, the ACCEPT for the first was
    // ambiguous and gave no sample; a second RETRY restarting the clock would measure 100.)
    const net = new VirtualNet(150);
    net.add('s', endpointConfig({ acceptConnections: true }), 1, 4000);
    const client = net.add('c', endpointConfig(), 2, 5000);
    client.core.connect(net.now, 's', 4000);
    net.run(10_000, () => client.events.some((e) => e.type === 'connected'));
    const retries = net.log.filter((w) => w.from === 's' && w.data[1] === PacketType.Retry).length;
    expect(retries).toBe(2);
    const cookieInitials = net.log.filter((w) => w.from === 'c' && w.data[1] === PacketType.Initial).length - 2;
    expect(cookieInitials).toBe(1);
    expect(client.core.stats().dropped.unexpected).toBe(1);
    const e = client.events.find((x) => x.type === 'connected');
    if (e?.type !== 'connected') throw new Error('not connected');
    const s = e.connection.core.stats();
    expect(s.minRtt).toBe(300);
    expect(s.srtt).toBe(300);
  });

  it(`${N} idle connections on one endpoint close within 3 PTO of the measured path (+ 2 RTT)`, () => {
    const { net, server, client, conns } = connectMany(N);
    expect(conns).toHaveLength(N);
    const pto = conns[0]!.core.stats().pto;
    expect(pto).toBeLessThan(200);
    const t0 = net.now;
    client.core.close(t0);
    net.run(t0 + 60_000, () => client.core.idle && server.core.idle);
    expect(client.core.idle).toBe(true);
    // Each side drains 3 PTO after the last CLOSE/ACK it heard; the CLOSE exchange is 1–2 RTT.
    // Without the handshake sample the PTO after connect is 305 ms (initialRtt 100): the
    // CLOSE's ACK then gives the first sample and this takes 415 ms (375 with it), failing the
    // lower bound below and `pto < 200` above.
    expect(net.now - t0).toBeLessThanOrEqual(3 * pto + 4 * ONE_WAY + 1);
    expect(net.now - t0).toBeGreaterThanOrEqual(3 * pto);
  });
});

/**
 * The server has no handshake sample, but a bound: the client sends nothing before it has the
 * ACCEPT, so its first packet comes at most one round trip after the ACCEPT left (more when the
 * client waited before sending). Below initialRtt the bound is the connection's initial RTT,
 * which the first real sample replaces (docs/protocol.md §14.1). maxDatagramSize 1200: no
 * path-MTU probes, so the client sends only what its application sends.
 */
describe('the client\'s first packet bounds the server\'s RTT', () => {
  const STARTUP_GAIN = 2 / Math.LN2;
  const INITIAL_WINDOW = 10 * 1200;

  function serverAfterFirstPacket(clientWaits: number, secure = false, beforeFirst?: (net: VirtualNet, server: Node, conn: EndpointConnection) => void) {
    const net = new VirtualNet(ONE_WAY);
    const core = { initialRtt: 100, idleTimeout: 30_000, keepAliveInterval: 10_000, maxDatagramSize: 1200 };
    const keyPair = (() => {
      const privateKey = new Uint8Array(32).fill(9);
      return { privateKey, publicKey: createNodeSuite().x25519Public(privateKey) };
    })();
    const suite = secure ? createNodeSuite() : undefined;
    const server = net.add('s', endpointConfig({ acceptConnections: true, core, ...(secure ? { keyPair } : {}) }), 1, 4000, suite);
    const client = net.add('c', endpointConfig({ core }), 2, 5000, suite);
    client.core.connect(net.now, 's', 4000, secure ? { serverKey: keyPair.publicKey } : {});
    net.run(10_000, () => client.events.some((e) => e.type === 'connected'));
    const connected = client.events.find((e) => e.type === 'connected');
    const accepted = server.events.find((e) => e.type === 'accepted');
    if (connected?.type !== 'connected' || accepted?.type !== 'accepted') throw new Error('no connection');
    expect(accepted.connection.encrypted).toBe(secure);
    // Nothing from the client yet: the server is at initialRtt.
    expect(accepted.connection.core.stats().srtt).toBe(100);
    beforeFirst?.(net, server, accepted.connection);
    net.run(net.now + clientWaits);
    connected.connection.core.send(new Uint8Array(100));
    client.core.touch(connected.connection);
    net.run(net.now + 10_000, () => accepted.connection.core.stats().packetsReceived > 0);
    return { net, server, client, conn: accepted.connection, clientConn: connected.connection };
  }

  it('a client that sends at once gives the round trip: PTO 125 ms instead of 305, and BBR paces from it', () => {
    const { conn } = serverAfterFirstPacket(0);
    const s = conn.core.stats();
    expect(s.srtt).toBeCloseTo(2 * ONE_WAY, 6);
    expect(s.minRtt).toBe(0); // not a sample
    expect(s.pto).toBeCloseTo(125, 6);
    // Startup gain × initial window / RTT, per second (was / 100 ms).
    expect(s.pacingRate).toBeCloseTo((STARTUP_GAIN * INITIAL_WINDOW * 1000) / (2 * ONE_WAY), 3);
  });

  it('the server\'s lost first reply is probed one PTO of the path later, not 305 ms', () => {
    const { net, server, conn } = serverAfterFirstPacket(0);
    // The server answers the client's first message at once; what it sends then is lost.
    const t0 = net.now;
    net.filter = (w) => !(w.from === 's' && net.now === t0);
    conn.core.send(new Uint8Array(100));
    server.core.touch(conn);
    net.run(t0 + 1000, () => conn.core.stats().ptoCount > 0);
    // PTO = 40 + 4 · 20 + 5 ms from the bound; 100 + 4 · 50 + 5 from initialRtt alone.
    expect(conn.core.stats().ptoCount).toBe(1);
    expect(net.now - t0).toBeCloseTo(125, 6);
  });

  it('a client that waited gives a looser bound, and the first real sample replaces it (not averaged in)', () => {
    const { net, server, conn } = serverAfterFirstPacket(30);
    expect(conn.core.stats().srtt).toBeCloseTo(2 * ONE_WAY + 30, 6);
    conn.core.send(new Uint8Array(100));
    server.core.touch(conn);
    net.run(net.now + 1000, () => conn.core.stats().minRtt > 0);
    const s = conn.core.stats();
    // A first sample: smoothed = min = it (7/8 · 70 + 1/8 · 40 if the bound had been a sample).
    expect(s.srtt).toBe(s.minRtt);
    expect(s.srtt).toBeGreaterThanOrEqual(2 * ONE_WAY);
    expect(s.srtt).toBeLessThan(2 * ONE_WAY + 10);
  });

  it('encrypted: the same bound, and a forged packet with the server\'s CID that does not authenticate gives none', () => {
    const { conn } = serverAfterFirstPacket(30, true, (net, server, c) => {
      // At once, from the client's address: a PROTECTED packet for the connection, not sealed by the client.
      const forged = new Uint8Array(200);
      forged[0] = 1;
      forged[1] = SecurePacketType.Protected;
      new DataView(forged.buffer).setBigUint64(2, c.localCid);
      const dropped = server.core.stats().dropped.decrypt;
      net.inject('c', 5000, server, forged);
      expect(server.core.stats().dropped.decrypt).toBe(dropped + 1);
      expect(c.core.stats().srtt).toBe(100);
    });
    expect(conn.core.stats().srtt).toBeCloseTo(2 * ONE_WAY + 30, 6);
  });

  it('a bound above initialRtt changes nothing', () => {
    const { conn } = serverAfterFirstPacket(200);
    expect(conn.core.stats().srtt).toBe(100);
    expect(conn.core.stats().pto).toBe(305);
  });
});

describe('the handshake sample reaches the congestion controller', () => {
  it('BBR\'s first pacing rate is its startup gain × the initial window / the handshake RTT, not / initialRtt', () => {
    const { conns } = connectMany(1);
    const s = conns[0]!.core.stats();
    // 1452-byte ceiling: the search starts at 1,200, the initial window is 10 of them.
    expect(s.pacingRate).toBeCloseTo(((2 / Math.LN2) * 12_000 * 1000) / (2 * ONE_WAY), 3);
  });
});
