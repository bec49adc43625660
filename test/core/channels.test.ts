import { describe, expect, it } from 'vitest';
import type { CoreEvent } from '../../src/core/types.js';
import { decodePacket, encodePacket, seal } from '../../src/wire/packet.js';
import { Pair } from '../helpers/pair.js';
import { headOfLine, MIN_RTT, weightedShare } from '../helpers/scenarios.js';

const te = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
type MessageEvent = Extract<CoreEvent, { type: 'message' }>;
const messages = (events: CoreEvent[]): MessageEvent[] => events.filter((e): e is MessageEvent => e.type === 'message');

describe('channels on the wire', () => {
  it('channel 0 frames are byte-identical to version 1 (no flag, no channel byte)', () => {
    const frame = { type: 'data' as const, tsn: 5000, first: true, last: true, unordered: false, payload: te.encode('hello') };
    const a = encodePacket({ type: 'data', dcid: 1n, packetNumber: 1, frames: [frame] });
    const b = encodePacket({ type: 'data', dcid: 1n, packetNumber: 1, frames: [{ ...frame, channel: 0 }] });
    expect(Buffer.from(b).toString('hex')).toBe(Buffer.from(a).toString('hex'));
    expect(a[14]).toBe(0x0b);
  });

  it('a channel flag with channel byte 0 is malformed', () => {
    // 0x1b (DATA on a channel, FIRST|LAST), channel 00: not the one encoding of channel 0.
    const good = encodePacket({
      type: 'data',
      dcid: 1n,
      packetNumber: 1,
      frames: [{ type: 'data', channel: 3, tsn: 1, first: true, last: true, unordered: false, payload: te.encode('x') }],
    });
    expect(decodePacket(good).ok).toBe(true);
    const bytes = Uint8Array.from(good);
    bytes[15] = 0;
    // Re-seal with a correct checksum so that only the frame is wrong.
    const buf = new Uint8Array(bytes.length);
    buf.set(bytes.subarray(0, bytes.length - 4));
    const resealed = seal(buf, bytes.length - 4);
    const r = decodePacket(resealed);
    expect(r.ok ? 'ok' : r.reason).toBe('malformed');
  });
});

