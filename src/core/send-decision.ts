import { SendBlock } from './blocked-time.js';
import { maybeQueueClose } from './close-handshake.js';
import type { ConnectionParts } from './connection-parts.js';

/**
 * What goes into a connection's next datagram, in order: a pending RESET; path frames
 * (PATH_CHALLENGE / PATH_RESPONSE, each alone: path-manager.ts); a draining connection's ACK; a
 * path-MTU probe when due and allowed; else what the window, the pacer and the sender allow
 * (new data, retransmissions, CLOSE: SendScheduler) with the ACK when one is due, built by
 * PacketBuilder. It also says when the send side is at rest (`ConnectionParts.resting`) and when
 * an ACK waits for the end of a batch (`ackDeferred`). connection.ts's `pollTransmit` calls it
 * unless the send side is at rest and the ACK state alone decides.
 */

/**
 * The full decision, with the ACK state `pollTransmit` read (`ackDue`, `batchMayWait`:
 * nothing before their use here changes it). What the send side has and what holds it back
 * are one reading each (`SendScheduler.sendable`, `LossRecovery.sendBlock`) that runs the same
 * code whether or not anything is queued: the first time the queue runs dry after this was
 * compiled (a bulk sender whose application is late with its next write; the end of every
 * transfer) deoptimises nothing (issue 11; test/core/queue-dry-deopts.test.ts).
 */
export function nextDatagram(c: ConnectionParts, now: number, batch: boolean, ackDue: boolean, batchMayWait: boolean): Uint8Array | null {
  c.resting = false;
  if (c.pendingReset) {
    const reset = c.pendingReset;
    c.pendingReset = null;
    return c.builder.buildReset(now, reset.code, reset.reason);
  }
  if (c._state === 'closed') return null;
  // Path frames first (PATH_CHALLENGE / PATH_RESPONSE, each alone; path-manager.ts).
  const pathDatagram = c.path.nextDatagram(now, c._state);
  if (pathDatagram !== null) return pathDatagram;
  c.recovery.pacingDeadline = Infinity; // armed again below if the pacer makes us wait
  maybeQueueClose(c);

  if (c._state === 'draining') {
    return ackDue ? c.builder.build(now, true, false) : null;
  }
  const probe = c.recovery.probesDue > 0;
  const open = c._state === 'open';
  let mtuProbe = 0;
  if (!probe && open) {
    // Path-MTU probes go first when due and the window and pacer allow (they carry no data).
    mtuProbe = c.mtu.probeSize();
    if (mtuProbe > 0 && c.recovery.probeAllowed(now, mtuProbe)) {
      c.mtu.takeProbe();
      return c.builder.buildProbe(now, mtuProbe);
    }
  }
  // What the sender has (None: data to send; FlowControl, Application: nothing it may send).
  const queued = c.sender.sendable();
  // Nothing but an ACK can come of the next polls while no input changes the send side (`resting`).
  const rest = open && !probe && mtuProbe === 0 && queued !== SendBlock.None;
  // What holds new data back, if anything (probes go out regardless): also timed, for stats().
  const block = c.recovery.sendBlock(now, queued, probe);
  c.blocked.set(now, block);
  const mayAddData = block === SendBlock.None;
  if (!mayAddData && !ackDue) {
    c.resting = rest;
    return null;
  }
  // An ACK due by count in the middle of a batch waits for the batch's end first: by then the
  // application has had its turn with the batch's messages (a reply from a 'message' handler
  // or the code awaiting it leaves with the ACK), so holding it for a reply as well would only
  // add a timer due now and a second flush per ACK (a bulk receiver's every ACK: issue 11).
  const defer = !mayAddData && batch && batchMayWait;
  c.ackDeferred = defer;
  if (defer) {
    c.resting = rest;
    return null;
  }
  if (!mayAddData && c.acks.holdForReply(now, c.events)) return null;
  return c.builder.build(now, ackDue, mayAddData);
}
