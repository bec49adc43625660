import fc from 'fast-check';
import type { Delivery } from '../../src/core/types.js';
import type { LinkConfig } from './pair.js';

/**
 * The arbitraries the engine's property tests share (core, encrypted): link impairments,
 * message sizes and delivery modes, and the deterministic message bytes. Each test passes its
 * own bounds; the combinators stay the same, so a seed replays the same cases as before.
 */
export function linkArb(maxLoss: number): fc.Arbitrary<Partial<LinkConfig>> {
  return fc.record({
    delay: fc.integer({ min: 1, max: 50 }),
    jitter: fc.integer({ min: 0, max: 10 }),
    reorderDelay: fc.integer({ min: 1, max: 60 }),
    loss: fc.double({ min: 0, max: maxLoss, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
    reorder: fc.double({ min: 0, max: 0.2, noNaN: true }),
    corrupt: fc.double({ min: 0, max: 0.1, noNaN: true }),
  });
}

/** Mostly small messages, sometimes up to `maxSize` so that fragmentation is exercised. */
export function messageArb(maxSize: number): fc.Arbitrary<{ size: number; fill: number; delivery: Delivery }> {
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 2000 }) },
    { weight: 3, arbitrary: fc.integer({ min: 2000, max: 40_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 40_000, max: maxSize }) },
  );
  return fc.record({
    size,
    fill: fc.integer({ min: 0, max: 255 }),
    delivery: fc.constantFrom<Delivery>('ordered', 'ordered', 'unordered', 'unreliable'),
  });
}

/** The bytes of message `index`: a pattern that differs per message and per position. */
export function bytesOf(size: number, fill: number, index: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (fill + i * 13 + index * 101) & 0xff;
  return m;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
