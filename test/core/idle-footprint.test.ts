// Idle connections stay small (issue 11 part 4): after the handshake and one message each way,
// acknowledged, an engine owns no closure and no Map or Set (they are created at first use:
// channel settings, fragments out of order, receipts ...). Before, every engine held a closure
// per stage hook (send scheduler's readiness, path-MTU listener, each receive buffer's delivery)
// and three empty Maps: several hundred bytes each. bench/idle-heap.ts measures the bytes.
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { closuresAndMaps, ownObjects } from '../helpers/footprint.js';

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

  it('a configured channel that carries nothing adds no closure or Map (its settings are one small array); a Map the engine holds is found', () => {
    const one = idlePair(3);
    const two = idlePair(4);
    one.a.setChannel(3, { priority: 1, weight: 2 });
    expect(closuresAndMaps(ownObjects(one.a, two.a, perEndpoint))).toEqual([]);
    // The walk does see a Map deep inside the engine (the assertions above could fail).
    (one.a as unknown as { sender: { scheduler: { probe?: Map<number, number> } } }).sender.scheduler.probe = new Map();
    expect(closuresAndMaps(ownObjects(one.a, two.a, perEndpoint)).some((p) => p.startsWith('Map at'))).toBe(true);
  });
});
