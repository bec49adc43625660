import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferBudget } from '../../src/core/buffer-budget.js';
import { setReceivePrediction } from '../../src/core/receive-prediction.js';
import type { CoreEvent } from '../../src/core/types.js';
import { DataPacketReader } from '../../src/wire/data-packet-reader.js';
import { seal } from '../../src/wire/packet.js';
import { Pair, prng, type PairOptions } from '../helpers/pair.js';

/**
 * The receive path's header prediction (receive-prediction.ts `readPredicted`) against the general path:
 * the same seeded traffic, once with the prediction and once without, must give the same
 * datagrams on the wire in both directions, the same events (messages, their credit, closes) and
 * the same stats on both sides. Each run also counts how often the prediction was taken, so a
 * prediction that never fires cannot pass for an equivalent one.
 */

interface Run {
  /** Every datagram each side sent, in order, CIDs and CRC blanked (each Pair makes fresh CIDs). */
  wire: [string[], string[]];
  events: [unknown[], unknown[]];
  stats: [unknown, unknown];
  /** Datagrams the prediction took (predictData gave a frame that the engine then read). */
  predicted: number;
  /** Of those, the ACK-then-DATA shape (predictAckData gave a frame). */
  predictedAck: number;
}

function blanked(d: Uint8Array): string {
  const c = Uint8Array.from(d);
  if (c.length >= 10) c.fill(0, 2, 10);
  if (c.length >= 4) c.fill(0, c.length - 4);
  return Buffer.from(c).toString('hex');
}

function event(e: CoreEvent): unknown {
  return e.type === 'message' ? { ...e, data: Buffer.from(e.data).toString('hex') } : e;
}

function message(seed: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return m;
}

function run(predict: boolean, options: PairOptions, script: (pair: Pair) => void): Run {
  setReceivePrediction(predict);
  let predicted = 0;
  let predictedAck = 0;
  const spy = vi.spyOn(DataPacketReader.prototype, 'predictData');
  const spyAck = vi.spyOn(DataPacketReader.prototype, 'predictAckData');
  try {
    const pair = new Pair(options);
    const wire: [string[], string[]] = [[], []];
    for (const i of [0, 1] as const) {
      const core = pair.sides[i].core;
      const poll = core.pollTransmit.bind(core);
      core.pollTransmit = (now: number) => {
        const d = poll(now);
        if (d !== null) wire[i].push(blanked(d));
        return d;
      };
    }
    pair.keepMessages = true;
    script(pair);
    predictedAck = spyAck.mock.results.filter((r) => r.type === 'return' && r.value !== null).length;
    predicted = spy.mock.results.filter((r) => r.type === 'return' && r.value !== null).length + predictedAck;
    return {
      wire,
      events: [pair.sides[0].events.map(event), pair.sides[1].events.map(event)],
      stats: [pair.a.stats(pair.now), pair.b.stats(pair.now)],
      predicted,
      predictedAck,
    };
  } finally {
    spy.mockRestore();
    spyAck.mockRestore();
    setReceivePrediction(true);
  }
}

/** Both ways: bulk from a to b (fragmented messages), small messages back, then a close. */
function traffic(pair: Pair): void {
  const toB = Array.from({ length: 40 }, (_, i) => message(i, [60_000, 1, 1175, 3000, 20_000][i % 5]! + i));
  const toA = Array.from({ length: 30 }, (_, i) => message(100 + i, 40 + i * 13));
  for (const m of toB) pair.a.send(m);
  pair.runTo(pair.now + 3);
  for (const m of toA) pair.b.send(m);
  pair.runUntil(() => pair.sides[1].received.length === toB.length && pair.sides[0].received.length === toA.length, 600_000);
  pair.a.close(pair.now);
  pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 120_000);
}

function compare(options: PairOptions, script: (pair: Pair) => void = traffic): Run {
  const on = run(true, options, script);
  const off = run(false, options, script);
  expect(off.predicted).toBe(0);
  expect(on.wire[0]).toEqual(off.wire[0]);
  expect(on.wire[1]).toEqual(off.wire[1]);
  expect(on.events).toEqual(off.events);
  expect(on.stats).toEqual(off.stats);
  return on;
}

