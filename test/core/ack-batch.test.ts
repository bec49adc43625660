import { describe, expect, it } from 'vitest';
import type { ConnectionCore } from '../../src/core/connection.js';
import { decodePacket } from '../../src/wire/packet.js';
import { makeCores } from '../helpers/pair.js';

/**
 * How the Node endpoint drives a receiving engine (src/node/endpoint.ts `onMessage`): each
 * datagram of a socket batch is followed by pollTransmit(now, true) *before* its events are
 * drained; at the end of the batch (`endBatch`, after the events went to the application)
 * pollTransmit(now) sends what waited. An ACK due by count in the middle of the batch must wait
 * for that end, not be held for a reply on a timer due now: on a bulk receiver that hold was a
 * setImmediate, a clearTimeout + setTimeout pair and a second flush for every ACK (issue 11).
 */
function drain(core: ConnectionCore, now: number, batch = false): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = core.pollTransmit(now, batch); d !== null; d = core.pollTransmit(now, batch)) out.push(d);
  return out;
}

/**
 * `n` messages that fill a 1,200-byte packet each (1,175 bytes, first byte `i`), queued at once:
 * only the last packet carries the PING a sender adds when it has sent all it can.
 */
function onePacketEach(a: ConnectionCore, n: number): Uint8Array[] {
  for (let i = 0; i < n; i++) a.send(new Uint8Array(1175).fill(i));
  const packets = drain(a, 0);
  expect(packets).toHaveLength(n);
  return packets;
}

function isAckOnly(d: Uint8Array): boolean {
  const r = decodePacket(d);
  return r.ok && r.value.type === 'data' && r.value.frames.every((f) => f.type === 'ack');
}

describe('an ACK due by count in the middle of a socket batch', () => {
  it('waits for the end of the batch (no timer due now), then goes out alone', () => {
    const [a, b] = makeCores(51, { config: { congestion: 'none', pacing: false } });
    // Messages of one packet each: every 2nd packet makes an ACK due by count at first.
    const packets = onePacketEach(a, 6);
    const now = 1;
    b.handleDatagram(now, packets[0]!);
    expect(drain(b, now, true)).toEqual([]);
    b.handleDatagram(now, packets[1]!);
    // Due, but deferred to the batch's end; the messages are still waiting in the engine's events.
    expect(drain(b, now, true)).toEqual([]);
    expect(b.ackDeferred).toBe(true);
    // No timer due now for a reply hold: the earliest deadline is the delayed-ACK one or later.
    expect(b.pollTimeout()).toBeGreaterThan(now);
    b.handleDatagram(now, packets[2]!);
    b.handleDatagram(now, packets[3]!);
    expect(drain(b, now, true)).toEqual([]);
    // The batch is over: the application took its messages; one ACK for the four packets.
    const messages: number[] = [];
    for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') messages.push(e.data[0]!);
    expect(messages).toEqual([0, 1, 2, 3]);
    const out = drain(b, now);
    expect(out).toHaveLength(1);
    expect(isAckOnly(out[0]!)).toBe(true);
  });

  it('leaves with the reply when the application answers in its turn', () => {
    const [a, b] = makeCores(52, { config: { congestion: 'none', pacing: false } });
    const packets = onePacketEach(a, 4);
    packets.pop(); // the last one carries a PING (an ACK at once)
    const now = 1;
    for (const p of packets) {
      b.handleDatagram(now, p);
      expect(drain(b, now, true)).toEqual([]);
    }
    for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') b.send(e.data.subarray(0, 1));
    // One datagram: the replies and the ACK together.
    const out = drain(b, now);
    expect(out).toHaveLength(1);
    const r = decodePacket(out[0]!);
    expect(r.ok && r.value.type === 'data' && r.value.frames.some((f) => f.type === 'ack') && r.value.frames.some((f) => f.type === 'data')).toBe(true);
  });
});
