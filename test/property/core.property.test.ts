import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/core/types.js';
import { dumpTraceOnFailure, type TraceRecorder } from '../../src/testing/index.js';
import { checker, instrument } from '../helpers/invariants.js';
import { bytesOf, hex, linkArb as sharedLinkArb, messageArb as sharedMessageArb } from '../helpers/arbitraries.js';
import { Pair, type LinkConfig } from '../helpers/pair.js';

/**
 * Properties of the engine over arbitrary message lists and arbitrary link impairments, run in
 * virtual time. Every run is seeded: on failure fast-check prints the seed and path, and
 * `FC_SEED=<seed> npx vitest run test/property` replays it. A failing run is also replayed
 * with tracing on and its qlog files (both engines) are written to $RD_QLOG_DIR (default
 * <tmpdir>/reliable-dgram-qlog); the error names them (docs/testing.md "Traces").
 */
const SEED = Number(process.env['FC_SEED'] ?? 20261124);

const linkArb = sharedLinkArb(0.5);
const messageArb = sharedMessageArb(256 * 1024);

interface RunResult {
  pair: Pair;
  sent: { data: Uint8Array; delivery: Delivery }[];
}

function run(
  seed: number,
  link: Partial<LinkConfig>,
  messages: { size: number; fill: number; delivery: Delivery }[],
  extra: {
    initialPacketNumber?: [number, number];
    initialTsn?: [number, number];
    close?: boolean;
    trace?: TraceRecorder | null;
    /** Path-MTU discovery on (ceiling 1,452), and the forward link's MTU becomes `to` at `at` ms. */
    mtu?: { from: number; to: number; at: number };
  } = {},
): RunResult {
  const invariants = checker();
  const mtu = extra.mtu;
  const pair = new Pair({
    seed,
    link: mtu ? { ...link, mtu: mtu.from } : link,
    check: mtu
      ? (p) => {
          if (p.now >= mtu.at && p.links[0].impairment.mtu === mtu.from) p.links[0].configure({ ...p.links[0].impairment, mtu: mtu.to });
          invariants(p);
        }
      : invariants,
    trace: extra.trace ?? null,
    ...(extra.initialPacketNumber ? { initialPacketNumber: extra.initialPacketNumber } : {}),
    ...(extra.initialTsn ? { initialTsn: extra.initialTsn } : {}),
    config: { idleTimeout: 0, keepAliveInterval: 0, ...(mtu ? { maxDatagramSize: 1452 } : {}) },
  });
  instrument(pair);
  const sent = messages.map((m, i) => ({ data: bytesOf(m.size, m.fill, i), delivery: m.delivery }));
  for (const m of sent) pair.a.send(m.data, m.delivery);
  const reliable = sent.filter((m) => m.delivery !== 'unreliable').length;
  const receiver = pair.sides[1];
  if (extra.close) {
    pair.a.close(pair.now);
    pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 20_000_000);
  } else {
    const reliableDelivered = (): number => receiver.events.filter((e) => e.type === 'message' && e.delivery !== 'unreliable').length;
    pair.runUntil(() => reliableDelivered() === reliable && pair.a.bufferedAmount === 0, 20_000_000);
  }
  return { pair, sent };
}

function checkDelivery({ pair, sent }: RunResult): void {
  const got = pair.sides[1].events.flatMap((e) => (e.type === 'message' ? [e] : []));
  const ordered = sent.filter((m) => m.delivery === 'ordered').map((m) => hex(m.data));
  const gotOrdered = got.filter((e) => e.delivery === 'ordered').map((e) => hex(e.data));
  // Reliable-ordered: exactly the sent messages, byte for byte, in order, each once.
  expect(gotOrdered).toEqual(ordered);
  // Reliable-unordered: the same multiset, each once.
  const unordered = sent.filter((m) => m.delivery === 'unordered').map((m) => hex(m.data)).sort();
  expect(got.filter((e) => e.delivery === 'unordered').map((e) => hex(e.data)).sort()).toEqual(unordered);
  // Unreliable: never a corrupted or duplicated message (a sub-multiset of what was sent).
  const pool = new Map<string, number>();
  for (const m of sent) if (m.delivery === 'unreliable') pool.set(hex(m.data), (pool.get(hex(m.data)) ?? 0) + 1);
  for (const e of got.filter((e) => e.delivery === 'unreliable')) {
    const k = hex(e.data);
    const left = pool.get(k) ?? 0;
    expect(left, 'unreliable message delivered that was not sent, or twice').toBeGreaterThan(0);
    pool.set(k, left - 1);
  }
}

describe('engine properties under arbitrary impairment', () => {
  it('delivers ordered, unordered and unreliable messages correctly (600 lossy schedules)', () => {
    fc.assert(
      fc.property(fc.integer(), linkArb, fc.array(messageArb, { minLength: 1, maxLength: 8 }), (seed, link, messages) => {
        dumpTraceOnFailure('core-delivery', (trace) => checkDelivery(run(seed, link, messages, { trace })));
      }),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('is correct when packet numbers and TSNs start just below 2^32 (200 schedules)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        linkArb,
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 400 }),
        (seed, link, messages, before) => {
          const near = 0x1_0000_0000 - before;
          dumpTraceOnFailure('core-wrap', (trace) =>
            checkDelivery(run(seed, link, messages, { initialPacketNumber: [near, near - 7], initialTsn: [near - 3, near], trace })),
          );
        },
      ),
      { seed: SEED + 1, numRuns: 200 },
    );
  });

  it('is correct while path-MTU discovery probes and the path MTU changes mid-run (200 schedules)', () => {
    const mtuArb = fc.record({
      from: fc.integer({ min: 1200, max: 1600 }),
      to: fc.integer({ min: 1200, max: 1600 }),
      at: fc.integer({ min: 0, max: 400 }),
    });
    fc.assert(
      fc.property(fc.integer(), linkArb, fc.array(messageArb, { minLength: 1, maxLength: 8 }), mtuArb, (seed, link, messages, mtu) => {
        dumpTraceOnFailure('core-mtu', (trace) => checkDelivery(run(seed, link, messages, { mtu, trace })));
      }),
      { seed: SEED + 3, numRuns: 200 },
    );
  });

  it('completes a graceful close only after everything sent was acknowledged (250 schedules)', () => {
    fc.assert(
      fc.property(fc.integer(), linkArb, fc.array(messageArb, { minLength: 0, maxLength: 5 }), (seed, link, messages) => {
        const result = run(seed, link, messages, { close: true });
        const [a, b] = result.pair.sides;
        expect(a.events.at(-1)).toEqual({ type: 'closed' });
        expect(b.events.at(-1)).toEqual({ type: 'closed' });
        // Everything sent was acknowledged before the close completed (the CLOSE packet itself
        // may still count as in flight when its ACK was lost and the linger ended the wait).
        expect(a.core.inspect().unackedFragments).toBe(0);
        expect(b.core.inspect().unackedFragments).toBe(0);
        checkDelivery(result);
      }),
      { seed: SEED + 2, numRuns: 250 },
    );
  });
});