describe('channels in the engine', () => {
  it('orders per channel: a loss on channel 1 does not hold back channel 0', () => {
    const pair = new Pair({ seed: 3, link: { delay: 10 } });
    // Drop the first packet carrying channel 1 data: its message must wait, channel 0's not.
    const link = pair.links[0];
    const admit = link.admit.bind(link);
    let dropped = false;
    link.admit = (now, d) => {
      if (!dropped && d.includes(0x1b) && text(d).includes('bulk-1')) {
        dropped = true;
        return [];
      }
      return admit(now, d);
    };
    pair.a.send(te.encode('bulk-1'), { channel: 1 });
    pair.a.send(te.encode('bulk-2'), { channel: 1 });
    pair.a.send(te.encode('chat-1'), { channel: 0 });
    pair.a.send(te.encode('chat-2'), { channel: 0 });
    const b = pair.sides[1];
    pair.runUntil(() => messages(b.events).length === 4);
    expect(dropped).toBe(true);
    const got = messages(b.events).map((e) => `${e.channel}:${text(e.data)}`);
    // Channel 0's messages came first; channel 1's stay in order after the retransmission.
    expect(got).toEqual(['0:chat-1', '0:chat-2', '1:bulk-1', '1:bulk-2']);
  });

  it('interleaves fragments of large messages on different channels and reassembles each', () => {
    const pair = new Pair({ seed: 4, link: { delay: 5, loss: 0.05, reorder: 0.1 } });
    const big = (c: number, n: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 7 + c) & 0xff);
    pair.a.setChannel(2, { weight: 1 });
    for (const c of [0, 1, 2]) pair.a.send(big(c, 50_000 + c), { channel: c });
    pair.a.send(te.encode('small'), { channel: 3 });
    const b = pair.sides[1];
    pair.runUntil(() => messages(b.events).length === 4);
    const got = new Map(messages(b.events).map((e) => [e.channel, e.data]));
    for (const c of [0, 1, 2]) expect(Buffer.from(got.get(c)!).equals(Buffer.from(big(c, 50_000 + c)))).toBe(true);
    expect(text(got.get(3)!)).toBe('small');
    // The small message on its own channel did not wait for the 150 KB ahead of it.
    expect(messages(b.events)[0]!.channel).toBe(3);
  });

  it('rejects bad channels, maxAge and receipt ids with ERR_INVALID_ARG_VALUE', () => {
    const pair = new Pair({ seed: 1 });
    for (const bad of [-1, 256, 1.5, NaN]) {
      expect(() => pair.a.send(te.encode('x'), { channel: bad })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
    expect(() => pair.a.send(te.encode('x'), { delivery: 'ordered', maxAge: 5 }, 0)).toThrow(RangeError);
    expect(() => pair.a.send(te.encode('x'), { delivery: 'unreliable', maxAge: -1 }, 0)).toThrow(RangeError);
    expect(() => pair.a.setChannel(1, { weight: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => pair.a.setChannel(1, { priority: 256 })).toThrow(RangeError);
  });

  it("drops an unreliable message not sent within maxAge, counts it, and fails its receipt", () => {
    // A tiny congestion window keeps the queue from draining: the late messages expire.
    const pair = new Pair({ seed: 5, link: { delay: 50, rate: 20_000 }, config: { congestion: 'newreno' } });
    pair.a.send(new Uint8Array(60_000), { channel: 1 });
    for (let i = 0; i < 20; i++) pair.a.send(new Uint8Array(1000), { delivery: 'unreliable', maxAge: 30, receipt: i + 1, channel: 1 }, 0);
    pair.runUntil(() => pair.a.stats().unreliableExpired > 0 && pair.now > 2000, 60_000);
    const receipts = pair.sides[0].events.filter((e) => e.type === 'receipt');
    const failed = receipts.filter((e) => e.type === 'receipt' && !e.ok).length;
    expect(pair.a.stats().unreliableExpired).toBeGreaterThan(0);
    expect(failed).toBeGreaterThanOrEqual(pair.a.stats().unreliableExpired);
    // Nothing delivered was older than maxAge when it left: expired ones never reach the peer.
    const delivered = messages(pair.sides[1].events).filter((e) => e.delivery === 'unreliable').length;
    expect(delivered + pair.a.stats().unreliableExpired).toBeLessThanOrEqual(20);
  });
});

describe('settings of a channel that carries nothing', () => {
  /**
   * Chat-like traffic (small messages both ways at seeded random gaps, one side ten times more,
   * 2 % loss so that retransmissions are scheduled too), with `setChannel(1, { priority: 1 })`
   * on both sides or not: what each side sent, datagram by datagram (time, length, frames).
   * With `page`, side b also sends one 20 kB message on channel 1 (a history page).
   */
  function wire(configured: boolean, page = false): string[] {
    const pair = new Pair({ seed: 21, link: { delay: 1, loss: 0.02 } });
    if (configured) for (const core of [pair.a, pair.b]) core.setChannel(1, { priority: 1 });
    const out: string[] = [];
    pair.sides.forEach((side, i) => {
      const core = side.core;
      const poll = core.pollTransmit.bind(core);
      core.pollTransmit = (now: number) => {
        const d = poll(now);
        if (d !== null) {
          const p = decodePacket(d);
          const frames = p.ok && p.value.type === 'data' ? p.value.frames.map((f) => ('tsn' in f ? `${f.type}:${f.tsn}` : f.type)).join(',') : '?';
          out.push(`${now} ${'ab'[i]} ${d.length} ${frames}`);
        }
        return d;
      };
    });
    let state = 5;
    const payload = new Uint8Array(200);
    for (let n = 0; n < 400; n++) {
      state = (state * 69069 + 1) >>> 0;
      pair.runTo(pair.now + (state % 40));
      (state % 11 === 0 ? pair.a : pair.b).send(payload, 'ordered', pair.now);
      if (page && n === 100) pair.b.send(new Uint8Array(20_000), { channel: 1 }, pair.now);
    }
    pair.runUntil(() => pair.a.bufferedAmount === 0 && pair.b.bufferedAmount === 0 && pair.a.stats(pair.now).bytesInFlight === 0, 60_000);
    return out;
  }

  it('change nothing on the wire (the chat set its bulk lane on every connection: not what moved its p99)', () => {
    const plain = wire(false);
    expect(plain.length).toBeGreaterThan(700);
    expect(wire(true)).toEqual(plain);
    // Once channel 1 carries something, its priority does change the packets (the comparison can fail).
    expect(wire(true, true)).not.toEqual(wire(false, true));
  });
});

describe('receipts and flush marks', () => {
  it('a receipt comes once, after the peer holds the message; flush marks follow the send order', () => {
    const pair = new Pair({ seed: 6, link: { delay: 10, loss: 0.2 } });
    for (let i = 1; i <= 30; i++) pair.a.send(new Uint8Array(3000).fill(i), { channel: i % 3, receipt: i });
    const mark = pair.a.flushMark();
    expect(mark).toBe(30);
    const a = pair.sides[0];
    const b = pair.sides[1];
    const deliveredAt = new Map<number, number>();
    const receiptAt = new Map<number, number>();
    pair.onMessage = (_f, side, e, now) => {
      if (side === 1) deliveredAt.set(e.data[0]!, now);
    };
    let seen = 0;
    pair.check = () => {
      for (; seen < a.events.length; seen++) {
        const e = a.events[seen]!;
        if (e.type === 'receipt') {
          expect(receiptAt.has(e.receipt), `receipt ${e.receipt} twice`).toBe(false);
          expect(e.ok).toBe(true);
          receiptAt.set(e.receipt, pair.now);
        }
      }
    };
    pair.runUntil(() => a.events.some((e) => e.type === 'acked'), 120_000);
    expect(receiptAt.size).toBe(30);
    expect(a.events.find((e) => e.type === 'acked')).toEqual({ type: 'acked', through: 30 });
    expect(pair.a.ackedThrough).toBe(30);
    expect(messages(b.events).length).toBe(30);
    // Messages 1..3 open their channels: nothing before them, so the receiver delivered each
    // the moment it held it, and the receipt can only come later (the property test checks
    // the general case).
    for (const id of [1, 2, 3]) expect(receiptAt.get(id)!).toBeGreaterThan(deliveredAt.get(id)!);
  });

  it('an unreliable receipt fails when its packet is lost, succeeds when acknowledged', () => {
    const pair = new Pair({ seed: 7, link: { delay: 10 } });
    const link = pair.links[0];
    const admit = link.admit.bind(link);
    link.admit = (now, d) => (text(d).includes('lose-me') ? [] : admit(now, d));
    pair.a.send(te.encode('lose-me'), { delivery: 'unreliable', receipt: 1 });
    pair.a.send(te.encode('keep-me'), { delivery: 'unreliable', receipt: 2 });
    pair.a.send(te.encode('after'), { receipt: 3 });
    const a = pair.sides[0];
    pair.runUntil(() => a.events.filter((e) => e.type === 'receipt').length >= 2 && pair.now > 1000, 30_000);
    const receipts = a.events.filter((e) => e.type === 'receipt');
    expect(receipts).toContainEqual({ type: 'receipt', receipt: 3, ok: true });
    // 'lose-me' and 'keep-me' may share a packet: then both are lost; each gets one receipt.
    const r1 = receipts.filter((e) => e.type === 'receipt' && e.receipt === 1);
    expect(r1).toEqual([{ type: 'receipt', receipt: 1, ok: false }]);
    expect(receipts.filter((e) => e.type === 'receipt' && e.receipt === 2).length).toBe(1);
  });
});

describe('head-of-line and weights (issue #12 scenarios, shorter than bench:sim)', () => {
  it('channel 0 small messages beside a low-priority bulk upload see about one one-way delay', () => {
    const separate = headOfLine(true, 3 * 1024 * 1024);
    const shared = headOfLine(false, 3 * 1024 * 1024);
    expect(separate.count).toBeGreaterThan(20);
    // Median: one propagation delay plus a little queueing, not the bulk queue ahead of it.
    expect(separate.p50).toBeLessThan(MIN_RTT);
    expect(shared.p50).toBeGreaterThan(10 * MIN_RTT);
    // The bulk still gets the link.
    expect(separate.bulkFraction).toBeGreaterThan(0.8);
  });

  it('two bulk channels with weights 1 and 3 get 25 % and 75 % (± 5 %)', () => {
    const [s1, s3] = weightedShare([1, 3]);
    expect(Math.abs(s1! - 0.25)).toBeLessThan(0.05);
    expect(Math.abs(s3! - 0.75)).toBeLessThan(0.05);
  });
});
