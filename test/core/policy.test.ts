import { describe, expect, it } from 'vitest';
import { ConnectionCore, ResetCode } from '../../src/core/connection.js';
import { decodePacket, encodePacket } from '../../src/wire/packet.js';
import type { AckFrame, DataPacket } from '../../src/wire/types.js';
import { makeCores, Pair } from '../helpers/pair.js';

/** Decode a datagram a core sent (tests only send well-formed ones). */
function frames(d: Uint8Array): DataPacket['frames'] {
  const r = decodePacket(d);
  if (!r.ok || r.value.type !== 'data') throw new Error('not a DATA packet');
  return r.value.frames;
}

function drain(core: ConnectionCore, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = core.pollTransmit(now); d !== null; d = core.pollTransmit(now)) out.push(d);
  return out;
}

describe('ACK policy', () => {
  it('acknowledges every second packet at once, and a lone packet within maxAckDelay', () => {
    const [a, b] = makeCores(1, { config: { maxAckDelay: 5 } });
    a.send(new Uint8Array(3000)); // three packets, the last one with a PING (end of burst)
    const sent = drain(a, 0);
    expect(sent).toHaveLength(3);
    b.handleDatagram(1, sent[0]!);
    expect(drain(b, 1)).toHaveLength(0); // one packet: wait
    expect(b.pollTimeout()).toBe(1 + 5); // ... at most maxAckDelay
    b.handleDatagram(1, sent[1]!);
    const acks = drain(b, 1);
    expect(acks).toHaveLength(1); // second packet: ACK now
    expect(frames(acks[0]!).map((f) => f.type)).toEqual(['ack']);
  });

  it('a PING (the end of a burst) is acknowledged at once, with the reply if there is one', () => {
    const [a, b] = makeCores(2, {});
    a.send(new Uint8Array(10));
    const [only] = drain(a, 0);
    expect(frames(only!).map((f) => f.type)).toEqual(['data', 'ping']);
    b.handleDatagram(1, only!);
    // The ACK waits until the application has seen the message (deadline: now) ...
    expect(drain(b, 1)).toHaveLength(0);
    expect(b.pollTimeout()).toBe(1);
    expect(b.pollEvent()).toMatchObject({ type: 'message' });
    // ... so that a reply made in the 'message' handler shares its packet.
    b.send(new Uint8Array(5));
    const out = drain(b, 1);
    expect(out).toHaveLength(1);
    expect(frames(out[0]!).map((f) => f.type)).toEqual(['ack', 'data', 'ping']);
  });

  it('with no reply, the held ACK leaves alone as soon as the message was dispatched', () => {
    const [a, b] = makeCores(3, {});
    a.send(new Uint8Array(10));
    b.handleDatagram(1, drain(a, 0)[0]!);
    expect(b.pollEvent()).toMatchObject({ type: 'message' });
    const out = drain(b, 1);
    expect(out).toHaveLength(1);
    expect(frames(out[0]!).map((f) => f.type)).toEqual(['ack']);
  });

  it('acknowledges at once a packet that arrives after a gap', () => {
    const [a, b] = makeCores(30, {});
    a.send(new Uint8Array(5000));
    const sent = drain(a, 0);
    b.handleDatagram(1, sent[1]!); // the first one is "lost"
    const acks = drain(b, 1);
    expect(acks).toHaveLength(1);
    const ack = frames(acks[0]!)[0] as AckFrame;
    expect(ack.type).toBe('ack');
  });
});

