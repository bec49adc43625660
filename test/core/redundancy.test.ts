import { describe, expect, it } from 'vitest';
import { REDUNDANT_MESSAGE_MAX, REDUNDANT_PENDING_MAX } from '../../src/core/redundancy.js';
import type { CoreEvent } from '../../src/core/types.js';
import { decodePacket } from '../../src/wire/packet.js';
import type { Frame } from '../../src/wire/types.js';
import { Pair } from '../helpers/pair.js';

/**
 * `setChannel(channel, { redundancy })` in virtual time: the frame of a small reliable message
 * goes again in the next packet(s), never twice in one; the receiver delivers it once; one lost
 * packet costs it no retransmission; the bounds hold; copies are in flight like any data.
 */
type MessageEvent = Extract<CoreEvent, { type: 'message' }>;
const messages = (events: CoreEvent[]): MessageEvent[] => events.filter((e): e is MessageEvent => e.type === 'message');
type DataFrame = Extract<Frame, { type: 'data' }>;

/** Records, per packet a sends, its DATA frames as `channel:tsn`; `drop(i)` drops the i-th packet with data. */
function watch(pair: Pair, drop: (i: number) => boolean = () => false): string[][] {
  const packets: string[][] = [];
  const link = pair.links[0];
  const admit = link.admit.bind(link);
  link.admit = (now, d) => {
    const r = decodePacket(d);
    const frames = r.ok && r.value.type === 'data' ? (r.value.frames.filter((f) => f.type === 'data') as DataFrame[]) : [];
    if (frames.length > 0) {
      const i = packets.length;
      packets.push(frames.map((f) => `${f.channel ?? 0}:${f.tsn}`));
      if (drop(i)) return [];
    }
    return admit(now, d);
  };
  return packets;
}

const config = { idleTimeout: 0, keepAliveInterval: 0 };