/** Request/response: each side sends a small message only once it got the other's (ACK+DATA packets). */
function pingPong(trips: number): (pair: Pair) => void {
  return (pair) => {
    for (let i = 0; i < trips; i++) {
      pair.a.send(message(i, 16 + (i % 200)));
      pair.runUntil(() => pair.sides[1].received.length === i + 1, 600_000);
      pair.b.send(message(1000 + i, 16 + ((i * 7) % 300)));
      pair.runUntil(() => pair.sides[0].received.length === i + 1, 600_000);
    }
    pair.a.close(pair.now);
    pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 120_000);
  };
}

/**
 * A datagram `d` changed and sealed again (its CRC valid): kind 0 one byte changed, 1 cut short
 * (after the header), 2 one byte added and one changed; the byte changed is at `pickAt(n)` (`n`:
 * the new length before the CRC). `rand` is drawn in that order: the cut, the place, the byte.
 */
function mutated(d: Uint8Array, kind: number, rand: () => number, pickAt: (n: number) => number): Uint8Array {
  const body = d.length - 4;
  const n = kind === 1 ? 14 + Math.floor(rand() * (body - 14)) : kind === 2 ? body + 1 : body;
  const b = new Uint8Array(n + 4);
  b.set(d.subarray(0, Math.min(body, n)));
  const at = pickAt(n);
  if (kind !== 1) b[at] = Math.floor(rand() * 256);
  return seal(b, n);
}

/**
 * Hostile copies: after each datagram a side's core reads, a seeded mutation of it with its CRC
 * made valid again (a byte changed, cut short, a byte added, or an earlier datagram replayed),
 * so that both paths meet ACK+DATA lookalikes that only the frame walk can refuse.
 */
function hostile(pair: Pair, seed: number): void {
  const rand = prng(seed);
  for (const i of [0, 1] as const) {
    const core = pair.sides[i].core;
    const read = core.handleDatagram.bind(core);
    const seen: Uint8Array[] = [];
    core.handleDatagram = (now: number, d: Uint8Array, ...rest: unknown[]) => {
      (read as (...a: unknown[]) => void)(now, d, ...rest);
      seen.push(Uint8Array.from(d));
      if (rand() > 0.3 || d.length < 16) return;
      const kind = Math.floor(rand() * 4);
      const m = kind === 3 ? seen[Math.floor(rand() * seen.length)]! : mutated(d, kind, rand, (n) => 14 + Math.floor(rand() * (n - 14)));
      (read as (...a: unknown[]) => void)(now, m, ...rest);
    };
  }
}

/**
 * Hostile forgeries ahead of the real datagram: before a side's core reads a datagram, a seeded
 * mutation of it (a byte changed, cut short, a byte added; the CRC made valid again) with the same
 * packet number, read first. Unlike `hostile`'s copies (read after the original: duplicates, which
 * neither path acts on), these are new packets, so the prediction acts on the ones it shape-matches
 * (a forged ACK, TSN or length included); the original then arrives as a duplicate.
 */
function forgedFirst(pair: Pair, seed: number, rate: number): () => number {
  const rand = prng(seed);
  let accepted = 0;
  for (const i of [0, 1] as const) {
    const core = pair.sides[i].core;
    const read = core.handleDatagram.bind(core) as (...a: unknown[]) => void;
    core.handleDatagram = (now: number, d: Uint8Array, ...rest: unknown[]) => {
      if (rand() < rate && d.length >= 22) {
        const kind = Math.floor(rand() * 3);
        // Mostly the frame headers (ACK fields, DATA type, TSN, length), sometimes anywhere.
        const forged = mutated(d, kind, rand, (n) => 14 + Math.floor(rand() * (rand() < 0.7 ? Math.min(24, n - 14) : n - 14)));
        const before = (core.stats(now) as { packetsReceived: number }).packetsReceived;
        read(now, forged, ...rest);
        if ((core.stats(now) as { packetsReceived: number }).packetsReceived > before) accepted++;
      }
      read(now, d, ...rest);
    };
  }
  return () => accepted;
}

/** pingPong, but stops (no throw) once either side closed: a forgery may end the connection. */
function pingPongUntilClosed(trips: number): (pair: Pair) => void {
  return (pair) => {
    const over = (): boolean => pair.sides[0].closed || pair.sides[1].closed;
    for (let i = 0; i < trips && !over(); i++) {
      if (pair.a.state === 'open') pair.a.send(message(i, 16 + (i % 200)));
      pair.runUntil(() => pair.sides[1].received.length >= i + 1 || over(), 600_000);
      if (over()) break;
      if (pair.b.state === 'open') pair.b.send(message(1000 + i, 16 + ((i * 7) % 300)));
      pair.runUntil(() => pair.sides[0].received.length >= i + 1 || over(), 600_000);
    }
    pair.runTo(pair.now + 5_000);
  };
}

