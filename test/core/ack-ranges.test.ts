import { describe, expect, it } from 'vitest';
import type { ConnectionCore } from '../../src/core/connection.js';
import { decodePacket } from '../../src/wire/packet.js';
import type { AckFrame, DataPacket } from '../../src/wire/types.js';
import { makeCores } from '../helpers/pair.js';

function drain(core: ConnectionCore, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = core.pollTransmit(now); d !== null; d = core.pollTransmit(now)) out.push(d);
  return out;
}

/** Every ACK frame in `datagrams`. */
function acks(datagrams: Uint8Array[]): AckFrame[] {
  return datagrams.flatMap((d) => {
    const r = decodePacket(d);
    if (!r.ok || r.value.type !== 'data') throw new Error('not a DATA packet');
    return (r.value as DataPacket).frames.filter((f): f is AckFrame => f.type === 'ack');
  });
}

/**
 * `trips` request/response round trips of 64 bytes between two engines, 1 ms each way; the ACK
 * frames each side sent in the last 50.
 */
function pingPong(seed: number, trips: number): { a: AckFrame[]; b: AckFrame[]; skippedGaps: number } {
  const [a, b] = makeCores(seed, {});
  let now = 0;
  const late: { a: AckFrame[]; b: AckFrame[] } = { a: [], b: [] };
  const deliver = (from: ConnectionCore, to: ConnectionCore, side: 'a' | 'b', record: boolean): void => {
    const out = drain(from, now);
    if (record) late[side].push(...acks(out));
    now += 1;
    for (const d of out) to.handleDatagram(now, d);
    for (let e = to.pollEvent(); e !== null; e = to.pollEvent()) {
      if (e.type !== 'message') continue;
      to.release(e.credit);
      if (to === b) b.send(e.data);
    }
  };
  for (let i = 0; i < trips; i++) {
    const record = i >= trips - 50;
    a.send(new Uint8Array(64).fill(i & 0xff));
    deliver(a, b, 'a', record);
    deliver(b, a, 'b', record);
  }
  // The gaps packet-number skipping left in what b received from a (RFC 9000 §21.4).
  const skippedGaps = (b as unknown as { acks: { received: { rangeCount: number } } }).acks.received.rangeCount - 1;
  return { ...late, skippedGaps };
}

describe('ACK ranges (RFC 9000 §13.2.4)', () => {
  it('an ACK stops repeating the ranges of an ACK the peer has acknowledged: the gaps of skipped packet numbers are not reported for ever', () => {
    const { a, b, skippedGaps } = pingPong(5, 1500);
    // 3,000 packets each way: several numbers skipped, each a gap in the received set.
    expect(skippedGaps).toBeGreaterThanOrEqual(4);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    // Before, every ACK carried one range per gap (8 in a long ping-pong); now the peer has seen
    // them acknowledged and each ACK reports the run of packets since.
    for (const ack of [...a, ...b]) expect(ack.ranges.length).toBe(0);
  });
});
