import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreEvent, Delivery } from '../../src/core/types.js';
import { checker, instrument } from '../helpers/invariants.js';
import { Pair, type LinkConfig } from '../helpers/pair.js';

/**
 * Channels under arbitrary impairment (issue #12): for any mix of channels and delivery modes,
 * each channel's ordered messages arrive exactly once and in order, unordered ones exactly once,
 * unreliable ones at most once and intact, every message reports the channel it was sent on;
 * every receipt comes exactly once, and an 'ok' receipt only once the receiver holds the message;
 * also with redundant copies of small messages on some channels (`redundancy`).
 */
const SEED = Number(process.env['FC_SEED'] ?? 20261201);

const linkArb: fc.Arbitrary<Partial<LinkConfig>> = fc.record({
  delay: fc.integer({ min: 1, max: 40 }),
  jitter: fc.integer({ min: 0, max: 10 }),
  reorderDelay: fc.integer({ min: 1, max: 60 }),
  loss: fc.double({ min: 0, max: 0.4, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
  reorder: fc.double({ min: 0, max: 0.2, noNaN: true }),
  corrupt: fc.double({ min: 0, max: 0.1, noNaN: true }),
});

const messageArb = fc.record({
  size: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 4, max: 1500 }) }, { weight: 2, arbitrary: fc.integer({ min: 1500, max: 30_000 }) }),
  channel: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 255 })),
  delivery: fc.constantFrom<Delivery>('ordered', 'ordered', 'unordered', 'unreliable'),
  receipt: fc.boolean(),
});

const settingsArb = fc.array(
  fc.record({
    channel: fc.constantFrom(0, 1, 2),
    priority: fc.integer({ min: 0, max: 3 }),
    weight: fc.integer({ min: 1, max: 5 }),
    // Copies of small messages: the receiver must drop them by TSN, receipts must still come once.
    redundancy: fc.constantFrom(0, 0, 1, 3),
  }),
  { maxLength: 3 },
);

/** Message `index`, `size` bytes: the index in its first 4 bytes, the rest derived from it. */
function body(index: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  new DataView(m.buffer).setUint32(0, index);
  for (let i = 4; i < size; i++) m[i] = (index * 31 + i * 7) & 0xff;
  return m;
}
const indexOf = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);

describe('channels under arbitrary impairment', () => {
  it('per-channel exactly-once in-order delivery, and receipts exactly once after the peer holds the message (300 schedules)', () => {
    let copied = 0;
    fc.assert(
      fc.property(fc.integer(), linkArb, settingsArb, fc.array(messageArb, { minLength: 1, maxLength: 12 }), (seed, link, settings, msgs) => {
        const pair = new Pair({ seed, link, check: checker(), config: { idleTimeout: 0, keepAliveInterval: 0 } });
        instrument(pair);
        for (const s of settings) pair.a.setChannel(s.channel, { priority: s.priority, weight: s.weight, redundancy: s.redundancy });
        // Small ones (≤ one fragment) for unreliable with a receipt: an 'ok' must mean delivered.
        const sent = msgs.map((m, i) => ({
          ...m,
          size: m.delivery === 'unreliable' && m.receipt ? Math.min(m.size, 1000) : m.size,
          index: i,
        }));
        for (const m of sent) {
          pair.a.send(body(m.index, m.size), { channel: m.channel, delivery: m.delivery, receipt: m.receipt ? m.index + 1 : 0 });
        }
        const a = pair.sides[0];
        const b = pair.sides[1];
        const delivered = new Set<number>();
        pair.onMessage = (_f, side, e) => {
          if (side === 1) delivered.add(indexOf(e.data));
        };
        const receipts = new Map<number, boolean>();
        let seen = 0;
        const check = pair.check!;
        pair.check = (p) => {
          check(p);
          for (; seen < a.events.length; seen++) {
            const e = a.events[seen]!;
            if (e.type !== 'receipt') continue;
            const index = e.receipt - 1;
            expect(receipts.has(index), `receipt of message ${index} twice`).toBe(false);
            receipts.set(index, e.ok);
            const m = sent[index]!;
            if (!e.ok) {
              expect(m.delivery, 'only unreliable messages fail').toBe('unreliable');
              continue;
            }
            if (delivered.has(index)) continue;
            // Not delivered yet: only an ordered message that waits for an earlier reliable message
            // of its own channel (its TSNs come first) may be acknowledged before its delivery.
            const waits =
              m.delivery === 'ordered' &&
              sent.some((o) => o.index < index && o.channel === m.channel && o.delivery !== 'unreliable' && !delivered.has(o.index));
            expect(waits, `receipt for message ${index} before the receiver could hold it`).toBe(true);
          }
        };
        const reliable = sent.filter((m) => m.delivery !== 'unreliable').length;
        const withReceipt = sent.filter((m) => m.receipt).length;
        const reliableDelivered = (): number => b.events.filter((e) => e.type === 'message' && e.delivery !== 'unreliable').length;
        pair.runUntil(() => reliableDelivered() === reliable && pair.a.bufferedAmount === 0 && receipts.size === withReceipt, 20_000_000);

        const got = b.events.filter((e): e is Extract<CoreEvent, { type: 'message' }> => e.type === 'message');
        for (const e of got) {
          const m = sent[indexOf(e.data)]!;
          expect(Buffer.from(e.data).equals(Buffer.from(body(m.index, m.size))), 'intact').toBe(true);
          expect(e.channel).toBe(m.channel);
          expect(e.delivery).toBe(m.delivery);
        }
        const ids = got.map((e) => indexOf(e.data));
        expect(new Set(ids).size, 'each message at most once').toBe(ids.length);
        for (const channel of new Set(sent.map((m) => m.channel))) {
          const want = sent.filter((m) => m.channel === channel && m.delivery === 'ordered').map((m) => m.index);
          expect(ids.filter((i) => sent[i]!.channel === channel && sent[i]!.delivery === 'ordered'), `channel ${channel} order`).toEqual(want);
          const unordered = sent.filter((m) => m.channel === channel && m.delivery === 'unordered').map((m) => m.index);
          expect(ids.filter((i) => sent[i]!.channel === channel && sent[i]!.delivery === 'unordered').sort((x, y) => x - y)).toEqual(unordered);
        }
        // Every receipt of a reliable message is ok.
        for (const m of sent) if (m.receipt && m.delivery !== 'unreliable') expect(receipts.get(m.index)).toBe(true);
        copied += pair.a.stats().bytesRedundant;
      }),
      { seed: SEED, numRuns: 300 },
    );
    // The schedules did exercise redundant copies.
    expect(copied).toBeGreaterThan(0);
  });
});
