import { PING } from '../wire/data-packet-reader.js';
import { verifyChecksum } from '../wire/packet.js';
import type { ConnectionParts } from './connection-parts.js';
import { handleFrame, onDataFrame, sharedReader } from './frame-dispatch.js';
import { PathKind } from './path-validation.js';
import { budgetRefuses, defer, syncBudget } from './receive-budget.js';
import { OBJECT_OVERHEAD } from './retention.js';

/**
 * Receive-side header prediction: the one packet shape a bulk receiver nearly always gets,
 * read without the general path's frame walk (`readPredicted`), and the switch that turns it
 * off for the test and the benchmark that compare both paths (`setReceivePrediction`).
 * connection.ts `handleDatagram` tries it first and reads the datagram the general way when it
 * says false.
 */

/**
 * Header prediction on the receive path (`readPredicted`); off only in the test that compares
 * both paths. Read by connection.ts as a live binding (a variable read, as when it lived there).
 */
export let predictReceive = true;

/**
 * For test/core/header-prediction.test.ts and bench/recv-predict.ts only (not exported by the
 * package): switch the receive path's header prediction off, to compare what the general path
 * does with the same traffic.
 */
export function setReceivePrediction(on: boolean): void {
  predictReceive = on;
}

/**
 * Header prediction (Van Jacobson's for TCP, RFC 1323-era BSD): the packet a bulk receiver
 * gets nearly always — plaintext, the packet number right after the largest received, from the
 * current path, one DATA frame on channel 0 filling it (DataPacketReader.predictData), on an
 * open connection without a trace — and a request/response flow's `[ACK] DATA [PING]`
 * (DataPacketReader.predictAckData, its frames through `handleFrame` in wire order) read by this
 * straight path: the same steps as the general one (connection.ts `handleDatagram`) in the same
 * order, minus the frame walk and the range search.
 * False: not that packet, nothing changed; the caller reads it the general way (a bad CRC
 * included, which `open` then counts). test/core/header-prediction.test.ts drives seeded lossy
 * traffic through both paths and requires the same datagrams, events and stats.
 */
export function readPredicted(c: ConnectionParts, now: number, datagram: Uint8Array, address: string | undefined, port: number): boolean {
  if (c._state !== 'open' || c.trace !== null || c.awaitingFirstPacket) return false;
  const packet = sharedReader;
  let frame = packet.predictData(datagram);
  let general = false;
  if (frame === null) {
    frame = packet.predictAckData(datagram);
    general = true;
  }
  if (frame === null || packet.dcidHi !== c.localCidHi || packet.dcidLo !== c.localCidLo) return false;
  const path = c.path;
  if (address !== undefined && path.classify(address, port) !== PathKind.Current) return false;
  if (!c.acks.isNext(packet.packetNumber) || !verifyChecksum(datagram)) return false;
  path.arrival = PathKind.Current;
  // New (isNext) and with one DATA frame: overBudget's question without its duplicate search.
  if (c.budget !== null && budgetRefuses(c, datagram.length + OBJECT_OVERHEAD)) {
    defer(c, now, datagram.length);
    return true;
  }
  c.acks.onNextPacket(now);
  c.counters.packetsReceived++;
  c.counters.bytesReceived += datagram.length;
  path.onPacketRead(now, PathKind.Current);
  c.lastReceivedAt = now;
  if (general) {
    // The general walk's frames in wire order, through the same dispatch and the same checks
    // after each (handleFrame: the ACK may end a close, a draining connection then ignores the
    // rest).
    if (packet.predictedAck) {
      handleFrame(c, now, packet.ackFrame);
      if (c.isClosed()) return true;
    }
    handleFrame(c, now, frame);
    if (c.isClosed()) return true;
    if (packet.predictedPing) {
      handleFrame(c, now, PING);
      if (c.isClosed()) return true;
    }
  } else {
    onDataFrame(c, now, frame);
    if (c.isClosed()) return true;
  }
  c.acks.onAckElicitingPacket(now);
  if (c.budget !== null) syncBudget(c);
  return true;
}
