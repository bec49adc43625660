import type { ConnectionParts } from './connection-parts.js';
import { OBJECT_OVERHEAD } from './retention.js';

/**
 * One connection's side of the endpoint's receive budget (buffer-budget.ts, shared by all its
 * connections): whether a packet with data may be read (`overBudget`, `budgetRefuses`), what
 * happens to one that may not (`defer`), and telling the budget what the connection holds now
 * (`syncBudget`, the connection's `budgetReported`). Called by connection.ts and
 * receive-prediction.ts only when the connection has a budget.
 */

/** A packet with data the endpoint's budget has no room for (BufferBudget). */
export function overBudget(c: ConnectionParts, dataFrames: number, size: number, truncatedPn: number): boolean {
  if (dataFrames === 0 || c.acks.isDuplicate(truncatedPn)) return false;
  return budgetRefuses(c, size + dataFrames * OBJECT_OVERHEAD);
}

/** The budget has no room for a new packet that may add `bytes` (`overBudget` once the packet is known new and to carry data). */
export function budgetRefuses(c: ConnectionParts, bytes: number): boolean {
  // The common case (an endpoint far from its budget) without the receiver's getters, which
  // walk its buffers (`releasable`, `retainedLimit`): once per received packet with data.
  if (c.budget!.admitsWithinHalf(bytes, c)) return false;
  const receiver = c.receiver;
  const stuck = receiver.releasable === 0;
  return !c.budget!.admits(c.budgetReported, bytes, c, stuck, receiver.retainedLimit);
}

/**
 * A packet with data the endpoint's budget has no room for: not processed, not acknowledged
 * (the peer retransmits the data once the budget has room). The peer is alive, though: its
 * retransmissions must not let the connection idle out.
 */
export function defer(c: ConnectionParts, now: number, size: number): void {
  c.counters.packetsDeferred++;
  c.budget!.deferred++;
  if (c.trace !== null) c.trace.packetDropped(now, size, 'deferred');
  c.lastReceivedAt = now;
}

/** Tell the endpoint's budget what this connection holds now (nothing once closed). */
export function syncBudget(c: ConnectionParts): void {
  const budget = c.budget!;
  const held = c._state === 'closed' ? 0 : c.receiver.retainedBytes;
  if (held === 0) budget.progressed(c);
  budget.used += held - c.budgetReported;
  c.budgetReported = held;
}