describe('redundancy: copies of small messages', () => {
  it('sends a small message on a redundant channel in two consecutive packets; the peer delivers it once', () => {
    const pair = new Pair({ seed: 1, link: { delay: 20 }, config });
    pair.a.setChannel(2, { redundancy: 1 });
    const packets = watch(pair);
    pair.a.send(new Uint8Array(100).fill(7), { channel: 2 });
    pair.runUntil(() => messages(pair.sides[1].events).length === 1 && pair.a.stats().bytesInFlight === 0, 10_000);
    const withTsn = packets.map((p, i) => [i, p] as const).filter(([, p]) => p.some((f) => f.startsWith('2:')));
    expect(withTsn.map(([i]) => i)).toEqual([0, 1]);
    expect(withTsn[0]![1]).toEqual(withTsn[1]![1]); // the same frame, the same TSN
    expect(messages(pair.sides[1].events)).toHaveLength(1);
    expect(pair.a.stats().bytesRedundant).toBe(100);
    expect(pair.a.stats().bytesRetransmitted).toBe(0);
    expect(pair.b.stats().duplicatesDropped).toBe(1);
  });

  it('a message whose first packet is lost arrives one way later, with no retransmission (fails without redundancy)', () => {
    for (const redundancy of [0, 1]) {
      const pair = new Pair({ seed: 2, link: { delay: 20 }, config });
      if (redundancy) pair.a.setChannel(0, { redundancy });
      watch(pair, (i) => i === 0);
      let at = -1;
      pair.onMessage = (_f, side, _e, now) => {
        if (side === 1 && at < 0) at = now;
      };
      pair.a.send(new Uint8Array(100));
      pair.runUntil(() => at >= 0, 10_000);
      if (redundancy === 0) {
        // Recovered by a retransmission: a probe timeout after more than one RTT.
        expect(at).toBeGreaterThan(60);
        expect(pair.a.stats().bytesRetransmitted).toBe(100);
      } else {
        expect(at).toBeLessThanOrEqual(21);
        expect(pair.a.stats().bytesRetransmitted).toBe(0);
      }
    }
  });

  it('redundancy 2: three packets, each with one copy; a channel without redundancy gets none', () => {
    const pair = new Pair({ seed: 3, link: { delay: 20 }, config });
    pair.a.setChannel(1, { redundancy: 2 });
    const packets = watch(pair);
    pair.a.send(new Uint8Array(50), { channel: 1 });
    pair.a.send(new Uint8Array(50), { channel: 3 });
    pair.runUntil(() => messages(pair.sides[1].events).length === 2 && pair.a.stats().bytesInFlight === 0, 10_000);
    const channel1 = packets.filter((p) => p.some((f) => f.startsWith('1:')));
    expect(channel1).toHaveLength(3);
    for (const p of channel1) expect(p.filter((f) => f.startsWith('1:'))).toHaveLength(1);
    expect(packets.filter((p) => p.some((f) => f.startsWith('3:')))).toHaveLength(1);
    expect(pair.a.stats().bytesRedundant).toBe(100);
  });

  it('copies only whole messages of at most REDUNDANT_MESSAGE_MAX bytes, and at most REDUNDANT_PENDING_MAX at once', () => {
    const pair = new Pair({ seed: 4, link: { delay: 20 }, config });
    pair.a.setChannel(0, { redundancy: 1 });
    pair.a.send(new Uint8Array(REDUNDANT_MESSAGE_MAX + 1));
    pair.a.send(new Uint8Array(5000)); // several fragments
    pair.runUntil(() => messages(pair.sides[1].events).length === 2 && pair.a.stats().bytesInFlight === 0, 10_000);
    expect(pair.a.stats().bytesRedundant).toBe(0);
    // 100 small messages at once: the first packet carries ~60 of them, but only the first
    // REDUNDANT_PENDING_MAX get a copy.
    const packets = watch(pair);
    for (let i = 0; i < 100; i++) pair.a.send(new Uint8Array(10));
    pair.runUntil(() => messages(pair.sides[1].events).length === 102 && pair.a.stats().bytesInFlight === 0, 10_000);
    const first = packets[0]!;
    expect(first.length).toBeGreaterThan(REDUNDANT_PENDING_MAX);
    const later = new Set(packets.slice(1).flat());
    expect(first.filter((f) => later.has(f))).toEqual(first.slice(0, REDUNDANT_PENDING_MAX));
    expect(pair.a.stats().bytesRedundant).toBeLessThanOrEqual(100 * 10);
    expect(messages(pair.sides[1].events)).toHaveLength(102);
  });

  it('copies are in flight: the packet carrying one counts against the congestion window', () => {
    const plain = new Pair({ seed: 5, link: { delay: 20 }, config });
    const copied = new Pair({ seed: 5, link: { delay: 20 }, config });
    copied.a.setChannel(0, { redundancy: 1 });
    for (const p of [plain, copied]) {
      p.a.send(new Uint8Array(200));
      p.runUntil(() => p.now >= 5, 1_000);
    }
    const extra = copied.a.stats().bytesInFlight - plain.a.stats().bytesInFlight;
    expect(copied.a.stats().packetsSent).toBe(plain.a.stats().packetsSent + 1);
    expect(extra).toBeGreaterThan(200);
  });

  it('setting 0 stops copies; bad values throw ERR_INVALID_ARG_VALUE', () => {
    const pair = new Pair({ seed: 6, link: { delay: 20 }, config });
    pair.a.setChannel(0, { redundancy: 1, priority: 2 });
    pair.a.setChannel(0, { weight: 3 }); // keeps redundancy and priority
    pair.a.send(new Uint8Array(10));
    pair.runUntil(() => messages(pair.sides[1].events).length === 1 && pair.a.stats().bytesInFlight === 0, 10_000);
    expect(pair.a.stats().bytesRedundant).toBe(10);
    pair.a.setChannel(0, { redundancy: 0 });
    pair.a.send(new Uint8Array(10));
    pair.runUntil(() => messages(pair.sides[1].events).length === 2 && pair.a.stats().bytesInFlight === 0, 10_000);
    expect(pair.a.stats().bytesRedundant).toBe(10);
    for (const bad of [-1, 4, 1.5, NaN]) {
      expect(() => pair.a.setChannel(0, { redundancy: bad })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });
});
