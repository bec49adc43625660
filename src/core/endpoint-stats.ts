import type { BufferBudget } from './buffer-budget.js';
import type { EndpointConnection } from './endpoint-connection.js';
import { DROP_REASONS, type DropReason, type EndpointStats } from './endpoint-types.js';

/**
 * The endpoint's counters (what it received, sent, refused, accepted and closed, and what it
 * dropped by reason) and the stats() snapshot made of them and its tables. The endpoint and
 * its carved modules count into the records made here; EndpointStats (endpoint-types.ts) says
 * what each count means.
 */

/** The counts the endpoint keeps itself; the rest of EndpointStats is read off its tables (`endpointStats`). */
export type EndpointCounters = Omit<
  EndpointStats,
  'connections' | 'drainingConnections' | 'pendingConnects' | 'dropped' | 'droppedTotal' | 'bufferedBytes' | 'packetsDeferred'
>;

export function newCounters(): EndpointCounters {
  return {
    datagramsReceived: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    bytesSent: 0,
    handshakeDatagramsSent: 0,
    handshakeBytesSent: 0,
    retriesSent: 0,
    acceptsSent: 0,
    versionNegotiationsSent: 0,
    statelessResetsSent: 0,
    refused: 0,
    connectionsAccepted: 0,
    connectionsConnected: 0,
    connectionsClosed: 0,
  };
}

/** Datagrams dropped, by reason: every reason at 0. */
export function newDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

/** The stats() snapshot: the counts, and what the tables and the budget hold now. */
export function endpointStats(
  connections: { readonly size: number } & Iterable<EndpointConnection>,
  pendingConnects: number,
  counters: EndpointCounters,
  dropped: Record<DropReason, number>,
  budget: BufferBudget,
): EndpointStats {
  let droppedTotal = 0;
  for (const r of DROP_REASONS) droppedTotal += dropped[r];
  let draining = 0;
  for (const c of connections) if (c.core.state === 'draining') draining++;
  return {
    connections: connections.size - draining,
    drainingConnections: draining,
    pendingConnects,
    ...counters,
    dropped: { ...dropped },
    droppedTotal,
    bufferedBytes: budget.used,
    packetsDeferred: budget.deferred,
  };
}