afterEach(() => setReceivePrediction(true));

describe('receive header prediction: the same as the general path', () => {
  it('in a ping-pong on a clean link (nearly every datagram the ACK+DATA shape)', () => {
    const on = compare({ seed: 61 }, pingPong(300));
    expect(on.predictedAck).toBeGreaterThan(0.8 * 600);
  });

  for (const [seed, link] of [
    [62, { loss: 0.05, reorder: 0.05, duplicate: 0.05 }],
    [63, { loss: 0.02, duplicate: 0.1, corrupt: 0.03, reorder: 0.1, reorderDelay: 3 }],
  ] as const) {
    it(`in a ping-pong on an impaired link (seed ${seed}: ${JSON.stringify(link)})`, () => {
      const on = compare({ seed, link }, pingPong(200));
      expect(on.predictedAck).toBeGreaterThan(100);
    });
  }

  for (const seed of [64, 65, 66]) {
    it(`with hostile copies (valid CRC) of the datagrams read, ping-pong and bulk (seed ${seed})`, () => {
      const on = compare({ seed, link: { loss: 0.02, reorder: 0.05 } }, (pair) => {
        hostile(pair, seed);
        pingPong(100)(pair);
      });
      expect(on.predictedAck).toBeGreaterThan(50);
      compare({ seed: seed + 100, config: { maxDatagramSize: 1452 } }, (pair) => {
        hostile(pair, seed);
        traffic(pair);
      });
    });
  }

  it('with forged datagrams (valid CRC, the next packet number) read before the real ones: the prediction acts on them as the general path does', () => {
    let accepted = 0;
    let predictedAck = 0;
    for (const seed of [71, 72, 73, 74, 75, 76]) {
      let count: () => number = () => 0;
      const on = compare({ seed }, (pair) => {
        count = forgedFirst(pair, seed, 0.05);
        pingPongUntilClosed(150)(pair);
      });
      accepted += count();
      predictedAck += on.predictedAck;
    }
    // The forgeries do reach the engine as new packets (not only as duplicates).
    expect(accepted).toBeGreaterThan(20);
    expect(predictedAck).toBeGreaterThan(100);
  });

  it('on a clean link (nearly every datagram predicted)', () => {
    const on = compare({ seed: 41, config: { maxDatagramSize: 1452 } });
    expect(on.predicted).toBeGreaterThan(0.9 * (on.stats[1] as { packetsReceived: number }).packetsReceived);
  });

  for (const [seed, link] of [
    [42, { loss: 0.05, jitter: 1 }],
    [43, { loss: 0.1, reorder: 0.05, duplicate: 0.05 }],
    [44, { loss: 0.02, duplicate: 0.1, corrupt: 0.02, reorder: 0.1, reorderDelay: 3 }],
    [45, { burst: { enter: 0.01, exit: 0.3, loss: 0.8 }, duplicate: 0.02 }],
  ] as const) {
    it(`on an impaired link (seed ${seed}: ${JSON.stringify(link)})`, () => {
      const on = compare({ seed, link, config: { maxDatagramSize: 1452 } });
      expect(on.predicted).toBeGreaterThan(100);
    });
  }

  it('with addresses (path checks) and an endpoint budget that defers packets for a while', () => {
    const script = (budget: BufferBudget) => (pair: Pair) => {
      for (let i = 0; i < 30; i++) pair.a.send(message(i, 20_000 + i));
      pair.runTo(pair.now + 400);
      // Another connection held the one exemption (BufferBudget) so far: now ours may take it.
      budget.progressed(OTHER);
      pair.runUntil(() => pair.sides[1].received.length === 30, 600_000);
    };
    const OTHER = {};
    const results = [true, false].map((predict) => {
      const budget = new BufferBudget(12 * 1024);
      expect(budget.admits(0, 13 * 1024, OTHER, true, 1 << 20)).toBe(true);
      return run(predict, { seed: 46, addresses: true, budgetB: budget, link: { loss: 0.03, reorder: 0.03 } }, script(budget));
    });
    const [on, off] = results as [Run, Run];
    expect(on.predicted).toBeGreaterThan(100);
    expect((on.stats[1] as { packetsDeferred: number }).packetsDeferred).toBeGreaterThan(0);
    expect(on.wire).toEqual(off.wire);
    expect(on.events).toEqual(off.events);
    expect(on.stats).toEqual(off.stats);
  });

  it('with a slow reader under an endpoint budget (what it holds reported after every packet)', () => {
    const script = (pair: Pair) => {
      pair.sides[1].autoRelease = false;
      // Small messages: single DATA frames (predicted), held until the reader wakes.
      for (let i = 0; i < 20; i++) pair.a.send(message(i, 1_000));
      pair.runTo(pair.now + 1_500);
      for (const e of pair.sides[1].events) if (e.type === 'message') pair.b.release(e.credit, e.delivery, e.channel);
      pair.sides[1].autoRelease = true;
      pair.runUntil(() => pair.sides[1].received.length === 20, 600_000);
    };
    const [on, off] = [true, false].map((predict) => run(predict, { seed: 50, budgetB: new BufferBudget(16 * 1024), link: { loss: 0.01 } }, script)) as [Run, Run];
    expect(on.wire).toEqual(off.wire);
    expect(on.events).toEqual(off.events);
    expect(on.stats).toEqual(off.stats);
    expect(on.predicted).toBeGreaterThan(100);
    expect((on.stats[1] as { packetsDeferred: number }).packetsDeferred).toBeGreaterThan(100);
  });

  it('across a NAT rebinding of the sender mid-transfer (path validation: datagrams from a candidate path)', () => {
    const on = compare({ seed: 48, addresses: true, link: { loss: 0.02, reorder: 0.05 } }, (pair) => {
      for (let i = 0; i < 30; i++) pair.a.send(message(i, 20_000 + i));
      pair.runTo(pair.now + 60);
      pair.sides[0].address = '10.0.0.9';
      pair.runUntil(() => pair.sides[1].received.length === 30, 600_000);
    });
    expect(on.predicted).toBeGreaterThan(100);
  });

  it('across two silences of the sender mid-message (the silence ACKs: each packet read ends a silence)', () => {
    // The path's silence ACK (path-manager.ts silenceDeadline) repeats at most 4 times per
    // silence of a peer in the middle of a message; every packet read resets that count
    // (`onPacketRead`). Here the link holds what a sends during two outages and then delivers
    // it in order (no packet-number gap, so the first packet after each silence is predicted):
    // a predicted packet that did not reset the count would leave the second silence none.
    const outages = [
      [30, 1_400],
      [1_420, 2_800],
    ] as const;
    const acksInOutages: number[] = [];
    const on = compare({ seed: 49, addresses: true }, (pair) => {
      const admit = pair.links[0].admit.bind(pair.links[0]);
      pair.links[0].admit = (now, d) => {
        const held = outages.find(([from, to]) => now >= from && now < to);
        return held === undefined ? admit(now, d) : admit(now, d).map((x) => ({ ...x, at: Math.max(x.at, held[1] + 5) }));
      };
      pair.a.send(message(1, 4_000_000));
      for (const [from, to] of outages) {
        pair.runTo(from + 100);
        const before = pair.b.stats(pair.now).packetsSent;
        pair.runTo(to);
        acksInOutages.push(pair.b.stats(pair.now).packetsSent - before);
      }
      pair.runUntil(() => pair.sides[1].received.length === 1, 600_000);
    });
    expect(on.predicted).toBeGreaterThan(100);
    // Four silence ACKs in each (after 1, 2, 4 and 8 times srtt + rttvar of silence), both runs.
    expect(acksInOutages).toEqual([4, 4, 4, 4]);
  });

  it('with a slow reader (credit closes and reopens)', () => {
    compare({ seed: 47, link: { loss: 0.02 } }, (pair) => {
      pair.sides[1].autoRelease = false;
      for (let i = 0; i < 40; i++) pair.a.send(message(i, 30_000));
      pair.runTo(pair.now + 2_000);
      for (const e of pair.sides[1].events) if (e.type === 'message') pair.b.release(e.credit, e.delivery, e.channel);
      pair.sides[1].autoRelease = true;
      pair.runUntil(() => pair.sides[1].received.length === 40, 600_000);
    });
  });
});
