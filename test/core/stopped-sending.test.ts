import { describe, expect, it } from 'vitest';
import type { EndpointConnection, EndpointEvent } from '../../src/core/endpoint.js';
import { VirtualNet, endpointConfig, type Node } from './endpoint-harness.js';

const SERVER = '10.0.0.2';
const CLIENT = '10.0.0.1';

function connected(node: Node): EndpointConnection {
  const ev = node.events.find((e: EndpointEvent) => e.type === 'connected');
  if (ev?.type !== 'connected') throw new Error('not connected');
  return ev.connection;
}

/** A client connected to a server on a virtual net, 200 ms after the handshake (nothing in flight). */
function connectedClient(): { net: VirtualNet; client: Node; conn: EndpointConnection } {
  const net = new VirtualNet(5);
  net.add(SERVER, endpointConfig(), 1, 4000);
  const client = net.add(CLIENT, endpointConfig(), 2, 5000);
  client.core.connect(net.now, SERVER, 4000);
  net.run(1000, () => client.events.some((e) => e.type === 'connected'));
  const conn = connected(client);
  net.run(net.now + 200);
  return { net, client, conn };
}

/**
 * EndpointCore's list of connections that stopped sending data (`sendingStopped`, `flushed`:
 * stats' time blocked, core/blocked-time.ts), driven as the Node shell drives it on every
 * request/response turn: the list's slots are reused from turn to turn (issue 11: no
 * `length = 0` and regrowth per turn), so each turn's stop must still be listed, settled by
 * `flushed` once, and gone after it.
 */
describe('EndpointCore: the stopped-sending list across turns', () => {
  it('lists the stop of every turn, settles it at flushed(end) and empties it, turn after turn', () => {
    const { net, client, conn } = connectedClient();
    let sending = 0;
    for (let turn = 0; turn < 40; turn++) {
      const before = conn.core.stats(net.now).timeAppLimited;
      conn.core.send(new Uint8Array(64).fill(turn));
      client.core.touch(conn);
      const now = net.now;
      // The shell's flush: poll until null, then settle the stop with the clock read after the sends.
      let tx = client.core.pollTransmit(now);
      expect(tx).not.toBeNull();
      while (tx !== null) tx = client.core.pollTransmit(now);
      expect(client.core.sendingStopped).toBe(true);
      const cost = 0.25;
      client.core.flushed(now + cost);
      sending += cost;
      expect(client.core.sendingStopped).toBe(false);
      // The sending stretch is not app-limited time: the turn's app-limited time starts at now + cost.
      const at = now + 1;
      expect(conn.core.stats(at).timeAppLimited - before).toBeCloseTo(at - now - cost, 9);
      // A second flushed() finds nothing to settle.
      client.core.flushed(now + 0.5);
      expect(conn.core.stats(at).timeAppLimited - before).toBeCloseTo(at - now - cost, 9);
      net.run(net.now + 20);
    }
    expect(sending).toBeCloseTo(10, 9);
  });

  it('drops a stop left unsettled at an earlier now (a driver that never calls flushed) when the next one comes', () => {
    const { net, client, conn } = connectedClient();
    // Turn 1: stopped, never settled.
    conn.core.send(new Uint8Array(64));
    client.core.touch(conn);
    while (client.core.pollTransmit(net.now) !== null);
    expect(client.core.sendingStopped).toBe(true);
    net.run(net.now + 20);
    // Turn 2 at a later now: only its own stop is listed; flushed settles it (its sending counted).
    const now = net.now;
    const before = conn.core.stats(now).timeAppLimited;
    conn.core.send(new Uint8Array(64));
    client.core.touch(conn);
    while (client.core.pollTransmit(now) !== null);
    expect(client.core.sendingStopped).toBe(true);
    // Turn 1's stale entry is gone (a stale entry is harmless to the totals, `sentUntil` ignores a
    // stop at another now, so only the list shows it: kept, it would grow by one every turn).
    expect((client.core as unknown as { stopped: unknown[] }).stopped).toHaveLength(1);
    client.core.flushed(now + 0.25);
    expect(client.core.sendingStopped).toBe(false);
    expect(conn.core.stats(now + 1).timeAppLimited - before).toBeCloseTo(0.75, 9);
  });
});
