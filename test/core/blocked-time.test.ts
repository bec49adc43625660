import { describe, expect, it } from 'vitest';
import { BlockedTime, SendBlock } from '../../src/core/blocked-time.js';

describe('BlockedTime', () => {
  it('a sender that stopped sending data at a flush\'s now is blocked only from the end of its sending (sentUntil)', () => {
    const b = new BlockedTime(0);
    b.set(0, SendBlock.None);
    b.set(10, SendBlock.CongestionWindow);
    expect(b.stoppedSendingAt(10)).toBe(true);
    b.sentUntil(10, 12);
    expect(b.stoppedSendingAt(10)).toBe(false);
    expect(b.read(20).timeBlockedByCongestion).toBe(8);
    // Settled once: a second report changes nothing.
    b.sentUntil(10, 15);
    expect(b.read(20).timeBlockedByCongestion).toBe(8);
  });

  it('a flush that only met the cause it was already blocked by (an ACK-only packet) is not sending time', () => {
    const b = new BlockedTime(0);
    b.set(0, SendBlock.None);
    b.set(5, SendBlock.CongestionWindow);
    b.sentUntil(5, 5);
    b.set(20, SendBlock.CongestionWindow);
    expect(b.stoppedSendingAt(20)).toBe(false);
    b.sentUntil(20, 25);
    expect(b.read(30).timeBlockedByCongestion).toBe(25);
    // Nor one that went from one blocking cause to another.
    b.set(30, SendBlock.Pacing);
    b.sentUntil(30, 33);
    expect(b.read(40)).toMatchObject({ timeBlockedByCongestion: 25, timeBlockedByPacing: 10 });
  });

  it('a change stated before the end of the sending counted (a clock read earlier) starts there, never counted twice', () => {
    const b = new BlockedTime(0);
    b.set(0, SendBlock.None);
    b.set(10, SendBlock.Application);
    b.sentUntil(10, 14);
    b.set(12, SendBlock.None);
    const t = b.read(14);
    expect(t.timeAppLimited).toBe(0);
  });
});
