import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeadlineHeap, type TimerEntry } from '../../src/core/endpoint-timers.js';

interface Item extends TimerEntry {
  id: number;
}

describe('DeadlineHeap', () => {
  it('matches a naive model under random set/remove/pop sequences', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 19 }), fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(null)), fc.boolean()),
          { maxLength: 300 },
        ),
        (ops) => {
          const heap = new DeadlineHeap<Item>();
          const items: Item[] = Array.from({ length: 20 }, (_, id) => ({ id, heapIndex: -1, heapDeadline: 0 }));
          const model = new Map<number, number>();
          for (const [id, deadline, pop] of ops) {
            if (pop) {
              const top = heap.peek();
              if (model.size === 0) {
                expect(top).toBeUndefined();
                continue;
              }
              const min = Math.min(...model.values());
              expect(top!.heapDeadline).toBe(min);
              expect(model.get(top!.id)).toBe(min);
              heap.remove(top!);
              model.delete(top!.id);
            } else {
              heap.set(items[id]!, deadline);
              if (deadline === null) model.delete(id);
              else model.set(id, deadline);
            }
            expect(heap.size).toBe(model.size);
          }
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('moving a deadline does not grow the heap', () => {
    const heap = new DeadlineHeap<Item>();
    const a: Item = { id: 1, heapIndex: -1, heapDeadline: 0 };
    for (let i = 0; i < 1000; i++) heap.set(a, 1000 - i);
    expect(heap.size).toBe(1);
    expect(heap.peek()?.heapDeadline).toBe(1);
  });

  it('a parked entry stays in the heap without a deadline: earliest() ignores it, set() moves it back, scheduled() says no', () => {
    const heap = new DeadlineHeap<Item>();
    const a: Item = { id: 1, heapIndex: -1, heapDeadline: 0 };
    const b: Item = { id: 2, heapIndex: -1, heapDeadline: 0 };
    heap.set(a, 10);
    heap.set(b, 20);
    expect(heap.earliest()).toBe(10);
    heap.park(a);
    expect(heap.size).toBe(2);
    expect(heap.scheduled(a)).toBe(false);
    expect(heap.scheduled(b)).toBe(true);
    expect(heap.earliest()).toBe(20);
    heap.park(b);
    // Only parked entries: nothing is due, ever.
    expect(heap.earliest()).toBeNull();
    // Rescheduling a parked entry moves it (no second copy).
    heap.set(a, 5);
    expect(heap.size).toBe(2);
    expect(heap.earliest()).toBe(5);
    expect(heap.scheduled(a)).toBe(true);
    heap.remove(b);
    heap.remove(a);
    expect(heap.earliest()).toBeNull();
    expect(heap.scheduled(a)).toBe(false);
  });
});
