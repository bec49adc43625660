/**
 * An indexed binary min-heap of deadlines: the endpoint's one timer for thousands of connections.
 * Each entry remembers its own position, so moving a deadline is O(log n) and no stale entries
 * pile up (a lazy-deletion heap would grow by one entry per packet).
 */
export interface TimerEntry {
  /** Position in the heap, -1 when not scheduled. Owned by {@link DeadlineHeap}. */
  heapIndex: number;
  /** The scheduled deadline (valid while heapIndex >= 0). */
  heapDeadline: number;
}

export class DeadlineHeap<T extends TimerEntry> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Earliest entry, or undefined. */
  peek(): T | undefined {
    return this.items[0];
  }

  /**
   * Earliest deadline, or null when nothing is scheduled (no entry, or only parked ones).
   */
  earliest(): number | null {
    const top = this.items[0];
    return top === undefined || top.heapDeadline === Infinity ? null : top.heapDeadline;
  }

  /**
   * Keep `entry` (scheduled) in the heap without a deadline, for an entry that is about to be
   * rescheduled (a timer that just fired): `set()` then moves it, instead of a removal and an
   * insertion. Besides saving the two, this keeps `set()`'s insertion path cold: code that only
   * ever moved entries while it was being optimised is not deoptimised the first time a timer
   * fires. A parked entry counts as unscheduled for {@link scheduled}.
   */
  park(entry: T): void {
    this.set(entry, Infinity);
  }

  /** Has `entry` a deadline (scheduled and not parked)? */
  scheduled(entry: T): boolean {
    return entry.heapIndex >= 0 && entry.heapDeadline !== Infinity;
  }

  /** Schedule, move or (with null) unschedule `entry`. */
  set(entry: T, deadline: number | null): void {
    if (deadline === null) {
      this.remove(entry);
      return;
    }
    if (entry.heapIndex < 0) {
      entry.heapDeadline = deadline;
      entry.heapIndex = this.items.length;
      this.items.push(entry);
      this.up(entry.heapIndex);
      return;
    }
    const old = entry.heapDeadline;
    entry.heapDeadline = deadline;
    if (deadline < old) this.up(entry.heapIndex);
    else if (deadline > old) this.down(entry.heapIndex);
  }

  remove(entry: T): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    const last = this.items.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.heapDeadline <= item.heapDeadline) break;
      items[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.heapDeadline < items[left]!.heapDeadline ? right : left;
      const c = items[child]!;
      if (c.heapDeadline >= item.heapDeadline) break;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
