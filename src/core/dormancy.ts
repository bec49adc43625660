import type { ConnectionParts } from './connection-parts.js';
import { dormantFieldsOf, dormantStagesOn, freezeStages, thawStages, type StageWiring } from './dormant-stages.js';
import { holdsIdleStorage, releaseIdleStorage } from './idle-storage.js';
import { sharedStandIns, type Stages } from './stages.js';
import { COMPACT_AFTER_MS, Sleep } from './state.js';

/**
 * When a quiet connection gives back its idle storage and takes the dormant form, and how it
 * wakes: the connection's `dormant` and `sleep` fields and the decisions on them. What it gives
 * back is idle-storage.ts's, how its stages are recorded and rebuilt dormant-stages.ts's (and
 * dormant.ts's walk); connection.ts calls `wake` before every input and `goDormant` at the end
 * of a pollTransmit that asked for it.
 */

/**
 * When a quiet connection gives back its idle storage (`compactIdle`, state.ts `COMPACT_AFTER_MS`):
 * Infinity while anything ack-eliciting is in flight, an event waits, a probe is due, or once
 * it holds none.
 */
export function compactDeadline(c: ConnectionParts): number {
  const recovery = c.recovery;
  if (recovery.sent.ackElicitingOutstanding !== 0 || recovery.probesDue !== 0 || c.events.length !== 0) return Infinity;
  if (!holdsIdleStorage(c.events, recovery.sent, c.sender, c.receiver) && !mayGoDormant(c)) return Infinity;
  return Math.max(c.lastReceivedAt, recovery.lastSentAt) + COMPACT_AFTER_MS;
}

/**
 * Awake, and may still go dormant: nothing held it back for good, it is open, and nothing is
 * queued (data waiting for the peer's credit keeps it awake: `goDormant` would refuse it at
 * every deadline, which would then be due again at once).
 */
function mayGoDormant(c: ConnectionParts): boolean {
  return dormantStagesOn && c.sleep === Sleep.Awake && c._state === 'open' && !c.closeRequested && c.sender.queuedBytes === 0;
}

/**
 * A quiet connection (idle connections, issue 11) gives back the storage of its empty
 * containers (idle-storage.ts), and asks for the dormant form. Only empty containers are
 * touched, so nothing the protocol does changes; the next send or datagram allocates them
 * again (once: a busy connection never gets here, `COMPACT_AFTER_MS`).
 */
export function compactIdle(c: ConnectionParts): void {
  releaseIdleStorage(c.events, c.recovery.sent, c.sender, c.receiver);
  // Refused last time: the connection was active since (it took idle storage again, or this
  // would not be due), so what held it back may be gone: try again.
  if (c.sleep === Sleep.Refused) c.sleep = Sleep.Awake;
  // The stages too, once the batch of datagrams this timeout sends is over (pollTransmit).
  if (mayGoDormant(c)) c.sleep = Sleep.Wanted;
}

/**
 * The dormant form (dormant.ts): the stages are recorded as what differs from a fresh build,
 * and the stage fields point at shared stand-ins until the next input (`wake`). Only once
 * nothing is due: quiet, nothing in flight, no event, open, the last pollTransmit said null.
 */
export function goDormant(c: ConnectionParts, now: number): void {
  c.sleep = Sleep.Awake;
  const recovery = c.recovery;
  if (c._state !== 'open' || c.closeRequested || c.pendingReset !== null || c.events.length !== 0) return;
  if (recovery.sent.ackElicitingOutstanding !== 0 || recovery.probesDue !== 0 || c.sender.queuedBytes !== 0) return;
  if (now < Math.max(c.lastReceivedAt, recovery.lastSentAt) + COMPACT_AFTER_MS) return;
  // Storage taken again since compactIdle: compacted (and asked again) at the next deadline.
  if (holdsIdleStorage(c.events, recovery.sent, c.sender, c.receiver)) return;
  // The deadlines it keeps while dormant: pollTimeout's, with compactDeadline not due (Sleep.Never).
  c.sleep = Sleep.Never;
  const timeout = c.pollTimeout() ?? Infinity;
  c.sleep = Sleep.Awake;
  const current: Stages = {
    counters: c.counters,
    blocked: c.blocked,
    mtu: c.mtu,
    sender: c.sender,
    recovery,
    receiver: c.receiver,
    acks: c.acks,
    builder: c.builder,
    path: c.path,
  };
  const dormant = freezeStages(wiring(c), current, timeout);
  if (dormant === null) {
    c.sleep = Sleep.Refused;
    return;
  }
  c.dormant = dormant;
  c.useStages(sharedStandIns());
}

/** The stages again, as they were when the connection went dormant. */
export function wake(c: ConnectionParts): void {
  const dormant = c.dormant!;
  c.dormant = null;
  c.useStages(thawStages(wiring(c), dormant));
}

/**
 * A read of a dormant connection (a getter, stats(), inspect()): the stages are built again
 * for it and dropped after, the connection stays dormant (the record is not changed by a read).
 * `read` gets the connection as an argument (it captures nothing: the getters it serves
 * allocate no context on their awake path).
 */
export function peek<C extends ConnectionParts, T>(c: C, read: (c: C) => T): T {
  const dormant = c.dormant!;
  wake(c);
  try {
    return read(c);
  } finally {
    c.dormant = dormant;
    c.useStages(sharedStandIns());
  }
}

/** The fields a dormant connection records, `path = value`; null while awake (ConnectionParts.dormantFields). */
export function dormantFields(c: ConnectionParts): string[] | null {
  const dormant = c.dormant;
  return dormant === null ? null : dormantFieldsOf(wiring(c), dormant);
}

/** What the stages are built with besides their numbers (dormant-stages.ts): for a rebuild, not kept. */
function wiring(c: ConnectionParts): StageWiring {
  return { owner: c, config: c.config, trace: c.trace, events: c.events, remoteCid: c.remoteCid, localMaxDatagram: c.localMaxDatagram };
}
