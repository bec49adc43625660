import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

/** Calls of the full send decision (send-decision.ts `nextDatagram`), counted by a wrapper that calls it. */
const decisions = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/core/send-decision.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/core/send-decision.js')>();
  return {
    ...actual,
    nextDatagram: (...args: Parameters<typeof actual.nextDatagram>) => {
      decisions.count++;
      return actual.nextDatagram(...args);
    },
  };
});

import type { ConnectionCore } from '../../src/core/connection.js';
import type { CoreConfig } from '../../src/core/types.js';
import { Rng } from '../../src/testing/rng.js';
import { decodePacket } from '../../src/wire/packet.js';
import { makeCores } from '../helpers/pair.js';

/**
 * A connection whose send side is at rest (`ConnectionCore.resting`: nothing to send, no probe,
 * no path frame) answers pollTransmit from its ACK state alone, without the whole send decision
 * (send-decision.ts `nextDatagram`), until an input that may change the send side. That shortcut must decide
 * exactly what the full decision would: same datagrams, at the same times, same events.
 */

/** The gate switched off on one engine: `resting` reads false whatever is stored (white-box: the field's name). */
function withoutGate(core: ConnectionCore): void {
  expect(Object.prototype.hasOwnProperty.call(core, 'resting')).toBe(true);
  Object.defineProperty(core, 'resting', { get: () => false, set: () => undefined, configurable: true });
}

/**
 * A datagram without its connection ID and checksum (each run makes connections of its own IDs):
 * version, type, then the packet number and frames.
 */
function hex(d: Uint8Array): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex', 0, 2) + Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex', 10, d.length - 4);
}

interface Scenario {
  seed: number;
  /** Per datagram, per direction. */
  loss: number;
  /** Extra delay of up to this many ms per datagram (reordering). */
  jitter: number;
  /** Datagrams read per socket batch at most. */
  maxBatch: number;
  /** Messages the client sends: [time, bytes, unreliable]. */
  sends: [number, number, boolean][];
  /** The server answers every this-many-th message with one byte (0: a pure receiver). */
  replyEvery: number;
  /** The client closes at this time (0: never). */
  closeAt: number;
  config: Partial<CoreConfig>;
}

/**
 * The Node endpoint's way of driving an engine (src/node/endpoint.ts `onMessage`): datagrams that
 * arrive together are read one by one, each followed by pollTransmit(now, true) before its
 * events are drained; after the batch the events go to the application, then pollTransmit(now)
 * sends what waited. Arrivals are on a 1 ms grid, so what was sent close together arrives in
 * one batch. Returns the log of everything that left either engine and every event, with times.
 */
