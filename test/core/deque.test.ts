import { describe, expect, it } from 'vitest';
import { Deque, emptyDeque } from '../../src/core/deque.js';

const storage = (d: Deque<number>): number => (d as unknown as { items: unknown[] }).items.length;
const contents = (d: Deque<number>): number[] => Array.from({ length: d.length }, (_, i) => d.at(i));

describe('Deque', () => {
  it('has no storage until the first push, then its first capacity, doubled when full', () => {
    const d = new Deque<number>(2);
    expect(storage(d)).toBe(0);
    d.push(1);
    expect(storage(d)).toBe(2);
    d.push(2);
    d.push(3);
    expect(storage(d)).toBe(4);
    expect(contents(d)).toEqual([1, 2, 3]);
    expect(storage(withPush(new Deque<number>(0)))).toBe(8);
  });

  it('removeAt takes out any item, also across the ring boundary, keeping the order', () => {
    const d = new Deque<number>(4);
    for (const x of [0, 1, 2, 3]) d.push(x);
    d.shift();
    d.shift();
    d.push(4);
    d.push(5); // the ring wrapped: storage [4, 5, 2, 3], head at 2
    expect(contents(d)).toEqual([2, 3, 4, 5]);
    expect(d.removeAt(1)).toBe(3);
    expect(contents(d)).toEqual([2, 4, 5]);
    expect(d.removeAt(2)).toBe(5);
    expect(d.removeAt(0)).toBe(2);
    expect(contents(d)).toEqual([4]);
    d.push(6);
    d.push(7);
    expect(contents(d)).toEqual([4, 6, 7]);
    expect(d.shift()).toBe(4);
  });

  it('gives storage grown for a burst back once empty, keeps small storage (no allocation per round trip)', () => {
    const burst = new Deque<number>(4);
    for (let i = 0; i < 1500; i++) burst.push(i);
    expect(storage(burst)).toBe(2048);
    for (let i = 0; i < 1499; i++) burst.shift();
    expect(storage(burst)).toBe(2048);
    expect(burst.shift()).toBe(1499);
    expect(storage(burst)).toBe(0);
    burst.push(7);
    expect(storage(burst)).toBe(4);
    expect(contents(burst)).toEqual([7]);
    const small = new Deque<number>(4);
    for (let i = 0; i < 1000; i++) small.push(i);
    for (let i = 0; i < 1000; i++) small.shift();
    expect(storage(small)).toBe(1024);
  });

  it('the shared empty Deque reads as empty and refuses a push', () => {
    const e = emptyDeque<number>();
    expect(e).toBe(emptyDeque<string>());
    expect(e.length).toBe(0);
    expect(e.peek()).toBeUndefined();
    expect(e.shift()).toBeUndefined();
    e.sort((a, b) => a - b);
    expect(() => e.push(1)).toThrow(/never written/);
    expect(e.length).toBe(0);
  });
});

function withPush(d: Deque<number>): Deque<number> {
  d.push(0);
  return d;
}
