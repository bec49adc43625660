/**
 * A FIFO queue on a ring buffer. Arrays used as queues (`push` + head index, `length = 0` when
 * empty) give their storage back every time they empty and allocate it again on the next push:
 * per-packet garbage on the hot path. This one keeps its capacity (it only grows, by doubling).
 */
/**
 * The storage of every Deque before its first push (never written). Its elements kind is the one a grown Deque's storage has (holey, any value: `new Array(n)` once an
 * object is stored), so `push` sees one array shape; an empty literal (`[]`, packed small
 * integers) would be another, and the first push to an empty queue deoptimised `push` and every
 * function it was inlined into.
 */
const NO_ITEMS: readonly unknown[] = emptyHoleyArray<unknown>();

/**
 * An empty array with the elements kind of grown storage (holey, any value: `new Array(n)` once
 * an object is stored), for a shared "no storage yet" sentinel that is never written: going
 * from it to grown storage, or back, is then no new map for code compiled on it.
 */
export function emptyHoleyArray<T>(): T[] {
  const a = new Array<T>(1);
  a[0] = undefined as T;
  a.length = 0;
  return a;
}

/**
 * Storage grown past this (a burst: a bulk upload's queue, a loss episode's retransmissions) is
 * given back when the Deque empties; smaller storage is kept, so that a flow which empties its
 * queues every round trip or every batch allocates nothing, and a Deque that fills past this
 * again pays at most ~16 bytes of regrowth per item it held.
 */
const KEEP_CAPACITY = 1024;

export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  /**
   * No storage until the first push (idle connections stay small, most never retransmit); then
   * `capacity` slots (0: 8), doubled whenever full. A connection's own queues start at one slot:
   * a request/response flow never holds more, and a bulk one grows them once.
   */
  constructor(private readonly capacity = 8) {
    this.items = NO_ITEMS as (T | undefined)[];
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
    const items = this.items;
    const n = items.length;
    const item = items[this.head];
    items[this.head] = undefined;
    this.head = (this.head + 1) % n;
    // The size compared on every call, not only when the queue empties: the first time a queue
    // runs dry after this was compiled (a bulk sender's send queue, its events) then finds it
    // with type feedback instead of deoptimising `shift` where it is inlined (issue 11).
    const large = n > KEEP_CAPACITY;
    if (--this.count === 0 && large) this.dropStorage();
    return item;
  }

  /** The i-th item from the oldest (0 ≤ i < length). */
  at(i: number): T {
    return this.items[(this.head + i) % this.items.length]!;
  }

  /** Take out the i-th item from the oldest (0 ≤ i < length; rare paths only: O(length)). */
  removeAt(i: number): T {
    const items = this.items;
    const n = items.length;
    const item = items[(this.head + i) % n]!;
    for (let k = i; k < this.count - 1; k++) items[(this.head + k) % n] = items[(this.head + k + 1) % n];
    items[(this.head + this.count - 1) % n] = undefined;
    if (--this.count === 0 && n > KEEP_CAPACITY) this.dropStorage();
    return item;
  }

  /** Slots of storage of its own (0: none yet, or given back). */
  get allocated(): number {
    return this.items.length;
  }

  /**
   * Give the storage back if empty (a connection gone quiet, dormancy.ts `compactIdle`): the
   * next push allocates the first capacity again. Not for the hot path (a queue that empties
   * every round trip would allocate every round trip).
   */
  releaseIfEmpty(): void {
    if (this.count === 0 && this.items.length > 0) this.dropStorage();
  }

  /** Empty, after a burst: back to no storage (the next push allocates the first capacity again). */
  private dropStorage(): void {
    this.items = NO_ITEMS as (T | undefined)[];
    this.head = 0;
  }

  /** Reorder the items (rare paths only: it allocates). */
  sort(compare: (a: T, b: T) => number): void {
    const all: T[] = [];
    while (this.count > 0) all.push(this.shift()!);
    all.sort(compare);
    for (const item of all) this.push(item);
  }

  private grow(): void {
    if (this.capacity < 0) throw new Error('the shared empty Deque is never written: push to a Deque of its own');
    const old = this.items;
    const next = new Array<T | undefined>(old.length > 0 ? old.length * 2 : this.capacity > 0 ? this.capacity : 8);
    // The elements kind of every storage (NO_ITEMS's: holey, any value) from the start, also
    // when nothing is copied: `new Array(n)` is holey small integers, and the push that stored
    // the first object would change its map under optimised code (a one-slot first storage
    // grows from empty more often).
    next[0] = undefined;
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.items = next;
    this.head = 0;
  }
}

/** Capacity -1 marks the shared empty Deque (grow() refuses it). */
const EMPTY_DEQUE = new Deque<never>(-1);

/**
 * A Deque that is always empty, shared: a field may hold it until its first push (reads work
 * as on any empty Deque), when an `ensure…()` at the push site gives the field a Deque of its
 * own. The field's type never changes, so the reads stay monomorphic. Pushing to it throws.
 */
export function emptyDeque<T>(): Deque<T> {
  return EMPTY_DEQUE as Deque<T>;
}
