// Idle connections stay small (issue 11 part 4): after the handshake and one message each way,
// acknowledged, an engine owns no closure and no Map or Set (they are created at first use:
// channel settings, fragments out of order, receipts ...). Before, every engine held a closure
// per stage hook (send scheduler's readiness, path-MTU listener, each receive buffer's delivery)
// and three empty Maps: several hundred bytes each. bench/idle-heap.ts measures the bytes.
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { closuresAndMaps, ownObjects, reachable } from '../helpers/footprint.js';
import { VirtualNet, endpointConfig } from './endpoint-harness.js';
import type { ConnectionCore } from '../../src/core/connection.js';

function idlePair(seed: number): Pair {
  const pair = new Pair({ seed, link: { delay: 5 } });
  pair.a.send(Buffer.from('hello'), 'ordered');
  pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
  pair.b.send(Buffer.from('hello back'), 'ordered');
  pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
  // Let every ACK arrive and every timer but the idle/keep-alive ones go.
  pair.runUntil(() => pair.a.bufferedAmount === 0 && pair.b.bufferedAmount === 0 && pair.a.stats(pair.now).bytesInFlight === 0 && pair.b.stats(pair.now).bytesInFlight === 0, 10_000);
  return pair;
}

/** Each Pair builds its engines' config (and its seeded random) itself; an endpoint shares one among all its connections. */
const perEndpoint = (key: string): boolean => key === 'config';

describe('an idle connection', () => {
  it('owns no closure, Map or Set (both roles)', () => {
    const one = idlePair(1);
    const two = idlePair(2);
    expect(closuresAndMaps(ownObjects(one.a, two.a, perEndpoint))).toEqual([]);
    expect(closuresAndMaps(ownObjects(one.b, two.b, perEndpoint))).toEqual([]);
  });

  it('keeps no record of its acknowledged messages (no sent fragment, no queued message)', () => {
    const one = idlePair(5);
    const two = idlePair(6);
    for (const side of ['a', 'b'] as const) {
      const records = [...ownObjects(one[side], two[side], perEndpoint)].filter(([o]) => 'lastPn' in o || ('unacked' in o && 'settled' in o));
      expect(records.map(([, path]) => path)).toEqual([]);
    }
  });

  it('has no list of its own for scratch (shared) or for channels it never used (created with the second channel)', () => {
    const one = idlePair(7);
    const two = idlePair(8);
    for (const side of ['a', 'b'] as const) {
      const own = new Set(ownObjects(one[side], two[side], perEndpoint).values());
      // The fragments of the packet being built: one scratch list for the process.
      expect(own).not.toContain('root.sender.packetFragments');
      // No packet number skipped yet (a skip happens within the first ~64 packets): the shared empty list.
      expect(own).not.toContain('root.recovery.packetNumbers.skipped');
      // Lists by channel, with channel 0 only (its buffer keeps its own highest TSN).
      for (const path of ['root.receiver.buffers', 'root.receiver.active', 'root.receiver.highest']) expect(own).not.toContain(path);
    }
  });

  it('has no receive-window tuner until the application has read 1/32 of the window; then it has one', () => {
    const one = idlePair(11);
    const two = idlePair(12);
    for (const side of ['a', 'b'] as const) {
      expect(new Set(ownObjects(one[side], two[side], perEndpoint).values())).not.toContain('root.receiver.tuner');
    }
    // 4 MiB / 32 = 128 KiB read: the tuner starts (and its first epoch with it).
    one.a.send(new Uint8Array(160 * 1024), 'ordered');
    one.runUntil(() => one.sides[1].received.length === 2, 10_000);
    const tuner = [...reachable(one.b, perEndpoint)].find(([o]) => o.constructor?.name === 'WindowTuner');
    expect(tuner).toBeDefined();
  });

  it('holds no more storage in its queues than one exchange needed (one slot at first, doubled when full): at most 2 slots each', () => {
    const one = idlePair(9);
    const two = idlePair(10);
    for (const side of ['a', 'b'] as const) {
      const slots = [...ownObjects(one[side], two[side], perEndpoint)].filter(([, path]) => path.endsWith('.items')).map(([o, path]) => [path, (o as unknown[]).length]);
      expect(slots.length).toBeGreaterThan(0);
      // The events of one input (a message and a 'path-mtu' or 'acked' of our own) may take two.
      for (const [path, length] of slots) expect({ path, length: Math.min(length as number, 2) }).toEqual({ path, length });
      // The sent-packet history likewise: a ring of two slots at first, doubled when needed.
      const history = [...ownObjects(one[side], two[side], perEndpoint)].find(([, path]) => path === 'root.recovery.sent.slots');
      expect((history?.[0] as unknown[] | undefined)?.length ?? 0).toBeLessThanOrEqual(2);
    }
  });

  it('a configured channel that carries nothing adds no closure or Map (its settings are one small array); a Map the engine holds is found', () => {
    const one = idlePair(3);
    const two = idlePair(4);
    one.a.setChannel(3, { priority: 1, weight: 2 });
    expect(closuresAndMaps(ownObjects(one.a, two.a, perEndpoint))).toEqual([]);
    // The walk does see a Map deep inside the engine (the assertions above could fail).
    (one.a as unknown as { sender: { scheduler: { probe?: Map<number, number> } } }).sender.scheduler.probe = new Map();
    expect(closuresAndMaps(ownObjects(one.a, two.a, perEndpoint)).some((p) => p.startsWith('Map at'))).toBe(true);
  });

  it('made with an address (an endpoint connection), has no path validator until another address or a path frame shows up', () => {
    const net = new VirtualNet(5);
    const server = net.add('10.0.0.2', endpointConfig(), 1, 4000);
    const client = net.add('10.0.0.11', endpointConfig(), 2, 5000);
    expect(client.core.connect(net.now, '10.0.0.2', 4000).ok).toBe(true);
    const got: string[] = [];
    const base = net.onEvent;
    net.onEvent = (n, ev) => {
      base(n, ev);
      if (ev.type === 'connection-event' && ev.event.type === 'message') {
        got.push(n.name);
        if (n === server) {
          ev.connection.core.send(ev.event.data);
          server.core.touch(ev.connection);
        }
      }
    };
    net.run(2000, () => client.events.some((e) => e.type === 'connected'));
    const conn = client.events.find((e) => e.type === 'connected');
    if (conn?.type !== 'connected') throw new Error('not connected');
    conn.connection.core.send(new TextEncoder().encode('hello'));
    client.core.touch(conn.connection);
    net.run(net.now + 2000, () => got.length === 2);
    net.run(net.now + 1000);
    expect(got).toEqual(['10.0.0.2', '10.0.0.11']);
    const accepted = server.events.find((e) => e.type === 'accepted');
    if (accepted?.type !== 'accepted') throw new Error('not accepted');
    for (const c of [conn.connection, accepted.connection]) {
      const classes = [...reachable(c.core, (key) => key === 'config')].map(([o]) => o.constructor?.name);
      expect(classes).not.toContain('PathValidator');
      const core = c.core as ConnectionCore;
      expect(core.remoteAddress).toBe(c === conn.connection ? '10.0.0.2' : '10.0.0.11');
      expect(core.remotePort).toBe(c === conn.connection ? 4000 : 5000);
    }
  });
});
