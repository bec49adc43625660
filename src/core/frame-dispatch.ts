import { DataPacketReader } from '../wire/data-packet-reader.js';
import { expand32 } from '../wire/packet-number.js';
import type { AckFrame, DataFrame, Frame } from '../wire/types.js';
import { maybeFinishClose, maybeQueueClose, onPeerClose } from './close-handshake.js';
import type { ConnectionParts } from './connection-parts.js';
import { ResetCode, resetErrorCode } from './state.js';

/**
 * Where each frame of a datagram the connection reads goes (quic-go's `handleFrame`): DATA,
 * DATA_PART and UNRELIABLE to the Receiver; ACK to LossRecovery, the AckScheduler (our ACKs the
 * peer saw) and the SendScheduler (credit, what a close or flush() waits for); PING and CLOSE to
 * ACK scheduling and the close handshake; RESET to the state machine; PATH_CHALLENGE and
 * PATH_RESPONSE to the PathManager. connection.ts `handleDatagram` reads the packet and calls
 * `handleFrame` once per frame; receive-prediction.ts calls `onDataFrame` for a lone DATA frame,
 * `handleFrame` for each frame of an `[ACK] DATA [PING]` packet.
 */

/**
 * One reader for the datagrams of every connection: a datagram is read to the end, frame by
 * frame, before the next one is opened, and the frame records it hands out are not kept.
 */
export const sharedReader = new DataPacketReader();

export function handleFrame(c: ConnectionParts, now: number, frame: Frame): void {
  // After the close completed only the CLOSE handshake matters (a late datagram of the peer's
  // is not delivered once the application was told the connection is closed).
  if (c._state === 'draining' && frame.type !== 'close' && frame.type !== 'ack') return;
  // DATA, ACK and PING here, the rest in handleOtherFrame: V8 marks a function for TurboFan
  // after 3 + bytecode length / 150 of its own ticks, so the per-frame part alone is compiled
  // (and inlined into its callers) ~1,400 trips sooner (bench/tierup.ts, issue 11).
  if (frame.type === 'data') return onDataFrame(c, now, frame);
  if (frame.type === 'ack') {
    c.resting = false;
    return onAckFrame(c, now, frame);
  }
  // The sender asks for an ACK now: it is probing, or it just sent the last packet it can for
  // the moment and would otherwise wait for our delayed-ACK timer (a ping-pong's every few
  // hundred trips: apart, its own compile job landed at trip ~12,000).
  if (frame.type === 'ping') return c.acks.requestImmediate();
  handleOtherFrame(c, now, frame);
}

function handleOtherFrame(c: ConnectionParts, now: number, frame: Exclude<Frame, { type: 'data' | 'ack' | 'ping' }>): void {
  switch (frame.type) {
    case 'data-part': {
      c.path.peerMidMessage = true;
      const result = c.receiver.onDataPart(frame);
      if (result === 'beyond-window') c.abort(now, ResetCode.FlowControl, 'data beyond the flow-control window');
      else if (result === 'malformed') protocolViolation(c, now, 'DATA_PART pieces disagree, or message framing broken');
      return;
    }
    case 'unreliable':
      c.receiver.onUnreliable(frame);
      return;
    case 'close':
      onPeerClose(c, now);
      return;
    case 'reset':
      c.resting = false;
      c.finish(now, {
        code: resetErrorCode(frame.code),
        message: frame.reason || 'connection reset by peer',
        initiator: 'remote',
      });
      return;
    case 'path-challenge':
      c.resting = false;
      c.path.onChallengeFrame(frame.data);
      return;
    case 'path-response':
      c.resting = false;
      c.path.onResponseFrame(now, frame.data);
      return;
  }
}

/** A DATA frame, its payload in place in the datagram the shared reader opened (`nextInPlace`). */
export function onDataFrame(c: ConnectionParts, now: number, frame: DataFrame): void {
  c.path.peerMidMessage = !frame.last;
  const reader = sharedReader;
  const result = c.receiver.onData(frame, reader.datagram, reader.dataStart, reader.dataLength);
  // Beyond the credit we granted (it never shrinks): only a broken or hostile sender does
  // that. Dropping the data while acknowledging its packet would lose it, so abort.
  if (result === 'beyond-window') c.abort(now, ResetCode.FlowControl, 'data beyond the flow-control window');
  else if (result === 'malformed') protocolViolation(c, now, 'message framing broken (or longer than maxMessageSize)');
}

function onAckFrame(c: ConnectionParts, now: number, frame: AckFrame): void {
  const violation = c.recovery.onAck(now, frame);
  if (violation !== null) {
    protocolViolation(c, now, violation);
    return;
  }
  // Our packets in its first range certainly arrived: an ACK we sent in one of them was seen.
  const largest = expand32(frame.largest, c.recovery.packetNumbers.largestSent + 1);
  c.acks.onOwnPacketsAcked(largest - frame.firstRange, largest);
  // The ACK also carries the peer's flow-control credit.
  if (c.sender.onPeerCredit(frame.maxTsn)) c.recovery.onCreditRaised();
  // Also when the ACK only confirmed packets already declared lost: their content (a CLOSE,
  // the last fragments) may have been what the close or a flush() mark waited for. The close
  // steps only once close() was called or the connection is closing (each does nothing
  // otherwise): out of line, so that the per-ACK code compiled does not carry them.
  if (c.closeRequested || c._state === 'closing') closeSteps(c, now);
  c.sender.checkFlushed();
}

/** onAckFrame's close steps (close-handshake.ts), while a close is under way. */
function closeSteps(c: ConnectionParts, now: number): void {
  maybeQueueClose(c);
  maybeFinishClose(c, now);
}


function protocolViolation(c: ConnectionParts, now: number, reason: string): void {
  c.abort(now, ResetCode.ProtocolViolation, reason);
}
