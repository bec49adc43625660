import { describe, expect, it } from 'vitest';
import { ResetCode } from '../../src/core/connection.js';
import type { CoreEvent } from '../../src/core/types.js';
import { decodePacket, encodePacket } from '../../src/wire/packet.js';
import type { Frame } from '../../src/wire/types.js';
import { makeCores, Pair } from '../helpers/pair.js';

/** Regression tests for findings of the code review (hostile peers, close edge cases). */

function dataPacket(dcid: bigint, pn: number, frames: Frame[]): Uint8Array {
  return encodePacket({ type: 'data', dcid, packetNumber: pn, frames });
}

function events(core: { pollEvent(): CoreEvent | null }): CoreEvent[] {
  const out: CoreEvent[] = [];
  for (let e = core.pollEvent(); e !== null; e = core.pollEvent()) out.push(e);
  return out;
}

describe('hostile peers', () => {
  it('a message that never ends is cut off at maxMessageSize (protocol violation), not buffered forever', () => {
    const [, b] = makeCores(1, { config: { maxMessageSize: 64 * 1024 }, receiveWindowFragments: [16, 16] });
    const chunk = new Uint8Array(1000);
    let pn = 1000;
    for (let i = 0; i < 200 && b.state !== 'closed'; i++) {
      // In order, within the window (credit moves as fragments are consumed), never LAST.
      b.handleDatagram(i, dataPacket(b.localCid, pn++, [{ type: 'data', tsn: 77 + i, first: i === 0, last: false, unordered: false, payload: chunk }]));
      for (let d = b.pollTransmit(i); d !== null; d = b.pollTransmit(i)) void d;
    }
    expect(b.state).toBe('closed');
    expect(events(b).at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_PROTOCOL_VIOLATION' } });
  });

  it('a FIRST fragment inside an unfinished message is a protocol violation', () => {
    const [, b] = makeCores(2, {});
    const payload = new Uint8Array(10);
    b.handleDatagram(0, dataPacket(b.localCid, 1000, [{ type: 'data', tsn: 77, first: true, last: false, unordered: false, payload }]));
    b.handleDatagram(0, dataPacket(b.localCid, 1001, [{ type: 'data', tsn: 78, first: true, last: true, unordered: false, payload }]));
    expect(b.state).toBe('closed');
    const reset = decodePacket(b.pollTransmit(0)!);
    expect(reset.ok && reset.value.type === 'data' && reset.value.frames).toContainEqual(
      expect.objectContaining({ type: 'reset', code: ResetCode.ProtocolViolation }),
    );
  });

  it('unreliable fragments claiming a huge count are dropped or kept sparsely, and the connection carries on', () => {
    const [, b] = makeCores(3, { config: { maxUnreliableReassembly: 1024 * 1024 } });
    let pn = 1000;
    for (let id = 0; id < 2000; id++) {
      b.handleDatagram(0, dataPacket(b.localCid, pn++, [{ type: 'unreliable', messageId: id, index: 0, count: 0x10_0000, payload: new Uint8Array(1) }]));
    }
    expect(b.state).toBe('open');
    // At most 8 partial messages are kept; the rest were evicted and counted.
    expect(b.stats().unreliableDropped).toBeGreaterThanOrEqual(2000 - 8);
  });
});

describe('close edge cases', () => {
  it('an idle timeout while draining does not report a second close', () => {
    const pair = new Pair({ seed: 4, link: { delay: 150 }, config: { idleTimeout: 1000, keepAliveInterval: 0 } });
    pair.a.send(new Uint8Array(10));
    pair.a.close(pair.now);
    pair.runUntil(() => pair.a.state === 'closed' && pair.b.state === 'closed', 60_000);
    for (const side of pair.sides) {
      const closed = side.events.filter((e) => e.type === 'closed');
      expect(closed).toEqual([{ type: 'closed' }]);
    }
  });

  it('abort() while draining sends nothing and reports nothing more', () => {
    const pair = new Pair({ seed: 5, link: { delay: 5 } });
    pair.a.close(pair.now);
    pair.runUntil(() => pair.a.state === 'draining' || pair.a.state === 'closed', 10_000);
    if (pair.a.state === 'draining') {
      pair.a.abort(pair.now);
      expect(pair.a.pollTransmit(pair.now)).toBeNull();
      expect(pair.a.state).toBe('closed');
    }
    pair.flush();
    expect(pair.sides[0].events.filter((e) => e.type === 'closed')).toEqual([{ type: 'closed' }]);
  });

  it('keepalives follow the idle timeout in force, even when it is shorter than the keepalive interval', () => {
    // Idle timeout 5 s (the smaller of the two announced values), keepalive configured at 10 s:
    // the engine must keep alive more often than the idle timeout, or a healthy idle
    // connection dies at 5 s.
    const [a, b] = makeCores(6, { config: { idleTimeout: 5000, keepAliveInterval: 10_000 } });
    const inbox: Uint8Array[][] = [[], []];
    for (let now = 0; now < 60_000; now += 100) {
      for (const [i, c] of [a, b].entries()) {
        c.handleTimeout(now);
        for (const d of inbox[i]!) c.handleDatagram(now, d);
        inbox[i] = [];
        for (let d = c.pollTransmit(now); d !== null; d = c.pollTransmit(now)) inbox[i === 0 ? 1 : 0]!.push(d);
        events(c);
      }
    }
    expect(a.state).toBe('open');
    expect(b.state).toBe('open');
  });

  it('a sender blocked by a reader that never reads probes with backoff, not every PTO', () => {
    const pair = new Pair({ seed: 7, link: { delay: 1 }, config: { receiveWindow: 32 * 1024, idleTimeout: 0, keepAliveInterval: 0 } });
    pair.sides[1].autoRelease = false;
    for (let i = 0; i < 100; i++) pair.a.send(new Uint8Array(1000));
    pair.runUntil(() => pair.now > 1000, 5000);
    const sentAt1s = pair.a.stats().packetsSent;
    pair.runUntil(() => pair.now > 11_000, 20_000);
    // Ten seconds of a stalled reader: a handful of probes, not hundreds.
    expect(pair.a.stats().packetsSent - sentAt1s).toBeLessThan(20);
  });
});
