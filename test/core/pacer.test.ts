import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/core/pacer.js';

const RATE = 10; // bytes/ms
const CAPACITY = 100;

/** A pacer whose bucket was emptied at time 0. */
function emptied(): Pacer {
  const p = new Pacer();
  expect(p.delay(0, 100, RATE, CAPACITY)).toBe(0); // a fresh bucket starts full
  p.consume(100);
  return p;
}

describe('Pacer', () => {
  it('with exact timers waits exactly until the next packet has its tokens', () => {
    const p = emptied();
    expect(p.delay(0, 50, RATE, CAPACITY)).toBeCloseTo(5);
    expect(p.delay(2, 50, RATE, CAPACITY)).toBeCloseTo(3);
    expect(p.delay(5, 50, RATE, CAPACITY)).toBe(0);
  });

  it('never asks for a wait shorter than the timer granularity (no spinning on sub-ms deadlines)', () => {
    const p = emptied();
    // 50 bytes lack 5 ms of tokens; 2 bytes lack 0.2 ms: both waits are at least 1 ms.
    expect(p.delay(0, 50, RATE, CAPACITY, 1)).toBeCloseTo(5);
    expect(p.delay(4.9, 50, RATE, CAPACITY, 1)).toBe(1);
    expect(p.delay(4.9, 2, RATE, CAPACITY, 1)).toBe(0); // 49 tokens: it may go now
  });

  it('a late wake-up makes up for the time lost since the packet was due, beyond the capacity', () => {
    const p = emptied();
    expect(p.delay(0, 50, RATE, CAPACITY)).toBeCloseTo(5);
    // The timer fires 100 ms late: 1,050 bytes of tokens accrued, 1,000 of them after the
    // deadline; all may go now, not just the bucket's 100.
    let sent = 0;
    while (p.delay(105, 50, RATE, CAPACITY) === 0 && sent < 10_000) {
      p.consume(50);
      sent += 50;
    }
    expect(sent).toBe(1050);
  });

  it('idle time without a pending wait is capped at the capacity (no burst after idle)', () => {
    const p = emptied();
    let sent = 0;
    while (p.delay(1000, 50, RATE, CAPACITY) === 0 && sent < 10_000) {
      p.consume(50);
      sent += 50;
    }
    expect(sent).toBe(CAPACITY);
  });

  it('forfeit: when the window, not the pacer, holds the sender back, what was owed lapses', () => {
    const p = emptied();
    expect(p.delay(0, 50, RATE, CAPACITY)).toBeCloseTo(5);
    expect(p.delay(105, 50, RATE, CAPACITY)).toBe(0); // 1,050 tokens
    p.forfeit(CAPACITY, true);
    let sent = 0;
    while (p.delay(105, 50, RATE, CAPACITY) === 0 && sent < 10_000) {
      p.consume(50);
      sent += 50;
    }
    expect(sent).toBe(CAPACITY);
  });
});