describe('protocol violations', () => {
  it('an ACK for a packet number never sent closes the connection (RESET code 1)', () => {
    const [a, b] = makeCores(4, {});
    a.send(new Uint8Array(10));
    drain(a, 0);
    // Forge an ACK from b claiming far more than a ever sent.
    const forged = encodePacket({
      type: 'data',
      dcid: a.localCid,
      packetNumber: 5000,
      frames: [{ type: 'ack', largest: 999_999, ackDelay: 0, maxTsn: 1000, firstRange: 0, ranges: [] }],
    });
    a.handleDatagram(1, forged);
    const out = drain(a, 1);
    expect(frames(out[0]!)).toContainEqual(expect.objectContaining({ type: 'reset', code: ResetCode.ProtocolViolation }));
    expect(a.state).toBe('closed');
    const events = [];
    for (let e = a.pollEvent(); e !== null; e = a.pollEvent()) events.push(e);
    expect(events.at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_PROTOCOL_VIOLATION' } });
    void b;
  });

  it('an optimistic ACK covering a skipped packet number is caught', () => {
    const pair = new Pair({ seed: 9, link: { delay: 1 } });
    // Send enough packets that a number is skipped (the first skip is within the first 64).
    for (let i = 0; i < 100; i++) pair.a.send(new Uint8Array(1000));
    pair.runUntil(() => pair.sides[1].received.length === 100);
    // An attacker acknowledging everything up to the largest sent, skipped numbers included:
    const largest = pair.a.inspect().largestSentPn;
    const forged = encodePacket({
      type: 'data',
      dcid: pair.a.localCid,
      packetNumber: (pair.b.inspect().largestSentPn + 1) >>> 0,
      frames: [{ type: 'ack', largest: largest >>> 0, ackDelay: 0, maxTsn: 100_000, firstRange: largest - 1000, ranges: [] }],
    });
    pair.a.handleDatagram(pair.now, forged);
    expect(pair.a.state).toBe('closed');
  });
});

describe('flow control', () => {
  it('a reader that stops reading stalls the sender at the window; reading resumes it', () => {
    const pair = new Pair({ seed: 10, config: { receiveWindow: 64 * 1024 } });
    const receiver = pair.sides[1];
    receiver.autoRelease = false;
    const total = 1024 * 1024;
    for (let i = 0; i < total / 1024; i++) pair.a.send(new Uint8Array(1024));
    // Run a long while: the sender must stop once the receiver's window is full.
    pair.runUntil(() => pair.now > 5000, 10_000);
    const held = receiver.received.length;
    expect(held).toBeGreaterThan(0);
    expect(held * 1024).toBeLessThanOrEqual(64 * 1024 + 1200);
    expect(pair.a.bufferedAmount).toBeGreaterThan(total / 2); // the rest waits at the sender
    expect(receiver.core.inspect().receiveBuffered).toBeLessThanOrEqual(receiver.core.inspect().advertisedWindow);
    // The application reads: credit goes back, the transfer completes.
    receiver.autoRelease = true;
    for (const e of receiver.events) if (e.type === 'message') receiver.core.release(e.credit, e.delivery);
    pair.runUntil(() => receiver.received.length === total / 1024, 60_000);
  });

  it('data beyond the granted window is a flow-control violation, not silently lost', () => {
    const [a, b] = makeCores(11, { receiveWindowFragments: [16, 16] });
    const beyond = encodePacket({
      type: 'data',
      dcid: b.localCid,
      packetNumber: 1000,
      frames: [{ type: 'data', tsn: 77 + 500, first: true, last: true, unordered: false, payload: new Uint8Array(1) }],
    });
    b.handleDatagram(0, beyond);
    expect(b.state).toBe('closed');
    expect(frames(drain(b, 0)[0]!)).toContainEqual(expect.objectContaining({ type: 'reset', code: ResetCode.FlowControl }));
    void a;
  });
});

describe('RESET reason', () => {
  it('is cut at a character boundary so the peer can decode it', () => {
    const pair = new Pair({ seed: 12 });
    pair.a.send(new Uint8Array(1));
    pair.runUntil(() => pair.sides[1].received.length === 1);
    pair.a.abort(pair.now, 0, 'x' + 'é'.repeat(200));
    pair.runUntil(() => pair.sides[1].closed, 1000);
    const closed = pair.sides[1].events.at(-1);
    expect(closed).toMatchObject({ type: 'closed', error: { code: 'ERR_CONNECTION_RESET' } });
    expect((closed as { error: { message: string } }).error.message.startsWith('xéé')).toBe(true);
  });
});
