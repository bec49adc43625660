import type { BlockedTime } from './blocked-time.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import { idleStorageOf } from './idle-storage.js';
import type { LossRecovery } from './loss-recovery.js';
import type { PathManager } from './path-manager.js';
import type { PathMtu } from './path-mtu.js';
import type { Receiver } from './receiver.js';
import type { SendScheduler } from './send-scheduler.js';
import type { ConnectionStats, CoreEvent } from './types.js';

/**
 * Snapshots of one connection's stages, read on demand (never on a datagram's path):
 * `ConnectionCore.stats()` for the application (docs/stats.md) and `ConnectionCore.inspect()`
 * for the property tests. A dormant connection builds its stages again for the read (dormancy.ts `peek`).
 */

/** Internal counters the property tests check at every step (`ConnectionCore.inspect()`). */
export interface ConnectionInspection {
  bytesInFlight: number;
  cwnd: number;
  maxDatagram: number;
  receiveBuffered: number;
  advertisedWindow: number;
  largestSentPn: number;
  probesDue: number;
  unackedFragments: number;
  pacingRate: number;
  retainedBytes: number;
  /** What `retainedBytes` may reach: the receive window + 64 KiB for reliable data (+ 16 KiB per further channel holding an unfinished message), plus the unreliable budget. */
  retainedLimit: number;
  /**
   * What a quiet connection gives back (`compactIdle`): send queues of its own (not the shared
   * empty Deque), and slots of storage held by them, the event queue and the sent-packet history.
   */
  idleStorage: { queues: number; slots: number };
}

/**
 * Counters and estimates (`ConnectionCore.stats`). `closeWithoutBackoff`: the PTO in force has no
 * backoff (our CLOSE after the peer's). With `now`, the time-blocked totals include the current
 * interval; without it they run to the sender's last change of state.
 */
export function connectionStats(
  recovery: LossRecovery,
  mtu: PathMtu,
  path: PathManager,
  counters: Counters,
  receiver: Receiver,
  blocked: BlockedTime,
  closeWithoutBackoff: boolean,
  now: number | undefined,
): ConnectionStats {
  const cc = recovery.cc;
  const rtt = recovery.rtt;
  return {
    srtt: rtt.smoothed,
    rttvar: rtt.variance,
    minRtt: rtt.min === Infinity ? 0 : rtt.min,
    latestRtt: rtt.latest,
    pto: recovery.currentPto(closeWithoutBackoff),
    cwnd: cc.window,
    bytesInFlight: recovery.bytesInFlight,
    congestionController: cc.name,
    pathMtu: mtu.current,
    pathMtuChanges: mtu.changes,
    mtuProbesSent: mtu.probesSent,
    mtuProbesLost: mtu.probesLost,
    blackHolesDetected: mtu.blackHoles,
    pathChanges: path.validator?.changes ?? 0,
    pathValidationsFailed: path.validator?.validationsFailed ?? 0,
    pathChallengesSent: path.validator?.challengesSent ?? 0,
    ...counters,
    unreliableDropped: receiver.unreliableDropped(),
    retainedBytes: receiver.retainedBytes,
    pacingRate: recovery.pacingRate() * 1000,
    ...blocked.read(now),
  };
}

/** The property tests' view (`ConnectionCore.inspect()`); `maxUnreliableReassembly` from the connection's config. */
export function connectionInspection(
  recovery: LossRecovery,
  sender: SendScheduler,
  mtu: PathMtu,
  receiver: Receiver,
  events: Deque<CoreEvent>,
  maxUnreliableReassembly: number,
): ConnectionInspection {
  return {
    pacingRate: recovery.pacingRate(),
    unackedFragments: sender.unackedFragments,
    probesDue: recovery.probesDue,
    bytesInFlight: recovery.bytesInFlight,
    cwnd: recovery.cc.window,
    maxDatagram: mtu.current,
    receiveBuffered: receiver.bufferedCount,
    advertisedWindow: receiver.advertisedWindow,
    largestSentPn: recovery.packetNumbers.largestSent,
    retainedBytes: receiver.retainedBytes,
    retainedLimit: receiver.retainedLimit + maxUnreliableReassembly,
    idleStorage: idleStorageOf(events, recovery.sent, sender),
  };
}
