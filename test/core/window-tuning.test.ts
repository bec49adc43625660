import { describe, expect, it } from 'vitest';
import { BufferBudget } from '../../src/core/buffer-budget.js';
import { announcedWindow, resolveCoreConfig } from '../../src/core/config.js';
import type { ConnectionCore } from '../../src/core/connection.js';
import { createCounters } from '../../src/core/counters.js';
import { Deque } from '../../src/core/deque.js';
import { peek } from '../../src/core/dormancy.js';
import { Receiver } from '../../src/core/receiver.js';
import type { CoreEvent } from '../../src/core/types.js';
import { impairedPair, queueBulk } from '../helpers/scenarios.js';

const MiB = 1024 * 1024;

/** A Receiver on its own at the default configuration, with the window it announces in slots. */
function bareReceiver(): { events: Deque<CoreEvent>; slots: number; receiver: Receiver; rtt: { smoothed: number }; payload: Uint8Array } {
  const config = resolveCoreConfig({});
  const events = new Deque<CoreEvent>();
  const slots = announcedWindow(config);
  const receiver = new Receiver(config, 1, slots, config.maxDatagramSize, config.maxMessageSize, events, createCounters());
  return { events, slots, receiver, rtt: { smoothed: 20 }, payload: new Uint8Array(1100) };
}

/**
 * The connection's Receiver, read through `peek` (dormancy.ts) while it is dormant (its stage fields then point
 * at shared stand-ins: a quiet receiver, with its window tuner, sleeps too).
 */
function readReceiver<T>(core: ConnectionCore, read: (r: Receiver & { retainedBytes: number; retainedLimit: number }) => T): T {
  type Inner = Receiver & { retainedBytes: number; retainedLimit: number };
  return core.dormant !== null ? peek(core, (woken) => read(woken.receiver as Inner)) : read(core.receiver as Inner);
}

/** The receiver's window now, bytes (read from the engine for these tests only). */
function windowOf(core: ConnectionCore): number {
  return readReceiver(core, (r) => r.windowBytes);
}

function retainedOf(core: ConnectionCore): { retained: number; limit: number } {
  return readReceiver(core, (r) => ({ retained: r.retainedBytes, limit: r.retainedLimit }));
}

