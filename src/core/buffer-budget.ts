/**
 * One byte budget shared by every connection of an endpoint, so that many connections cannot
 * each hold a full receive window (1,000 connections × 4 MiB). Connections report the bytes
 * their peers' data holds (`ConnectionCore.retainedBytes`) and ask before taking a packet that
 * carries data.
 *
 * Rule, with `limit` L and N connections: a packet is admitted while the total stays within
 * L/2 (first come, first served), and beyond that only for a connection that stays within its
 * fair share L/N, and never past L. So the total never exceeds L (plus the estimate error of
 * one packet per connection), the first half goes to whoever needs it, and the second half is
 * shared fairly. A packet that is not admitted is not processed and not acknowledged: its
 * sender retransmits it later, nothing is lost.
 */
export class BufferBudget {
  /** Bytes all connections hold now. */
  used = 0;
  /** Connections sharing the budget. */
  connections = 0;
  /** Packets left unacknowledged because the budget was full (all connections). */
  deferred = 0;

  constructor(readonly limit: number) {}

  /** May a connection that holds `held` bytes take a packet that may add `bytes`? */
  admits(held: number, bytes: number): boolean {
    const after = this.used + bytes;
    if (after <= this.limit / 2) return true;
    return after <= this.limit && held + bytes <= this.limit / Math.max(1, this.connections);
  }
}
