import { describe, expect, it } from 'vitest';
import { decodePacket } from '../../src/wire/packet.js';
import { Pair } from '../helpers/pair.js';

/**
 * Every DATA packet a sender puts on the wire carries something: a frame of data, an ACK, a
 * PING or a CLOSE. An empty one costs a datagram on both sides and tells the peer nothing.
 */
describe('packet contents', () => {
  it('a bulk transfer after the path MTU grew sends no DATA packet without frames', () => {
    // The channel scheduler was made for the 1,200-byte base size; path-MTU discovery then raised
    // packets to 1,452 bytes, so one frame is larger than a turn's credit. It used to give up on
    // every fifth packet, which then went out empty (18 bytes: header and checksum).
    const pair = new Pair({ seed: 11, link: { delay: 5, rate: 100e6 }, config: { maxDatagramSize: 1452 } });
    const poll = pair.a.pollTransmit.bind(pair.a);
    let data = 0;
    let empty = 0;
    pair.a.pollTransmit = (now, batch) => {
      const d = poll(now, batch);
      if (d !== null) {
        const p = decodePacket(d);
        if (p.ok && p.value.type === 'data') {
          data++;
          if (p.value.frames.length === 0) empty++;
        }
      }
      return d;
    };
    const chunk = new Uint8Array(65536).fill(7);
    for (let i = 0; i < 64; i++) pair.a.send(chunk);
    pair.runUntil(() => pair.sides[1].deliveredBytes === 64 * 65536);
    expect(pair.a.stats().pathMtu).toBe(1452);
    expect(data).toBeGreaterThan(2000);
    expect(empty).toBe(0);
  });
});
