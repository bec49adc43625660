// The dormant form of a quiet connection (issue 11 part 4): once nothing ack-eliciting is in
// flight, no probe is due and no event waits for COMPACT_AFTER_MS, the engine gives back its
// empty send queues (ledger, each channel's reliable, retransmission and unreliable queue, the
// DATA_PART queue: back to the shared empty Deque) and the storage of its event queue and of its
// sent-packet history. The next send or datagram makes them again; a busy connection never
// compacts, so nothing is allocated again and again on the hot path. Before, an idle connection
// kept three Deques with storage and its sent-packet ring for life (~330 B per connection in
// bench/idle-heap.ts).
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { ownObjects } from '../helpers/footprint.js';
import { COMPACT_AFTER_MS } from '../../src/core/state.js';
import { Deque } from '../../src/core/deque.js';
import type { ConnectionCore } from '../../src/core/connection.js';

const perEndpoint = (key: string): boolean => key === 'config';

function exchanged(seed: number, options: ConstructorParameters<typeof Pair>[0] = { seed }): Pair {
  const pair = new Pair({ ...options, seed, link: { delay: 5 } });
  pair.a.send(Buffer.from('hello'), 'ordered');
  pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
  pair.b.send(Buffer.from('hello back'), 'ordered');
  pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
  return pair;
}

/** The Deques and the storage arrays (Deque items, the sent-packet ring) one engine owns, by path. */
function ownQueues(mine: ConnectionCore, other: ConnectionCore): { deques: string[]; storage: string[] } {
  const own = [...ownObjects(mine, other, perEndpoint)];
  return {
    deques: own.filter(([o]) => o instanceof Deque).map(([, path]) => path).sort(),
    storage: own.filter(([o, path]) => Array.isArray(o) && (path.endsWith('.items') || path.endsWith('.slots')) && o.length > 0).map(([, path]) => path).sort(),
  };
}

describe('a quiet connection goes dormant', () => {
  it(`after ${COMPACT_AFTER_MS} ms quiet, keeps only its event queue, with no storage, and no sent-packet ring (both roles)`, () => {
    const one = exchanged(1);
    const two = exchanged(2);
    // Just exchanged: the queues of that exchange are there (the assertions below can fail).
    expect(ownQueues(one.a, two.a).deques.length).toBeGreaterThan(1);
    expect(ownQueues(one.a, two.a).storage.length).toBeGreaterThan(0);
    for (const pair of [one, two]) pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
    for (const side of ['a', 'b'] as const) {
      const q = ownQueues(one[side], two[side]);
      // The event queue is shared by the stages that push to it: it stays, without storage.
      expect(q.deques).toEqual(['root.events']);
      expect(q.storage).toEqual([]);
      expect(one[side].inspect().idleStorage).toEqual({ queues: 0, slots: 0 });
      expect(one[side].state).toBe('open');
    }
  });

  it('wakes for data in both directions (queues made again, everything delivered in order), then goes dormant again', () => {
    const pair = exchanged(3);
    pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
    expect(pair.a.inspect().idleStorage).toEqual({ queues: 0, slots: 0 });
    const sent: number[] = [];
    for (let i = 0; i < 20; i++) {
      const m = new Uint8Array(3000 + i).fill(i);
      pair.a.send(m, 'ordered');
      pair.b.send(m, i % 2 === 0 ? 'unordered' : 'ordered');
      sent.push(m.length);
    }
    pair.a.send(new Uint8Array(100).fill(7), { delivery: 'unreliable' });
    expect(pair.a.inspect().idleStorage.queues).toBeGreaterThan(0);
    pair.runUntil(() => pair.sides[1].received.length === 1 + 21 && pair.sides[0].received.length === 1 + 20, 10_000);
    // The unreliable message goes first (a channel's unreliable messages precede its new data).
    const reliable = pair.sides[1].received.slice(1).filter((m) => m.length >= 3000);
    expect(reliable.map((m) => m.length)).toEqual(sent);
    expect(reliable.every((m, i) => m.every((b) => b === i))).toBe(true);
    expect([...pair.sides[0].received.slice(1).map((m) => m.length)].sort((x, y) => x - y)).toEqual(sent);
    pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
    for (const side of ['a', 'b'] as const) expect(pair[side].inspect().idleStorage).toEqual({ queues: 0, slots: 0 });
  });

  it('a busy connection (a message each way every 20 ms) keeps the same queues throughout: nothing made again per message', () => {
    const pair = exchanged(4);
    const ledgerOf = (core: ConnectionCore): unknown => (core as unknown as { sender: { ledger: unknown } }).sender.ledger;
    const queueOf = (core: ConnectionCore): unknown => (core as unknown as { sender: { channels: { queue: unknown }[] } }).sender.channels[0]!.queue;
    const first = [ledgerOf(pair.a), queueOf(pair.a), ledgerOf(pair.b), queueOf(pair.b)];
    for (let i = 0; i < 100; i++) {
      pair.a.send(new Uint8Array(64), 'ordered');
      pair.b.send(new Uint8Array(64), 'ordered');
      pair.runTo(pair.now + 20);
      expect(first.every((d, k) => d === [ledgerOf(pair.a), queueOf(pair.a), ledgerOf(pair.b), queueOf(pair.b)][k])).toBe(true);
    }
    expect(pair.sides[1].received.length).toBe(101);
  });

  it('keep-alive pings keep a dormant connection open, and each leaves it dormant again', () => {
    const pair = exchanged(5, { seed: 5, config: { keepAliveInterval: 1000, idleTimeout: 3000 } });
    const sentBefore = pair.a.stats().packetsSent + pair.b.stats().packetsSent;
    let dormant = 0;
    let samples = 0;
    for (let k = 0; k < 80; k++) {
      pair.runTo(pair.now + 250);
      for (const side of ['a', 'b'] as const) {
        expect(pair[side].state).toBe('open');
        const s = pair[side].inspect().idleStorage;
        samples++;
        if (s.queues === 0 && s.slots === 0) dormant++;
      }
    }
    // 20 s of silence from the application, a 3 s idle timeout: only the pings kept it open.
    expect(pair.a.stats().packetsSent + pair.b.stats().packetsSent - sentBefore).toBeGreaterThanOrEqual(2 * 19);
    // A ping and its ACK take ~10 ms, then COMPACT_AFTER_MS of quiet: dormant most of each second.
    expect(dormant).toBeGreaterThanOrEqual(samples / 2);
    expect(dormant).toBeLessThan(samples);
  });

  it('once dormant, asks for no timer of its own (only the idle and keep-alive deadlines remain)', () => {
    const pair = exchanged(6);
    pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
    const deadlines = [pair.a.pollTimeout(), pair.b.pollTimeout()];
    const steps = pair.steps;
    pair.runTo(pair.now + 5000);
    // Keep-alive defaults to 10 s: nothing at all happens for 5 s.
    expect(pair.steps).toBe(steps);
    expect(deadlines.every((t) => t !== null && t > pair.now)).toBe(true);
  });
});
