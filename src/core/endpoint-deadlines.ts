import type { EndpointParts } from './endpoint-parts.js';

/**
 * The endpoint's deadlines beside the heap itself (endpoint-timers.ts): the connections settled
 * since the heap was last read move to their engines' deadlines (`refreshDeadlines`, before
 * every read: pollTimeout, handleTimeout), and the housekeeping entry follows the retired IDs'
 * next expiry (`pruneRetired`). What is due is dispatched by EndpointCore.handleTimeout.
 */

/** Move the connections settled since the heap was last read to their engines' deadlines. */
export function refreshDeadlines(e: EndpointParts): void {
  const stale = e.staleDeadlines;
  while (stale.length > 0) {
    const c = stale.pop()!;
    if (c.closed) continue;
    let deadline: number | null = null;
    try {
      deadline = c.core.pollTimeout();
    } catch {
      e.drop('internal-error');
    }
    e.heap.set(c, deadline);
  }
}

/** Retired IDs past their lifetime go; the housekeeping entry moves to the next expiry (none: out of the heap). */
export function pruneRetired(e: EndpointParts, now: number): void {
  const next = e.retired.prune(now);
  if (next !== undefined) e.heap.set(e.housekeeping, next);
  else e.heap.remove(e.housekeeping);
}
