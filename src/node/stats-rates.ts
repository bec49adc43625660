import type { ConnectionStats } from '../core/types.js';

/** The two figures a user reads first, derived from this side's counters. */
export function connectionRates(stats: ConnectionStats): { lossRate: number; retransmissionRate: number } {
  const sent = stats.packetsSent;
  return {
    lossRate: sent > 0 ? stats.packetsLost / sent : 0,
    retransmissionRate: sent > 0 ? stats.packetsRetransmitted / sent : 0,
  };
}
