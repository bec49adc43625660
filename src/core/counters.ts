import { unpinFields } from './mutable-fields.js';

/**
 * The per-connection counters that `ConnectionCore.stats()` reports. One plain object per
 * connection, shared by the modules that count (receive side, send scheduler, packet builder,
 * loss recovery), so that counting costs a field increment and nothing else.
 */
export function createCounters() {
  const counters = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsRetransmitted: 0,
    packetsLost: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesRetransmitted: 0,
    bytesRedundant: 0,
    duplicatesDropped: 0,
    checksumFailures: 0,
    malformedDropped: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesDelivered: 0,
    ptoCount: 0,
    unreliableExpired: 0,
    packetsDeferred: 0,
    packetsFromUnvalidatedPath: 0,
  };
  // Most counters move only on rare events (a loss, a duplicate, a PTO): mutable from the start,
  // so that the first such event deoptimises nothing (mutable-fields.ts).
  return unpinFields(counters, Object.keys(counters));
}

export type Counters = ReturnType<typeof createCounters>;