function run(s: Scenario, gate: boolean): string[] {
  const cores = makeCores(s.seed, { config: s.config });
  if (!gate) cores.forEach(withoutGate);
  const net = new Rng(s.seed ^ 0x5eed);
  const log: string[] = [];
  let inFlight: { at: number; seq: number; to: 0 | 1; data: Uint8Array }[] = [];
  let seq = 0;
  let received = 0;
  const sends = [...s.sends].sort((x, y) => x[0] - y[0]);
  let nextSend = 0;
  let closed = false;

  const transmit = (i: 0 | 1, now: number, batch: boolean, tag: string): void => {
    for (let n = 0; n < 10_000; n++) {
      const d = cores[i].pollTransmit(now, batch);
      if (d === null) return;
      log.push(`${now} ${i} ${tag} ${hex(d)}`);
      if (net.next() < s.loss) continue;
      const at = Math.ceil(now + 5 + net.next() * s.jitter);
      inFlight.push({ at, seq: seq++, to: i === 0 ? 1 : 0, data: d.slice() });
    }
    throw new Error('pollTransmit does not stop');
  };
  const events = (i: 0 | 1, now: number): void => {
    for (let e = cores[i].pollEvent(); e !== null; e = cores[i].pollEvent()) {
      log.push(`${now} ${i} event ${e.type}${e.type === 'message' ? ` ${e.data.length} ${e.delivery}` : ''}`);
      if (e.type !== 'message') continue;
      cores[i].release(e.credit, e.delivery, e.channel, now);
      if (i === 1 && s.replyEvery > 0 && ++received % s.replyEvery === 0 && cores[1].state === 'open') cores[1].send(e.data.subarray(0, 1));
    }
  };
  const settle = (i: 0 | 1, now: number): void => {
    for (let round = 0; round < 100; round++) {
      transmit(i, now, false, 'tx');
      const before = log.length;
      events(i, now);
      if (log.length === before) return;
    }
  };

  let now = 0;
  for (let step = 0; step < 40_000; step++) {
    let next = Infinity;
    for (const f of inFlight) next = Math.min(next, f.at);
    const timers = cores.map((c) => c.pollTimeout() ?? Infinity);
    next = Math.min(next, ...timers);
    const sendAt = nextSend < sends.length ? sends[nextSend]![0] : Infinity;
    const closeAt = s.closeAt > 0 && !closed ? s.closeAt : Infinity;
    next = Math.min(next, sendAt, closeAt);
    if (next === Infinity || next > 60_000) break;
    now = Math.max(now, next);
    if (sendAt <= now) {
      const [, bytes, unreliable] = sends[nextSend++]!;
      if (cores[0].state === 'open' && !closed) cores[0].send(new Uint8Array(bytes).fill(bytes & 0xff), unreliable ? 'unreliable' : 'ordered', now);
      settle(0, now);
      continue;
    }
    if (closeAt <= now) {
      closed = true;
      cores[0].close(now);
      settle(0, now);
      continue;
    }
    const due = inFlight.filter((f) => f.at <= now).sort((x, y) => x.at - y.at || x.seq - y.seq);
    if (due.length > 0) {
      const to = due[0]!.to;
      const batch = due.filter((f) => f.to === to).slice(0, s.maxBatch);
      const taken = new Set(batch);
      inFlight = inFlight.filter((f) => !taken.has(f));
      for (const f of batch) {
        cores[to].handleDatagram(now, f.data);
        transmit(to, now, true, 'mid');
      }
      events(to, now);
      settle(to, now);
      continue;
    }
    for (const i of [0, 1] as const) {
      if (timers[i]! <= now) {
        cores[i].handleTimeout(now);
        settle(i, now);
      }
    }
  }
  log.push(`end ${now} ${cores[0].state} ${cores[1].state}`);
  return log;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  loss: fc.constantFrom(0, 0, 0.02, 0.1),
  jitter: fc.constantFrom(0, 0, 3),
  maxBatch: fc.integer({ min: 1, max: 40 }),
  sends: fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 40_000 }), fc.constantFrom(false, false, false, true)), {
    minLength: 1,
    maxLength: 25,
  }),
  replyEvery: fc.constantFrom(0, 0, 1, 3),
  closeAt: fc.constantFrom(0, 0, 300, 2_000),
  config: fc.record({
    congestion: fc.constantFrom('bbr' as const, 'newreno' as const),
    pacing: fc.boolean(),
    maxDatagramSize: fc.constantFrom(1200, 1452),
    ackEveryPackets: fc.constantFrom(1, 2, 10),
    maxAckDelay: fc.constantFrom(0, 5, 25),
    keepAliveInterval: fc.constantFrom(0, 50),
  }),
});