describe('receive-window auto-tuning (window-tuner.ts)', () => {
  for (const loss of [0.01, 0.05]) {
    // At the endpoint's default datagram size: both sides probe the path MTU, so the receiver has
    // an RTT sample (20 ms) and the tuner judges the rate against it, not against initialRtt.
    it(`grows to maxReceiveWindow on a fast transfer at 20 ms RTT, ${loss * 100} % loss, and keeps within it`, () => {
      const pair = impairedPair(3, loss, { maxDatagramSize: 1452 });
      let worst = 0;
      pair.check = () => {
        const { retained, limit } = retainedOf(pair.b);
        worst = Math.max(worst, retained);
        expect(retained).toBeLessThanOrEqual(limit);
      };
      const bytes = 40e6;
      queueBulk((d) => pair.a.send(d), bytes);
      expect(windowOf(pair.b)).toBe(4 * MiB);
      pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes, 60_000);
      expect(windowOf(pair.b)).toBe(16 * MiB);
      // The credit the peer saw grew with it (four times the TSNs the 4 MiB window announced);
      // what it made the receiver hold stays within the grown window.
      expect(readReceiver(pair.b, (r) => r.maxSlotsAnnounced)).toBe(4 * announcedWindow(resolveCoreConfig({ maxDatagramSize: 1452 })));
      expect(worst).toBeLessThanOrEqual(16 * MiB + 128 * 1024);
      // The window is the sender's limit no more than a tenth of the transfer.
      expect(pair.a.stats(pair.now).timeBlockedByFlowControl).toBeLessThan(pair.now / 10);
    });
  }

  it("grows during the sender's Startup, judging a doubling rate by the rate it heads for (1 % loss, 20 ms RTT)", () => {
    // Seed 1's first loss falls in Startup's overshoot: judged by each round trip's rate alone,
    // the window stayed at 4 MiB until that hole was repaired, and the sender waited on credit
    // 77 ms of the 503 ms transfer (bench/impair-sim.ts, 60 MB/s). With the trend of the
    // release rate the window doubles while the flight still fits in it: 32 ms.
    const pair = impairedPair(1, 0.01, { maxDatagramSize: 1452 });
    const bytes = 20e6;
    queueBulk((d) => pair.a.send(d), bytes);
    let grewAt = -1;
    pair.runUntil(() => {
      if (grewAt < 0 && windowOf(pair.b) > 4 * MiB) grewAt = pair.now;
      return pair.sides[1].deliveredBytes >= bytes;
    }, 60_000);
    expect(pair.a.stats(pair.now).timeBlockedByFlowControl).toBeLessThan(50);
    expect(grewAt).toBeGreaterThan(0);
  });

  it('does not grow for an application that reads slowly, and grows once it reads fast', () => {
    const pair = impairedPair(5, 0.01);
    pair.sides[1].autoRelease = false;
    const unread: Extract<CoreEvent, { type: 'message' }>[] = [];
    pair.onMessage = (_f, side, e) => {
      if (side === 1) unread.push(e);
    };
    queueBulk((d) => pair.a.send(d), 60e6);
    // 64 KiB every 20 ms: 3.3 MB/s, a twentieth of the path. The window fills and stays full.
    for (let t = 20; t <= 3000; t += 20) {
      pair.runTo(t);
      const e = unread.shift();
      if (e !== undefined) pair.b.release(e.credit, e.delivery, e.channel, pair.now);
    }
    expect(unread.length).toBeGreaterThan(30);
    expect(windowOf(pair.b)).toBe(4 * MiB);
    // The same connection with an eager reader from here on: the window grows.
    pair.sides[1].autoRelease = true;
    pair.onMessage = undefined;
    for (const e of unread.splice(0)) pair.b.release(e.credit, e.delivery, e.channel, pair.now);
    pair.runTo(pair.now + 3000);
    expect(windowOf(pair.b)).toBeGreaterThan(4 * MiB);
  });

  it('does not grow from data a peer keeps in holes, however fast it comes', () => {
    const { events, slots, receiver, rtt, payload } = bareReceiver();
    // A hostile peer: TSN 1 never comes, everything else of the window does, at once.
    for (let tsn = 2; tsn <= slots; tsn++) {
      expect(receiver.onData({ type: 'data', tsn, first: true, last: true, unordered: false, payload })).toBe('new');
    }
    expect(events.length).toBe(0);
    // The application may call release() as it likes: nothing was delivered, nothing is given back.
    for (let i = 0; i < 100; i++) receiver.release(4 * MiB, 'ordered', 0, i, rtt, null);
    expect(receiver.windowBytes).toBe(4 * MiB);
    expect(receiver.maxSlotsAnnounced).toBe(slots);
    expect(receiver.onData({ type: 'data', tsn: slots + 10, first: true, last: true, unordered: false, payload })).toBe('beyond-window');
    // Control: the hole filled, the window is delivered; released within a millisecond, it grows.
    receiver.onData({ type: 'data', tsn: 1, first: true, last: true, unordered: false, payload });
    let n = 0;
    for (let e = events.shift(); e !== undefined; e = events.shift()) {
      if (e.type === 'message') receiver.release(e.credit, e.delivery, e.channel, 100 + n++ / 1000, rtt, null);
    }
    expect(n).toBe(slots);
    expect(receiver.windowBytes).toBe(8 * MiB);
    expect(receiver.maxSlotsAnnounced).toBe(2 * slots);
  });

  /**
   * A receiver whose tuner has started, then a flight with two holes: everything up to the second
   * hole is delivered once the first is repaired, everything behind it stays retained, and the
   * peer has claimed all its credit. `release` decides what the application gives back;
   * `unreadOnChannel1` messages of channel 1, delivered before the flight, stay unread.
   */
  function twoHoles(release: (credit: number, index: number) => boolean, unreadOnChannel1 = 0): Receiver {
    const { events, slots, receiver, rtt, payload } = bareReceiver();
    const data = (tsn: number) => receiver.onData({ type: 'data', tsn, first: true, last: true, unordered: false, payload });
    const drain = (now: number): void => {
      let i = 0;
      for (let e = events.shift(); e !== undefined; e = events.shift()) {
        if (e.type === 'message' && release(e.credit, i++)) receiver.release(e.credit, e.delivery, 0, now + i / 1000, rtt, null);
      }
    };
    // 150 messages read at once at t = 0: the tuner starts (an eighth of the window released is
    // more than the 1/32 it waits for), and nothing is due yet.
    for (let tsn = 1; tsn <= 150; tsn++) data(tsn);
    drain(0);
    expect(receiver.windowBytes).toBe(4 * MiB);
    // Messages of another channel the application leaves unread (the credit is the connection's).
    for (let tsn = 1; tsn <= unreadOnChannel1; tsn++) receiver.onData({ type: 'data', channel: 1, tsn, first: true, last: true, unordered: false, payload });
    while (events.shift() !== undefined);
    // Half a second later a flight that fills the credit, with holes at 151 and `second`.
    const second = 150 + Math.floor((slots - unreadOnChannel1) / 2);
    let tsn = 152;
    for (; data(tsn) !== 'beyond-window'; tsn++) if (tsn + 1 === second) tsn++;
    // The first hole is repaired at 600 ms: up to the second is delivered and read.
    data(151);
    drain(600);
    return receiver;
  }

  it('grows when the peer waits on credit that data behind a hole holds and the application keeps up, however slow the rate looked', () => {
    // The epoch since the last check spans the half second without releases: by the rate rule
    // (a window in under 4 RTTs) nothing grows; the credit is all claimed and nothing delivered
    // is left unread, so the window is what the peer waits on.
    const receiver = twoHoles(() => true);
    expect(receiver.windowBytes).toBe(8 * MiB);
  });

  it('does not grow for a peer at the edge of its credit while the application leaves delivered data unread', () => {
    // The same flight, read only in part: a third of what was delivered stays unread.
    expect(twoHoles((_credit, i) => i % 3 !== 0).windowBytes).toBe(4 * MiB);
    // Read in full, but with 600 messages (660 KB, more than an eighth of the window) unread on
    // another channel: that backlog holds the connection's credit too.
    expect(twoHoles(() => true, 600).windowBytes).toBe(4 * MiB);
  });

  it("grows only within the endpoint budget's fair share", () => {
    const budget = new BufferBudget(8 * MiB);
    budget.connections = 1;
    const pair = impairedPair(7, 0.01, { budgetB: budget });
    let worst = 0;
    pair.check = () => {
      worst = Math.max(worst, budget.used);
    };
    const bytes = 40e6;
    queueBulk((d) => pair.a.send(d), bytes);
    pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes, 60_000);
    expect(windowOf(pair.b)).toBe(8 * MiB);
    expect(worst).toBeLessThanOrEqual(8 * MiB + 64 * 1024);
    // A second connection on the endpoint: 4 MiB each, so this one would not grow now.
    budget.connections = 2;
    expect(budget.allowsWindow(8 * MiB)).toBe(false);
    expect(budget.allowsWindow(4 * MiB)).toBe(true);
  });
});
