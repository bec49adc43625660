import { describe, expect, it } from 'vitest';
import { ChannelScheduler } from '../../src/core/channel-scheduler.js';
import { Deque } from '../../src/core/deque.js';
import { PacketBuilder } from '../../src/core/packet-builder.js';
import { nextDatagram } from '../../src/core/send-decision.js';
import { SendScheduler } from '../../src/core/send-scheduler.js';
import { Pair } from '../helpers/pair.js';
import { deoptimizedBy, staysOptimized } from '../helpers/v8-natives.js';

/**
 * A bulk sender whose application is late with its next write (and every sender at the end of
 * its transfer) finds its send queue empty: the "nothing to send" decision then ran code that
 * had never run since the send path was compiled (the queues' other fields, the app-limited
 * mark, the pacer's forfeit, the scheduler's idle member, the queue's storage check), and V8
 * threw the compiled sender away and compiled it again (`nextDatagram`, `pick` with the
 * readiness check inlined, `shift`: issue 11, counted at the end of every run by
 * bench/warmup-bulk.ts). Checked with V8's own view: compiled while data was always queued,
 * then run until the queue is empty and everything acknowledged, still optimised.
 */

const MESSAGE = new Uint8Array(64 * 1024);

function proto(c: { prototype: object }, name: string): unknown {
  return (c.prototype as Record<string, unknown>)[name];
}

describe('a bulk sender whose send queue runs dry after warm-up', () => {
  // First: the Deque's feedback must come from this test alone (the pair below empties queues).
  it('keeps its compiled queue shift when a queue that never emptied empties', () => {
    const q = new Deque<number>(1);
    for (let i = 0; i < 64; i++) q.push(i);
    const steady = (): void => {
      q.push(0);
      q.shift();
    };
    const empty = (): void => {
      while (q.length > 0) q.shift();
    };
    expect(staysOptimized(Deque.prototype.shift, steady, empty)).toBe(true);
    expect(q.length).toBe(0);
  });

  it('keeps its compiled send decision, frame writer and packet builder', () => {
    // A one-way delay of 1.3 ms: the RTT (and so the pacer's sums) is fractional, as on a real
    // clock (whole-number times on the virtual clock would be compiled as small integers).
    const pair = new Pair({ seed: 5, link: { delay: 1.3 } });
    pair.keepMessages = false;
    const a = pair.a;
    // Always more queued than a round trip sends: every poll that returns null met the window or the pacer.
    const busy = (): void => {
      while (a.bufferedAmount < 2_000_000) a.send(MESSAGE);
      for (let i = 0; i < 4; i++) pair.step();
    };
    // Until everything is sent and acknowledged (not on into the quiet connection's compaction
    // and dormancy ~100 ms later: other code, bench/dormant-deopts.ts).
    const dry = (): void => pair.runUntil(() => a.bufferedAmount === 0 && a.ackedThrough === a.flushMark());
    const lost = deoptimizedBy(
      // Callees first (deoptimizedBy compiles them in this order): pickSolo ← pick ← writeFrames.
      {
        pickSolo: proto(ChannelScheduler, 'pickSolo'),
        pick: proto(ChannelScheduler, 'pick'),
        writeFrames: proto(SendScheduler, 'writeFrames'),
        build: proto(PacketBuilder, 'build'),
        nextDatagram,
      },
      busy,
      dry,
    );
    expect(lost).toEqual([]);
    expect(a.bufferedAmount).toBe(0);
  });
});
