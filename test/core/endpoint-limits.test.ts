import { describe, expect, it } from 'vitest';
import type { EndpointConnection, EndpointEvent } from '../../src/core/endpoint.js';
import { Receiver } from '../../src/core/receiver.js';
import { decodePacket, encodePacket, type AcceptPacket } from '../../src/wire/index.js';
import { VirtualNet, endpointConfig, type Node, type Wire } from './endpoint-harness.js';

/** Issue #10 at the endpoint: what this side announced is enforced, and one byte budget is shared. */

const SERVER = '10.0.0.2';
const KiB = 1024;

function connected(node: Node): EndpointConnection | undefined {
  const ev = node.events.find((e) => e.type === 'connected');
  return ev?.type === 'connected' ? ev.connection : undefined;
}

function failed(node: Node): Extract<EndpointEvent, { type: 'connect-failed' }> | undefined {
  const ev = node.events.find((e) => e.type === 'connect-failed');
  return ev?.type === 'connect-failed' ? ev : undefined;
}

function closedWith(node: Node): string[] {
  return node.events.flatMap((e) =>
    e.type === 'connection-event' && e.event.type === 'closed' ? [e.event.error?.code ?? 'graceful'] : [],
  );
}

function accepts(w: Wire): AcceptPacket | null {
  const d = decodePacket(w.data);
  return d.ok && d.value.type === 'accept' ? d.value : null;
}

/** Rewrite every ACCEPT on the wire with `edit` (a checksum-correct forgery). */
function rewriteAccepts(net: VirtualNet, edit: (p: AcceptPacket) => void): void {
  net.filter = (w) => {
    const a = accepts(w);
    if (a) {
      edit(a);
      w.data = encodePacket(a);
    }
    return true;
  };
}

function setup(server: Parameters<typeof endpointConfig>[0] = {}, client: Parameters<typeof endpointConfig>[0] = {}) {
  const net = new VirtualNet(5);
  const s = net.add(SERVER, endpointConfig(server), 1, 4000);
  const c = net.add('10.0.0.1', endpointConfig(client), 2, 5000);
  return { net, s, c };
}

