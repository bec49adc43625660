/**
 * A FIFO queue on a ring buffer. Arrays used as queues (`push` + head index, `length = 0` when
 * empty) give their storage back every time they empty and allocate it again on the next push:
 * per-packet garbage on the hot path. This one keeps its capacity (it only grows, by doubling).
 */
/**
 * The storage of every Deque created with capacity 0 before its first push (never written). Its
 * elements kind is the one a grown Deque's storage has (holey, any value: `new Array(n)` once an
 * object is stored), so `push` sees one array shape; an empty literal (`[]`, packed small
 * integers) would be another, and the first push to an empty queue deoptimised `push` and every
 * function it was inlined into.
 */
const NO_ITEMS: readonly unknown[] = (() => {
  const a = new Array<unknown>(1);
  a[0] = undefined;
  a.length = 0;
  return a;
})();

export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  /** `capacity` 0: no storage until the first push (most connections never retransmit). */
  constructor(private readonly capacity = 8) {
    this.items = capacity === 0 ? (NO_ITEMS as (T | undefined)[]) : new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** The i-th item from the oldest (0 ≤ i < length). */
  at(i: number): T {
    return this.items[(this.head + i) % this.items.length]!;
  }

  /** Reorder the items (rare paths only: it allocates). */
  sort(compare: (a: T, b: T) => number): void {
    const all: T[] = [];
    while (this.count > 0) all.push(this.shift()!);
    all.sort(compare);
    for (const item of all) this.push(item);
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<T | undefined>(Math.max(old.length * 2, this.capacity, 8));
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.items = next;
    this.head = 0;
  }
}