describe('the resting send side (pollTransmit without the full send decision)', () => {
  it('sends the same datagrams at the same times, with the same events, as the full decision every time', () => {
    let saved = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        decisions.count = 0;
        const full = run(s, false);
        const fullCalls = decisions.count;
        decisions.count = 0;
        const gated = run(s, true);
        expect(gated).toEqual(full);
        expect(decisions.count).toBeLessThanOrEqual(fullCalls);
        saved += fullCalls - decisions.count;
      }),
      { numRuns: 60, seed: 0x7e57 },
    );
    // The gate was taken (the comparison above is not between two identical code paths).
    expect(saved).toBeGreaterThan(1000);
  });

  it('a pure receiver runs the full decision only at the end of a batch, not after each of its datagrams', () => {
    // Seed 63: the sender skips no packet number among packets 85–140 (a skip is a gap: an ACK at once).
    const [a, b] = makeCores(63, { config: { congestion: 'none', pacing: false, ackEveryPackets: 10 } });
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 140; i++) a.send(new Uint8Array(1175).fill(i));
    for (let d = a.pollTransmit(0); d !== null; d = a.pollTransmit(0)) packets.push(d);
    expect(packets.length).toBe(140);
    const now = 1;
    const sent: Uint8Array[] = [];
    const drain = (batch: boolean): void => {
      for (let d = b.pollTransmit(now, batch); d !== null; d = b.pollTransmit(now, batch)) sent.push(d);
    };
    /** As the Node endpoint: each datagram, then the application's turn, then the batch's end. */
    const batch = (list: Uint8Array[]): void => {
      for (const p of list) {
        b.handleDatagram(now, p);
        drain(true);
      }
      for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') b.release(e.credit);
      drain(false);
      // An ACK held for the application's reply: its timer is due now.
      if (b.pollTimeout()! <= now) {
        b.handleTimeout(now);
        drain(false);
      }
    };
    // Past the first 100 packets (ACKed every second one), in batches of 10.
    for (let i = 0; i < 110; i += 10) batch(packets.slice(i, i + 10));
    const acksBefore = sent.length;
    expect(acksBefore).toBeGreaterThanOrEqual(11);
    expect(b.pollTimeout()).toBeGreaterThan(now);
    decisions.count = 0;
    // 29 more in one batch (the last packet carries the sender's PING, an ACK at once: left
    // out). ACKs are due by count every 10: they wait for the batch's end, decided without the
    // full send decision, as is every datagram that makes no ACK due.
    for (const p of packets.slice(110, 139)) {
      b.handleDatagram(now, p);
      drain(true);
    }
    expect(sent.length).toBe(acksBefore);
    expect(b.ackDeferred).toBe(true);
    expect(decisions.count).toBe(0);
    for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') b.release(e.credit);
    drain(false);
    // One ACK for the batch (one full decision that builds it, one that finds nothing more).
    expect(sent.length).toBe(acksBefore + 1);
    expect(decisions.count).toBe(2);
  });

  it('an ACK due at once in the middle of a batch (a gap, a PING) still goes at once', () => {
    const [a, b] = makeCores(62, { config: { congestion: 'none', pacing: false, ackEveryPackets: 10 } });
    // One message of 20 fragments: no message is complete (waiting for the application) until its
    // last fragment, so an ACK due at once is not held for a reply.
    a.send(new Uint8Array(20 * 1150));
    const packets: Uint8Array[] = [];
    for (let d = a.pollTransmit(0); d !== null; d = a.pollTransmit(0)) packets.push(d);
    expect(packets.length).toBeGreaterThan(10);
    const now = 1;
    const drain = (batch: boolean): Uint8Array[] => {
      const out: Uint8Array[] = [];
      for (let d = b.pollTransmit(now, batch); d !== null; d = b.pollTransmit(now, batch)) out.push(d);
      return out;
    };
    const isAckOnly = (d: Uint8Array): boolean => {
      const r = decodePacket(d);
      return r.ok && r.value.type === 'data' && r.value.frames.every((f) => f.type === 'ack');
    };
    b.handleDatagram(now, packets[0]!);
    expect(drain(true)).toEqual([]);
    // At rest now (nothing to send, no ACK due yet). A gap: packet 2 before packet 1.
    b.handleDatagram(now, packets[2]!);
    const afterGap = drain(true);
    expect(afterGap).toHaveLength(1);
    expect(isAckOnly(afterGap[0]!)).toBe(true);
    b.handleDatagram(now, packets[1]!);
    expect(drain(true)).toHaveLength(1); // the gap filled: out of order, acknowledged at once too
    for (const p of packets.slice(3, 6)) {
      b.handleDatagram(now, p);
      expect(drain(true)).toEqual([]);
    }
    // The sender's last packet carries a PING: acknowledged in the middle of the batch too.
    b.handleDatagram(now, packets[packets.length - 1]!);
    const forPing = drain(true);
    expect(forPing).toHaveLength(1);
    expect(isAckOnly(forPing[0]!)).toBe(true);
  });

  it('a send from the application while at rest goes out on the next poll', () => {
    const [a, b] = makeCores(63, { config: { congestion: 'none', pacing: false } });
    a.send(new Uint8Array(100));
    const first = a.pollTransmit(0)!;
    b.handleDatagram(1, first);
    expect(b.pollTransmit(1, true)).toBeNull();
    expect(b.pollTransmit(1, true)).toBeNull();
    b.send(new Uint8Array([7]));
    const out = b.pollTransmit(1, true);
    expect(out).not.toBeNull();
    const r = decodePacket(out!);
    expect(r.ok && r.value.type === 'data' && r.value.frames.some((f) => f.type === 'data')).toBe(true);
  });

  it('a local move (migrate) while at rest sends its probe on the next poll', () => {
    const [a, b] = makeCores(63, { config: { congestion: 'none', pacing: false } });
    a.send(new Uint8Array(100));
    b.handleDatagram(1, a.pollTransmit(0)!);
    for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') b.release(e.credit);
    // Its ACK, then nothing: at rest (white-box: the field's name, as withoutGate).
    expect(b.pollTransmit(1)).not.toBeNull();
    expect(b.pollTransmit(1)).toBeNull();
    expect((b as unknown as { resting: boolean }).resting).toBe(true);
    // The endpoint moved to a new socket (rebind): an ack-eliciting packet goes out at once,
    // with or without data, so that the peer sees the new address.
    b.migrate(1);
    const out = b.pollTransmit(1);
    expect(out).not.toBeNull();
    const r = decodePacket(out!);
    expect(r.ok && r.value.type === 'data' && r.value.frames.some((f) => f.type === 'ping')).toBe(true);
  });
});
