/**
 * The per-message work of a request/response flow through EndpointCore (issue 11, the ping-pong
 * CPU per round trip): one engine event per message, no wrapper object per event for the shell,
 * and a connection's deadline asked for once per turn.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointConnection, EndpointEvent } from '../../src/core/endpoint.js';
import { VirtualNet, endpointConfig, type Node } from './endpoint-harness.js';

const SERVER = '10.0.0.2';
const CLIENT = '10.0.0.1';

function connectedPair(): { net: VirtualNet; server: Node; client: Node; c: EndpointConnection; s: EndpointConnection } {
  const net = new VirtualNet(5);
  const server = net.add(SERVER, endpointConfig(), 1, 4000);
  const client = net.add(CLIENT, endpointConfig(), 2, 5000);
  expect(client.core.connect(net.now, SERVER, 4000).ok).toBe(true);
  net.run(2000, () => client.events.some((e) => e.type === 'connected') && server.events.some((e) => e.type === 'accepted'));
  const c = client.events.flatMap((e) => (e.type === 'connected' ? [e.connection] : []))[0]!;
  const s = server.events.flatMap((e) => (e.type === 'accepted' ? [e.connection] : []))[0]!;
  expect(c).toBeDefined();
  expect(s).toBeDefined();
  return { net, server, client, c, s };
}

/** The connection events each side saw, by type. */
function eventTypes(node: Node): string[] {
  // Path-MTU discovery reports its own steps (a probe got through): not per message.
  return node.events.flatMap((e) => (e.type === 'connection-event' && e.event.type !== 'path-mtu' ? [e.event.type] : []));
}

describe('EndpointCore event path of a request/response flow', () => {
  it('reports one engine event per message: no per-message drain/flushed events', () => {
    const { net, server, client, c } = connectedPair();
    const base = { client: eventTypes(client).length, server: eventTypes(server).length };
    const turns = 50;
    let replies = 0;
    const releaseAll = net.onEvent;
    net.onEvent = (node, ev) => {
      releaseAll(node, ev);
      if (ev.type !== 'connection-event' || ev.event.type !== 'message') return;
      if (node === server) {
        ev.connection.core.send(ev.event.data);
        server.core.touch(ev.connection);
      } else if (++replies < turns) {
        c.core.send(new Uint8Array(64));
        client.core.touch(c);
      }
    };
    c.core.send(new Uint8Array(64));
    client.core.touch(c);
    net.run(net.now + 10_000, () => replies === turns);
    expect(replies).toBe(turns);
    // Exactly one event per message each way; before, also a 'drain' per message sent and a
    // 'flushed' per message acknowledged (nobody needs them: the Node shell reads
    // bufferedAmount after every flush).
    expect(eventTypes(client).slice(base.client)).toEqual(Array(turns).fill('message'));
    expect(eventTypes(server).slice(base.server)).toEqual(Array(turns).fill('message'));
  });

  it('nextEvent() hands out one reused record per connection event; pollEvent() an object of its own', () => {
    const { net, server, client, c, s } = connectedPair();
    /** Two messages from the client, carried to the server by hand; its transmits drained. */
    const deliverTwo = (a: string, b: string): void => {
      c.core.send(new TextEncoder().encode(a));
      c.core.send(new TextEncoder().encode(b));
      client.core.touch(c);
      const out: Uint8Array[] = [];
      for (let tx = client.core.pollTransmit(net.now); tx !== null; tx = client.core.pollTransmit(net.now)) out.push(Uint8Array.from(tx.data));
      for (const d of out) net.inject(CLIENT, 5000, server, d);
      while (server.core.pollTransmit(net.now) !== null);
    };
    const text = (e: EndpointEvent): string => (e.type === 'connection-event' && e.event.type === 'message' ? Buffer.from(e.event.data).toString() : '');
    deliverTwo('one', 'two');
    const records: EndpointEvent[] = [];
    const texts: string[] = [];
    for (let ev = server.core.nextEvent(); ev !== null; ev = server.core.nextEvent()) {
      if (ev.type !== 'connection-event' || ev.event.type !== 'message') continue;
      expect(ev.connection).toBe(s);
      records.push(ev);
      texts.push(text(ev)); // read now: after the next call the record holds the next event
    }
    expect(texts).toEqual(['one', 'two']);
    // The same object both times: no wrapper per message.
    expect(records[0]).toBe(records[1]);
    // pollEvent() still gives the caller objects to keep.
    deliverTwo('three', 'four');
    const kept: EndpointEvent[] = [];
    for (let ev = server.core.pollEvent(); ev !== null; ev = server.core.pollEvent()) {
      if (ev.type === 'connection-event' && ev.event.type === 'message') kept.push(ev);
    }
    expect(kept.length).toBe(2);
    expect(kept[0]).not.toBe(kept[1]);
    expect(kept.map(text)).toEqual(['three', 'four']);
  });

  it("asks a connection's engine for its deadline once per request/response turn, and the heap has it", () => {
    const { net, server, client, c, s } = connectedPair();
    let asked = 0;
    let counting = false;
    const core = s.core as { pollTimeout(): number | null };
    const pollTimeout = core.pollTimeout.bind(core);
    core.pollTimeout = () => {
      if (counting) asked++;
      return pollTimeout();
    };
    let replied = 0;
    net.onEvent = (node, ev) => {
      if (ev.type !== 'connection-event' || ev.event.type !== 'message') return;
      ev.connection.core.release(ev.event.credit, ev.event.delivery);
      node.core.touch(ev.connection);
      if (node === server) {
        ev.connection.core.send(ev.event.data);
        server.core.touch(ev.connection);
      } else {
        replied++;
      }
    };
    for (let turn = 0; turn < 5; turn++) {
      c.core.send(new Uint8Array(64));
      client.core.touch(c);
      net.flush();
      // The request reaches the server: it is settled with the message, then again after its
      // reply left (the first deadline, its held ACK's, is never used). One question only.
      net.now += net.latency;
      asked = 0;
      counting = true;
      net.run(net.now, () => false);
      counting = false;
      expect(asked, `turn ${turn}`).toBe(1);
      expect(server.core.pollTimeout()).toBe(pollTimeout());
      net.run(net.now + net.latency, () => replied === turn + 1);
      expect(replied).toBe(turn + 1);
    }
  });
});