describe('endpoint limits (issue #10)', () => {
  it('drops DATA larger than the maxDatagramSize it announced, before the connection sees it (dropped.oversize)', () => {
    const { net, s, c } = setup();
    c.core.connect(net.now, SERVER, 4000);
    net.run(2000, () => connected(c) !== undefined);
    const conn = connected(c)!;
    const serverConn = s.events.find((e) => e.type === 'accepted')!;
    if (serverConn.type !== 'accepted') throw new Error('no accepted event');
    const before = serverConn.connection.core.stats().packetsReceived;
    // A valid DATA packet for the live connection, 1,500 bytes (the server announced 1,452).
    const big = encodePacket({
      type: 'data',
      dcid: conn.remoteCid,
      packetNumber: 123,
      frames: [{ type: 'unreliable', messageId: 1, index: 0, count: 1, payload: new Uint8Array(1500 - 18 - 9) }],
    });
    expect(big.length).toBe(1500);
    net.inject('10.0.0.1', 5000, s, big);
    expect(s.core.stats().dropped.oversize).toBe(1);
    expect(serverConn.connection.core.stats().packetsReceived).toBe(before);
  });

  it('announces maxMessageSize; the sender refuses larger messages locally (ERR_MESSAGE_TOO_LARGE) instead of being reset', () => {
    const { net, s, c } = setup({ core: { maxMessageSize: 64 * KiB } });
    c.core.connect(net.now, SERVER, 4000);
    net.run(2000, () => connected(c) !== undefined);
    const accept = net.log.map(accepts).find((a) => a !== null)!;
    expect(accept.params.maxMessageSize).toBe(64 * KiB);
    const conn = connected(c)!;
    expect(conn.core.maxMessageSize).toBe(64 * KiB);
    expect(() => conn.core.send(new Uint8Array(64 * KiB + 1))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }));
    conn.core.send(new Uint8Array(64 * KiB));
    c.core.touch(conn);
    net.run(net.now + 5000, () => s.events.some((e) => e.type === 'connection-event' && e.event.type === 'message'));
    expect(closedWith(s)).toEqual([]);
    // And the client announced its own limit (the default, capped at the receive window: 4 MiB).
    const initial = net.log.map((w) => decodePacket(w.data)).find((d) => d.ok && d.value.type === 'initial');
    expect(initial?.ok && initial.value.type === 'initial' && initial.value.params.maxMessageSize).toBe(4 * 1024 * KiB);
  });

  it('a peer that predates the parameter (no maxMessageSize in its ACCEPT) leaves the sender at its own limit', () => {
    const { net, s, c } = setup({ core: { maxMessageSize: 64 * KiB } });
    rewriteAccepts(net, (a) => {
      delete a.params.maxMessageSize;
    });
    c.core.connect(net.now, SERVER, 4000);
    net.run(2000, () => connected(c) !== undefined);
    expect(net.log.find((w) => accepts(w))!.data.length).toBe(56); // a version-1 ACCEPT as before
    const conn = connected(c)!;
    expect(conn.core.maxMessageSize).toBe(4 * 1024 * KiB);
    void s;
  });

  it('a client that rejects the server parameters tells the server (RESET code 1) instead of letting it idle out', () => {
    const { net, s, c } = setup();
    rewriteAccepts(net, (a) => {
      a.params.maxDatagramSize = 1000;
    });
    c.core.connect(net.now, SERVER, 4000);
    net.run(2000, () => failed(c) !== undefined);
    expect(failed(c)?.error.code).toBe('ERR_PROTOCOL_VIOLATION');
    expect(c.core.stats().dropped['bad-params']).toBe(1);
    net.run(net.now + 1000, () => closedWith(s).length > 0);
    expect(closedWith(s)).toEqual(['ERR_PROTOCOL_VIOLATION']);
    expect(net.now).toBeLessThan(5000); // the idle timeout is 30 s
  });

  it('an INITIAL with connection ID 0 gets no answer (bad-params)', () => {
    const { net, s } = setup();
    const initial = encodePacket({
      type: 'initial',
      version: 1,
      scid: 0n,
      params: { maxDatagramSize: 1200, initialWindow: 64, idleTimeout: 30_000, initialPacketNumber: 1, initialTsn: 1, resetToken: new Uint8Array(16) },
      cookie: new Uint8Array(0),
    });
    net.inject('10.0.0.9', 7000, s, initial);
    expect(s.core.pollTransmit(net.now)).toBeNull();
    expect(s.core.stats()).toMatchObject({ retriesSent: 0, dropped: expect.objectContaining({ 'bad-params': 1 }) });
  });

  it('maxBufferedBytes bounds what all connections hold together; the excess is retransmitted later, nothing is lost', () => {
    const LIMIT = 256 * KiB;
    const net = new VirtualNet(5);
    const server = net.add(SERVER, endpointConfig({ maxBufferedBytes: LIMIT, core: { receiveWindow: 128 * KiB, maxMessageSize: 16 * KiB } }), 1, 4000);
    const clients = Array.from({ length: 6 }, (_, i) => net.add(`10.0.1.${i + 1}`, endpointConfig(), 10 + i, 5000));
    // The server's application does not read: it keeps every message (and its credit).
    const held: { conn: EndpointConnection; data: Uint8Array; credit: number }[] = [];
    let reading = false;
    net.onEvent = (node, ev) => {
      if (ev.type !== 'connection-event' || ev.event.type !== 'message') return;
      if (node === server) {
        if (reading) {
          ev.connection.core.release(ev.event.credit);
          node.core.touch(ev.connection);
        }
        held.push({ conn: ev.connection, data: ev.event.data, credit: ev.event.credit });
      }
    };
    for (const c of clients) c.core.connect(net.now, SERVER, 4000);
    net.run(3000, () => clients.every((c) => connected(c) !== undefined));
    const PER_CLIENT = 512 * KiB;
    clients.forEach((c, i) => {
      const conn = connected(c)!;
      for (let m = 0; m < PER_CLIENT / (16 * KiB); m++) conn.core.send(new Uint8Array(16 * KiB).fill((i * 31 + m) & 0xff));
      c.core.touch(conn);
    });
    // What the server really holds: the distinct buffers of the messages it was given.
    const heldBytes = () => {
      let n = 0;
      for (const b of new Set(held.map((h) => h.data.buffer))) n += b.byteLength;
      return n;
    };
    let peak = 0;
    let counted = 0;
    for (let t = 0; t < 200; t++) {
      net.run(net.now + 50);
      peak = Math.max(peak, heldBytes());
      counted = Math.max(counted, server.core.stats().bufferedBytes);
    }
    expect(peak).toBeLessThanOrEqual(LIMIT + 64 * KiB);
    expect(counted).toBeGreaterThanOrEqual(peak);
    expect(counted).toBeLessThanOrEqual(LIMIT + 64 * KiB);
    expect(peak).toBeGreaterThan(LIMIT / 2);
    expect(server.core.stats().packetsDeferred).toBeGreaterThan(0);
    // Every connection got some of the budget.
    const perConn = new Map<EndpointConnection, number>();
    for (const h of held) perConn.set(h.conn, (perConn.get(h.conn) ?? 0) + 1);
    expect(perConn.size).toBe(6);
    // Now the application reads: everything arrives, in order, byte for byte.
    reading = true;
    for (const h of held.splice(0)) {
      h.conn.core.release(h.credit);
      server.core.touch(h.conn);
      held.push(h);
    }
    net.run(net.now + 120_000, () => held.length === 6 * (PER_CLIENT / (16 * KiB)));
    expect(held.length).toBe(6 * (PER_CLIENT / (16 * KiB)));
    const byConn = new Map<EndpointConnection, Uint8Array[]>();
    for (const h of held) byConn.set(h.conn, [...(byConn.get(h.conn) ?? []), h.data]);
    for (const msgs of byConn.values()) {
      const first = msgs[0]![0]!;
      const i = clients.findIndex((_, k) => ((k * 31) & 0xff) === first);
      expect(i).toBeGreaterThanOrEqual(0);
      msgs.forEach((m, n) => expect(m[0]).toBe((i * 31 + n) & 0xff));
    }
    expect(server.core.stats().bufferedBytes).toBe(0);
  });

  it('messages larger than the fair share all complete when every connection is mid-message (no deadlock behind maxBufferedBytes)', () => {
    // 6 connections × a 120 KiB message against 256 KiB: each fills its fair share (~43 KiB)
    // with an unfinished message that its application cannot release.
    const LIMIT = 256 * KiB;
    const net = new VirtualNet(5);
    const server = net.add(SERVER, endpointConfig({ maxBufferedBytes: LIMIT, core: { receiveWindow: 128 * KiB, maxMessageSize: 120 * KiB } }), 1, 4000);
    const clients = Array.from({ length: 6 }, (_, i) => net.add(`10.0.1.${i + 1}`, endpointConfig(), 10 + i, 5000));
    const got: number[] = [];
    let peak = 0;
    net.onEvent = (node, ev) => {
      if (node !== server || ev.type !== 'connection-event' || ev.event.type !== 'message') return;
      got.push(ev.event.data.length);
      ev.connection.core.release(ev.event.credit);
      node.core.touch(ev.connection);
    };
    for (const c of clients) c.core.connect(net.now, SERVER, 4000);
    net.run(3000, () => clients.every((c) => connected(c) !== undefined));
    for (const c of clients) {
      const conn = connected(c)!;
      conn.core.send(new Uint8Array(120 * KiB));
      c.core.touch(conn);
    }
    for (let t = 0; t < 2400 && got.length < 6; t++) {
      net.run(net.now + 50);
      peak = Math.max(peak, server.core.stats().bufferedBytes);
    }
    expect(got).toEqual(Array(6).fill(120 * KiB));
    expect(server.core.stats().packetsDeferred).toBeGreaterThan(0);
    // Past the limit by at most one connection's receive window (+ its 64 KiB slack, + 16 KiB chunk).
    expect(peak).toBeLessThanOrEqual(LIMIT + 128 * KiB + 96 * KiB);
    expect(server.core.stats().bufferedBytes).toBe(0);
  });

  it('a connection gives its share of maxBufferedBytes back however it closes (RESET from the peer, idle timeout, local abort)', () => {
    const net = new VirtualNet(5);
    const server = net.add(SERVER, endpointConfig({ maxBufferedBytes: 1024 * KiB, core: { receiveWindow: 128 * KiB, maxMessageSize: 100 * KiB, idleTimeout: 5000 } }), 1, 4000);
    const clients = Array.from({ length: 3 }, (_, i) => net.add(`10.0.1.${i + 1}`, endpointConfig({ core: { idleTimeout: 5000 } }), 10 + i, 5000));
    // The server's application reads nothing: each connection holds unread messages and an unfinished one.
    const accepted: EndpointConnection[] = [];
    net.onEvent = (node, ev) => {
      if (node === server && ev.type === 'accepted') accepted.push(ev.connection);
    };
    for (const c of clients) c.core.connect(net.now, SERVER, 4000);
    net.run(3000, () => clients.every((c) => connected(c) !== undefined));
    const serverConns = clients.map((c) => accepted.find((a) => a.address === c.name)!);
    for (const c of clients) {
      const conn = connected(c)!;
      for (let m = 0; m < 3; m++) conn.core.send(new Uint8Array(10 * KiB).fill(m));
      conn.core.send(new Uint8Array(90 * KiB));
      c.core.touch(conn);
    }
    net.run(net.now + 300);
    const held = () => server.core.stats().bufferedBytes;
    const perConn = serverConns.map((c) => c.core.stats().retainedBytes);
    expect(perConn).toHaveLength(3);
    expect(perConn.every((b) => b > 30 * KiB)).toBe(true);
    expect(held()).toBe(perConn.reduce((a, b) => a + b, 0));

    // 1. The peer aborts: its RESET closes the server's connection.
    connected(clients[0]!)!.core.abort(net.now);
    clients[0]!.core.touch(connected(clients[0]!)!);
    net.run(net.now + 100);
    expect(serverConns[0]!.core.state).toBe('closed');
    expect(held()).toBe(perConn[1]! + perConn[2]!);

    // 2. The peer goes silent: the server's connection idles out.
    net.filter = (w) => w.from !== clients[1]!.name;
    net.run(net.now + 6000, () => serverConns[1]!.core.state === 'closed');
    expect(serverConns[1]!.core.state).toBe('closed');
    expect(held()).toBe(perConn[2]!);

    // 3. The server aborts the last one.
    serverConns[2]!.core.abort(net.now);
    server.core.touch(serverConns[2]!);
    net.run(net.now + 100);
    expect(held()).toBe(0);
    expect(server.core.stats().connections).toBe(0);
  });

  it('far from maxBufferedBytes, a packet with data is admitted without reading what the receiver could release (issue 11)', () => {
    const { net, s, c } = setup();
    c.core.connect(net.now, SERVER, 4000);
    net.run(2000, () => connected(c) !== undefined);
    // Count the reads of the receiver's `releasable` and `retainedLimit`: budgetRefuses read
    // both (they walk the channels' buffers) for every packet with data, before the budget's
    // first case (the total within half the budget) that needs neither.
    const proto = Receiver.prototype as unknown as object;
    const reads = { n: 0 };
    const restore: (() => void)[] = [];
    for (const name of ['releasable', 'retainedLimit']) {
      const d = Object.getOwnPropertyDescriptor(proto, name)!;
      Object.defineProperty(proto, name, { ...d, get(this: unknown) { reads.n++; return d.get!.call(this); } });
      restore.push(() => Object.defineProperty(proto, name, d));
    }
    try {
      const conn = connected(c)!;
      const before = s.core.stats().datagramsReceived;
      for (let m = 0; m < 20; m++) conn.core.send(new Uint8Array(16 * KiB).fill(m));
      c.core.touch(conn);
      net.run(net.now + 5000, () => s.events.filter((e) => e.type === 'connection-event' && e.event.type === 'message').length >= 20);
      expect(s.core.stats().datagramsReceived - before).toBeGreaterThan(200);
      // Before: two reads per packet with data (over 400 here).
      expect(reads.n).toBe(0);
    } finally {
      for (const r of restore) r();
    }
  });
});
