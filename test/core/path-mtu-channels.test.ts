import { afterEach, describe, expect, it, vi } from 'vitest';
import { Receiver } from '../../src/core/receiver.js';
import type { DataPartFrame } from '../../src/wire/types.js';
import { Pair } from '../helpers/pair.js';

/**
 * DATA_PART meets channels: a fragment of channel 3 cut for 1,452 bytes and resent in pieces
 * after the path MTU fell (the test kit's `mtu` impairment) must be reassembled in channel 3's
 * TSN space, not channel 0's (both channels use the same TSNs here, so a piece filed under the
 * wrong channel would complete or corrupt the other channel's fragment).
 */

const ONE_WAY = 10;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('DATA_PART on a channel other than 0', () => {
  it('a channel-3 fragment resent in pieces after an MTU shrink arrives on channel 3, intact and in order', () => {
    const original = Receiver.prototype.onDataPart;
    const pieces: number[] = [0, 0];
    vi.spyOn(Receiver.prototype, 'onDataPart').mockImplementation(function (this: Receiver, frame: DataPartFrame) {
      pieces[(frame.channel ?? 0) === 3 ? 1 : 0]!++;
      return original.call(this, frame);
    });
    const link = { delay: ONE_WAY };
    const pair = new Pair({ seed: 5, link, config: { maxDatagramSize: 1452 } });
    const count = 256;
    const size = 16 * 1024;
    const body = (channel: number, i: number) => new Uint8Array(size).map((_, k) => (k * 13 + i * 7 + channel) & 0xff);
    // Channel 0 and channel 3 interleaved: their TSNs run in step.
    for (let i = 0; i < count; i++) {
      pair.a.send(body(0, i), { channel: 0 });
      pair.a.send(body(3, i), { channel: 3 });
    }
    const total = 2 * count * size;
    pair.runUntil(() => {
      if (pair.now >= 100 && pair.links[0].impairment.mtu === undefined) pair.links[0].configure({ ...link, mtu: 1200 });
      pair.sides[0].events.length = 0;
      return pair.sides[1].deliveredBytes >= total;
    }, 60_000);
    expect(pair.a.stats().blackHolesDetected).toBe(1);
    // Pieces were sent on channel 3 (and reached the receiver as such).
    expect(pieces[1]).toBeGreaterThan(0);
    const next = [0, 0];
    for (const e of pair.sides[1].events) {
      if (e.type !== 'message') continue;
      expect([0, 3]).toContain(e.channel);
      const slot = e.channel === 3 ? 1 : 0;
      expect(Buffer.compare(e.data, body(e.channel, next[slot]!)), `channel ${e.channel} message ${next[slot]}`).toBe(0);
      next[slot]!++;
    }
    expect(next).toEqual([count, count]);
  });
});
