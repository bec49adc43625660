import { rdError } from '../errors.js';
import { ackFrameSize, unreliableHeaderSize, writeAckFrame, writeDataFrameHeader, writeUnreliableFrameHeader } from '../wire/frames.js';
import { decodePacket, seal, writeDataHeader } from '../wire/packet.js';
import { expand32, truncate32 } from '../wire/packet-number.js';
import {
  CHECKSUM_SIZE,
  DATA_FRAME_HEADER_SIZE,
  DATA_HEADER_SIZE,
  DATA_OVERHEAD,
  DataFlag,
  FrameType,
  type AckFrame,
  type ConnectionId,
  type Frame,
  type TransportParams,
} from '../wire/types.js';
import { announcedMaxMessageSize, announcedWindow, resolveCoreConfig } from './config.js';
import type { BufferBudget } from './buffer-budget.js';
import { createCongestionController } from './congestion/index.js';
import { Deque } from './deque.js';
import { Pacer } from './pacer.js';
import { sharedSlab } from './slab.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { chargeOf, detach, OBJECT_OVERHEAD } from './retention.js';
import { ReceivedPackets } from './received-packets.js';
import { GRANULARITY, RttEstimator } from './rtt.js';
import { PacketState, SentPackets, type SentFragment, type SentPacket } from './sent-packets.js';
import { UnreliableReassembly } from './unreliable-reassembly.js';
import type {
  AckEvent,
  CloseError,
  CongestionController,
  ConnectionStats,
  CoreConfig,
  CoreEvent,
  Delivery,
} from './types.js';

/**
 * The protocol engine of one connection, with no I/O of its own (the quinn-proto model).
 *
 * Inputs: `handleDatagram(now, bytes)`, `handleTimeout(now)`, and the commands `send()`,
 * `release()`, `close()`, `abort()`. Outputs, to poll after every input: `pollTransmit(now)`
 * until it returns null, `pollEvent()` until null, then `pollTimeout()` for the next deadline.
 * Time enters only as `now` (milliseconds, monotonic); randomness only through `config.random`.
 * Given the same inputs it produces the same outputs, which is what lets the simulator replay
 * any run from its seed.
 *
 * The rules it follows (packet numbers, TSNs, ACKs, loss detection, flow and congestion control,
 * close) are specified in docs/protocol.md; the RFC sections are cited where they apply.
 */

/** RFC 9002 §6.1.1: a packet is lost once three later packets were acknowledged. */
const PACKET_THRESHOLD = 3;
/** RFC 9002 §6.1.2: ... or 9/8 of an RTT has passed since a later packet was acknowledged. */
const TIME_THRESHOLD = 9 / 8;
/** RFC 9002 §7.6: persistent congestion after losses spanning this many PTOs. */
const PERSISTENT_CONGESTION_THRESHOLD = 3;
/** Most ACK ranges reported in one ACK frame (quic-go reports up to 64). */
const MAX_ACK_RANGES = 32;
/** A fragment shorter than this is not cut to fill the end of a packet (TSN credit is per fragment). */
const MIN_FRAGMENT = 256;
/** Packet-number skipping (RFC 9000 §21.4): the gap between skips doubles up to this. */
const MAX_SKIP_PERIOD = 0x1_0000;
/** Skipped packet numbers remembered for optimistic-ACK detection. */
const SKIPPED_REMEMBERED = 16;
/** Pacing burst: up to this long at the pacing rate (quinn uses 2 ms). */
const BURST_INTERVAL = 2;
/** RESET frame codes (docs/protocol.md). */
export const ResetCode = { Abort: 0, ProtocolViolation: 1, FlowControl: 2, Internal: 3 } as const;

/**
 * The error both sides report for a RESET code (docs/protocol.md §18.3): the one that detected a
 * violation (codes 1 and 2) and the one told about it.
 */
export function resetError(code: number): 'ERR_PROTOCOL_VIOLATION' | 'ERR_CONNECTION_RESET' {
  return code === ResetCode.ProtocolViolation || code === ResetCode.FlowControl ? 'ERR_PROTOCOL_VIOLATION' : 'ERR_CONNECTION_RESET';
}

export type ConnectionState = 'open' | 'closing' | 'draining' | 'closed';

export interface ConnectionCoreOptions {
  role: 'client' | 'server';
  localCid: ConnectionId;
  remoteCid: ConnectionId;
  /** The parameters this side announced in its handshake packet. */
  localParams: TransportParams;
  /** The parameters the peer announced. */
  remoteParams: TransportParams;
  config?: Partial<CoreConfig>;
  now: number;
  /** The endpoint's shared byte budget (maxBufferedBytes); none: only receiveWindow applies. */
  budget?: BufferBudget;
}

interface QueuedMessage {
  data: Uint8Array;
  /** Bytes already cut into fragments. */
  offset: number;
  unordered: boolean;
}

interface QueuedUnreliable {
  data: Uint8Array;
  id: number;
  index: number;
  count: number;
  fragmentSize: number;
}

export class ConnectionCore {
  readonly role: 'client' | 'server';
  readonly localCid: ConnectionId;
  readonly remoteCid: ConnectionId;
  private readonly config: CoreConfig;
  private _state: ConnectionState = 'open';

  // --- sizes
  /** Largest datagram we send: our limit and the peer's, whichever is smaller. */
  private readonly maxDatagram: number;
  /** Largest fragment payload: a full datagram minus packet and DATA frame overhead. */
  readonly maxFragmentPayload: number;

  // --- packet numbers
  private nextPn: number;
  private largestSentPn: number;
  private nextSkipPn: number;
  private skipPeriod = 64;
  private readonly skipped: number[] = [];
  private readonly sent: SentPackets;

  // --- sending reliable data
  private nextTsn: number;
  /** Highest TSN the peer accepts (its flow-control credit). */
  private peerMaxTsn: number;
  private readonly queue = new Deque<QueuedMessage>();
  private queuedBytes = 0;
  /** Fragments sent and not yet acknowledged (they live in their packets' records). */
  private unackedFragments = 0;
  /** Fragments to send again, oldest first. */
  private readonly retransmit = new Deque<SentFragment>();

  // --- sending unreliable data
  private readonly unreliable = new Deque<QueuedUnreliable>();
  private nextUnreliableId = 0;

  // --- receiving
  private readonly received: ReceivedPackets;
  private largestReceivedAt = 0;
  private readonly receiveBuffer: ReceiveBuffer;
  /** Created on the first fragmented unreliable message: most connections never need it. */
  private unreliableIn: UnreliableReassembly | null = null;
  /** Bytes of delivered unreliable messages the application has not released yet. */
  private unreliableHeld = 0;
  /** Unreliable messages dropped because the unreliable budget was full. */
  private unreliableOverflow = 0;
  /** Largest message the peer may send us (announced) / we may send it. */
  private readonly maxIncomingMessage: number;
  private readonly maxOutgoingMessage: number;
  /** Largest datagram we accept (announced): larger ones never reach the engine. */
  private readonly localMaxDatagram: number;
  private readonly budget: BufferBudget | null;
  /** `retainedBytes` as last added to the budget. */
  private budgetReported = 0;
  private ackElicitingSinceAck = 0;
  private ackDeadline = Infinity;
  private ackNow = false;
  private advertisedMaxTsn: number;

  // --- loss recovery and congestion (RFC 9002)
  readonly rtt: RttEstimator;
  private readonly cc: CongestionController;
  private readonly pacer = new Pacer();
  private readonly slab = sharedSlab;
  private pacingDeadline = Infinity;
  private bytesInFlight = 0;
  private lossTime = Infinity;
  private ptoCount = 0;
  private probesDue = 0;
  private lastAckElicitingSentAt = -Infinity;
  private largestAckedPn = -1;
  private firstRttSampleAt = -1;
  // Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation).
  private delivered = 0;
  private deliveredTime = 0;
  private firstSentTime = 0;
  /** Non-zero while the sender is application-limited: the `delivered` value that ends it. */
  private appLimitedUntil = 0;

  // --- lifecycle
  private lastReceivedAt: number;
  private lastSentAt: number;
  private readonly idleTimeout: number;
  private readonly keepAliveInterval: number;
  private closeRequested = false;
  private closeSentPn = -1;
  private closeAcked = false;
  private closeQueued = false;
  private peerClosed = false;
  private drainUntil = Infinity;
  private pendingReset: { code: number; reason: string } | null = null;
  private closeError: CloseError | undefined;
  private flushedNotified = true;

  // --- events and statistics
  private readonly events = new Deque<CoreEvent>();
  private readonly counters = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsRetransmitted: 0,
    packetsLost: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesRetransmitted: 0,
    duplicatesDropped: 0,
    checksumFailures: 0,
    malformedDropped: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesDelivered: 0,
    ptoCount: 0,
    packetsDeferred: 0,
  };

  constructor(options: ConnectionCoreOptions) {
    const config = resolveCoreConfig(options.config);
    this.config = config;
    this.role = options.role;
    this.localCid = options.localCid;
    this.remoteCid = options.remoteCid;
    const local = options.localParams;
    const remote = options.remoteParams;

    this.maxDatagram = Math.min(config.maxDatagramSize, remote.maxDatagramSize || config.maxDatagramSize);
    this.maxFragmentPayload = this.maxDatagram - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE;
    if (this.maxFragmentPayload < 1) throw new RangeError('maxDatagramSize is too small');

    this.nextPn = local.initialPacketNumber;
    this.largestSentPn = this.nextPn - 1;
    this.sent = new SentPackets(this.nextPn);
    this.nextSkipPn = this.nextPn + 1 + Math.floor(config.random() * this.skipPeriod);

    this.nextTsn = local.initialTsn;
    this.peerMaxTsn = local.initialTsn - 1 + remote.initialWindow;

    // Largest message each side accepts: what it announced (§4.1), else (a peer that predates
    // the parameter) our own limit alone.
    this.maxIncomingMessage = local.maxMessageSize ?? ConnectionCore.incomingMessageLimit(config);
    this.maxOutgoingMessage = Math.min(config.maxMessageSize, remote.maxMessageSize ?? Infinity);
    this.localMaxDatagram = local.maxDatagramSize || config.maxDatagramSize;
    this.budget = options.budget ?? null;

    this.received = new ReceivedPackets(remote.initialPacketNumber, MAX_ACK_RANGES);
    this.receiveBuffer = new ReceiveBuffer({
      initialTsn: remote.initialTsn,
      windowBytes: config.receiveWindow,
      maxSlots: local.initialWindow,
      maxDatagramSize: this.localMaxDatagram,
      maxMessageSize: this.maxIncomingMessage,
      deliver: (data, delivery, credit) => this.deliver(data, delivery, credit),
    });
    this.advertisedMaxTsn = this.receiveBuffer.maxTsn;

    this.rtt = new RttEstimator(config.initialRtt);
    this.cc = createCongestionController(config.congestion, this.maxDatagram, config.initialRtt);

    // RFC 9000 §10.1: the effective idle timeout is the smaller of the two announced values.
    const idles = [config.idleTimeout, remote.idleTimeout].filter((t) => t > 0);
    this.idleTimeout = idles.length > 0 ? Math.min(...idles) : 0;
    // Keep alive well within the idle timeout actually in force (the peer's may be shorter than
    // ours): RFC 9000 §10.1.2. A third leaves room for two lost keepalives.
    this.keepAliveInterval =
      config.keepAliveInterval > 0 && this.idleTimeout > 0
        ? Math.min(config.keepAliveInterval, this.idleTimeout / 3)
        : config.keepAliveInterval;
    this.lastReceivedAt = options.now;
    this.lastSentAt = options.now;
  }

  /**
   * The receive window (in TSNs) to announce for a receive window in bytes: each TSN may cost a
   * whole datagram of `maxDatagramSize` plus bookkeeping (ReceiveBuffer.slotCost).
   */
  static windowFragments(receiveWindow: number, maxDatagramSize: number): number {
    return announcedWindow({ ...resolveCoreConfig(undefined), receiveWindow, maxDatagramSize });
  }

  /**
   * The largest message to announce (transport parameter maxMessageSize): the configured one,
   * but never more than the receive window, which must be able to hold a whole message.
   */
  static incomingMessageLimit(config: Partial<CoreConfig>): number {
    return announcedMaxMessageSize(resolveCoreConfig(config));
  }

  /** Largest message `send()` accepts: ours, and the peer's announced limit when it gave one. */
  get maxMessageSize(): number {
    return this.maxOutgoingMessage;
  }

  /** Bytes the peer's data holds in this connection now (reliable and unreliable). */
  get retainedBytes(): number {
    return this.receiveBuffer.retained + (this.unreliableIn?.retained ?? 0) + this.unreliableHeld;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Message bytes queued and not yet sent once. */
  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  // ------------------------------------------------------------------ commands

  /** Queue a message. Throws ERR_MESSAGE_TOO_LARGE or ERR_CONNECTION_CLOSED. */
  send(data: Uint8Array, delivery: Delivery = 'ordered'): void {
    if (this._state !== 'open' || this.closeRequested) {
      throw rdError('ERR_CONNECTION_CLOSED', 'the connection is closing or closed');
    }
    if (data.length > this.maxOutgoingMessage) {
      throw rdError(
        'ERR_MESSAGE_TOO_LARGE',
        this.maxOutgoingMessage < this.config.maxMessageSize
          ? `message of ${data.length} bytes exceeds the peer's maxMessageSize (${this.maxOutgoingMessage})`
          : `message of ${data.length} bytes exceeds maxMessageSize (${this.config.maxMessageSize})`,
      );
    }
    this.counters.messagesSent++;
    this.queuedBytes += data.length;
    if (delivery === 'unreliable') {
      const id = this.nextUnreliableId;
      this.nextUnreliableId = (id + 1) >>> 0;
      // Size fragments so that all of them fit a datagram with the largest header variant.
      const fragmentSize = this.maxDatagram - DATA_OVERHEAD - unreliableHeaderSize(0xffff_ffff, 0xffff_ffff);
      const count = Math.max(1, Math.ceil(data.length / fragmentSize));
      this.unreliable.push({ data, id, index: 0, count, fragmentSize });
    } else {
      this.queue.push({ data, offset: 0, unordered: delivery === 'unordered' });
      this.flushedNotified = false;
    }
  }

  /**
   * The application consumed (or dropped) a message: give back the bytes it held, the `credit`
   * of its 'message' event. For reliable messages that reopens the peer's window.
   */
  release(credit: number, delivery: Delivery = 'ordered'): void {
    if (credit <= 0) return;
    if (delivery === 'unreliable') {
      this.unreliableHeld = Math.max(0, this.unreliableHeld - credit);
      if (this.budget !== null) this.syncBudget();
      return;
    }
    const before = this.receiveBuffer.maxTsn;
    this.receiveBuffer.release(credit);
    if (this.budget !== null) this.syncBudget();
    // Announce a reopened window promptly: the sender may be blocked on it.
    const opened = this.receiveBuffer.maxTsn - this.advertisedMaxTsn;
    if (this.receiveBuffer.maxTsn > before && opened >= this.receiveBuffer.maxSlotsAnnounced / 4) {
      this.ackNow = true;
    }
  }

  /** Graceful close: finish sending, then exchange CLOSE. Idempotent. */
  close(now: number): void {
    if (this._state !== 'open') return;
    this.closeRequested = true;
    this._state = 'closing';
    this.maybeQueueClose();
  }

  /** Abortive close: one RESET frame goes out, the connection is closed at once. */
  abort(now: number, code: number = ResetCode.Abort, reason = ''): void {
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      // The close already completed (and was reported): nothing to tell the peer.
      this._state = 'closed';
      return;
    }
    this.pendingReset = { code, reason };
    const errorCode = resetError(code);
    this.finish(now, { code: errorCode, message: reason || 'connection aborted', initiator: 'local' });
  }

  /** The endpoint verified a stateless reset for this connection. */
  handleStatelessReset(now: number): void {
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      this._state = 'closed';
      return;
    }
    this.finish(now, { code: 'ERR_CONNECTION_RESET', message: 'stateless reset', initiator: 'remote' });
  }

  // ------------------------------------------------------------------ input

  handleDatagram(now: number, datagram: Uint8Array): void {
    if (this._state === 'closed') return;
    if (datagram.length > this.localMaxDatagram) {
      // Larger than we announced (the endpoint drops these first, as `oversize`): a fragment of
      // it could keep more alive than one TSN of credit allows.
      this.counters.malformedDropped++;
      return;
    }
    const result = decodePacket(datagram);
    if (!result.ok) {
      if (result.reason === 'checksum') this.counters.checksumFailures++;
      else this.counters.malformedDropped++;
      return;
    }
    const packet = result.value;
    if (packet.type !== 'data' || packet.dcid !== this.localCid) {
      this.counters.malformedDropped++;
      return;
    }
    const previousLargest = this.received.largest;
    const pn = expand32(packet.packetNumber, previousLargest + 1);
    if (this.budget !== null && this.overBudget(packet.frames, datagram.length, pn)) {
      // Not processed, not acknowledged: the peer retransmits the data once the budget has room.
      // The peer is alive, though: its retransmissions must not let the connection idle out.
      this.counters.packetsDeferred++;
      this.budget.deferred++;
      this.lastReceivedAt = now;
      return;
    }
    if (!this.received.insert(pn)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.counters.packetsReceived++;
    this.counters.bytesReceived += datagram.length;
    this.lastReceivedAt = now;
    if (this._state === 'draining') this.drainUntil = now + this.drainPeriod();
    const isLargest = pn === this.received.largest;
    if (isLargest) this.largestReceivedAt = now;
    // RFC 9000 §13.2.1: acknowledge at once when this packet arrived out of order or after a
    // gap (a skipped number makes one such gap, once).
    const outOfOrder = pn !== previousLargest + 1;

    let ackEliciting = false;
    for (const frame of packet.frames) {
      if (frame.type !== 'ack') ackEliciting = true;
      this.handleFrame(now, frame);
      if (this.isClosed()) return;
    }
    if (ackEliciting) {
      this.ackElicitingSinceAck++;
      if (outOfOrder || this.ackElicitingSinceAck >= this.config.ackEveryPackets) this.ackNow = true;
      else if (this.ackDeadline === Infinity) this.ackDeadline = now + this.config.maxAckDelay;
    }
    if (this.budget !== null) this.syncBudget();
  }

  /** A packet with data the endpoint's budget has no room for (BufferBudget). */
  private overBudget(frames: readonly Frame[], size: number, pn: number): boolean {
    let dataFrames = 0;
    for (let i = 0; i < frames.length; i++) {
      const t = frames[i]!.type;
      if (t === 'data' || t === 'unreliable') dataFrames++;
    }
    if (dataFrames === 0 || this.received.has(pn)) return false;
    return !this.budget!.admits(this.budgetReported, size + dataFrames * OBJECT_OVERHEAD);
  }

  /** Tell the endpoint's budget what this connection holds now (nothing once closed). */
  private syncBudget(): void {
    const now = this._state === 'closed' ? 0 : this.retainedBytes;
    this.budget!.used += now - this.budgetReported;
    this.budgetReported = now;
  }

  handleTimeout(now: number): void {
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      // Checked before the idle timeout: the close was already reported as graceful.
      if (now >= this.drainUntil || (this.idleTimeout > 0 && now >= this.lastReceivedAt + this.idleTimeout)) {
        this._state = 'closed';
      }
      return;
    }
    if (now >= this.lingerDeadline()) {
      // Our CLOSE was never acknowledged, but the peer had finished and has been silent for the
      // whole linger: it received one of our many copies (or is gone). Done, gracefully.
      this.enterDraining(now);
      this._state = 'closed';
      return;
    }
    if (now >= this.ackHeldAt) {
      this.ackHeldAt = Infinity;
      this.ackHoldDone = true; // the application had its turn: the ACK goes now
    }
    if (this.idleTimeout > 0 && now >= this.lastReceivedAt + this.idleTimeout) {
      this.finish(now, {
        code: 'ERR_IDLE_TIMEOUT',
        message: `nothing heard from the peer for ${this.idleTimeout} ms`,
        initiator: 'local',
      });
      return;
    }
    if (now >= this.lossTime) {
      this.detectLosses(now);
    } else if (now >= this.ptoDeadline()) {
      this.onPto(now);
    }
    if (
      this.keepAliveInterval > 0 &&
      now >= this.lastSentAt + this.keepAliveInterval &&
      this.sent.ackElicitingOutstanding === 0
    ) {
      this.probesDue = Math.max(this.probesDue, 1);
    }
  }

  // ------------------------------------------------------------------ output

  pollEvent(): CoreEvent | null {
    return this.events.shift() ?? null;
  }

  pollTimeout(): number | null {
    if (this._state === 'closed') return null;
    let t = Infinity;
    if (this.idleTimeout > 0) t = this.lastReceivedAt + this.idleTimeout;
    if (this._state === 'draining') return Math.min(t, this.drainUntil);
    t = Math.min(t, this.lossTime < Infinity ? this.lossTime : this.ptoDeadline(), this.lingerDeadline());
    if (!this.ackNow && this.ackElicitingSinceAck > 0) t = Math.min(t, this.ackDeadline);
    t = Math.min(t, this.ackHeldAt);
    if (this.pacingDeadline < Infinity) t = Math.min(t, this.pacingDeadline);
    if (this.keepAliveInterval > 0 && this.sent.ackElicitingOutstanding === 0) {
      t = Math.min(t, this.lastSentAt + this.keepAliveInterval);
    }
    return t === Infinity ? null : t;
  }

  /**
   * The next datagram to send, or null when nothing may be sent now (no data, congestion or
   * flow control, pacing; `pollTimeout()` then says when to ask again).
   */
  pollTransmit(now: number): Uint8Array | null {
    if (this.pendingReset) return this.buildReset();
    if (this._state === 'closed') return null;
    this.pacingDeadline = Infinity;
    if (this.closeRequested) this.maybeQueueClose();

    const ackDue =
      this.ackElicitingSinceAck > 0 && (this.ackNow || now >= this.ackDeadline)
        ? true
        : this.ackNow;
    if (this._state === 'draining') {
      return ackDue ? this.buildPacket(now, true, false) : null;
    }
    const probe = this.probesDue > 0;
    const hasData = this.hasSendableData();
    if (!hasData && this.bytesInFlight < this.cc.window) {
      // Nothing to send with room in the window: rate samples from now on measure the
      // application, not the network (draft-cheng §3.4).
      this.appLimitedUntil = Math.max(this.delivered + this.bytesInFlight, 1);
    }
    let mayAddData = hasData || probe;
    if (mayAddData && !probe) {
      if (this.bytesInFlight + this.maxDatagram > this.cc.window) {
        mayAddData = false;
      } else if (this.config.pacing) {
        const wait = this.pacer.delay(now, this.maxDatagram, this.pacingRate(), this.pacingCapacity());
        if (wait > 0) {
          this.pacingDeadline = now + wait;
          mayAddData = false;
        }
      }
    }
    if (!mayAddData && !ackDue) return null;
    if (!mayAddData && (this.ackHeldAt <= now || (!this.ackHoldDone && this.messagesUndelivered()))) {
      // An ACK alone, while the application has not yet seen the messages that just arrived:
      // hold it until the shell has dispatched them and the application had its turn (a timer
      // due now: the shell runs it after the current task), so that a reply sent from a
      // 'message' handler, or from the code awaiting it, leaves in the same packet as the ACK.
      // One datagram per request/response turn instead of two.
      this.ackHeldAt = now;
      return null;
    }
    return this.buildPacket(now, ackDue, mayAddData);
  }

  stats(): ConnectionStats {
    return {
      srtt: this.rtt.smoothed,
      rttvar: this.rtt.variance,
      minRtt: this.rtt.min === Infinity ? 0 : this.rtt.min,
      latestRtt: this.rtt.latest,
      pto: this.currentPto(),
      cwnd: this.cc.window,
      bytesInFlight: this.bytesInFlight,
      congestionController: this.cc.name,
      ...this.counters,
      unreliableDropped: (this.unreliableIn?.dropped ?? 0) + this.unreliableOverflow,
      retainedBytes: this.retainedBytes,
    };
  }

  /** Internal counters the property tests check at every step. */
  inspect(): {
    bytesInFlight: number;
    cwnd: number;
    maxDatagram: number;
    receiveBuffered: number;
    advertisedWindow: number;
    largestSentPn: number;
    probesDue: number;
    unackedFragments: number;
    pacingRate: number;
  } {
    return {
      pacingRate: this.pacingRate(),
      unackedFragments: this.unackedFragments,
      probesDue: this.probesDue,
      bytesInFlight: this.bytesInFlight,
      cwnd: this.cc.window,
      maxDatagram: this.maxDatagram,
      receiveBuffered: this.receiveBuffer.bufferedCount,
      advertisedWindow: this.receiveBuffer.maxTsn - this.receiveBuffer.cumTsn,
      largestSentPn: this.largestSentPn,
    };
  }

  // ------------------------------------------------------------------ receiving frames

  private handleFrame(now: number, frame: Frame): void {
    // After the close completed only the CLOSE handshake matters (a late datagram of the peer's
    // is not delivered once the application was told the connection is closed).
    if (this._state === 'draining' && frame.type !== 'close' && frame.type !== 'ack') return;
    switch (frame.type) {
      case 'ping':
        // The sender asks for an ACK now: it is probing, or it just sent the last packet it can
        // for the moment and would otherwise wait for our delayed-ACK timer.
        this.ackNow = true;
        return;
      case 'ack':
        this.onAckFrame(now, frame);
        return;
      case 'data': {
        const tsn = expand32(frame.tsn, this.receiveBuffer.cumTsn + 1);
        const result = this.receiveBuffer.accept(tsn, frame.payload, frame.first, frame.last, frame.unordered);
        if (result === 'duplicate') this.counters.duplicatesDropped++;
        // Beyond the credit we granted (it never shrinks): only a broken or hostile sender does
        // that. Dropping the data while acknowledging its packet would lose it, so abort.
        else if (result === 'beyond-window') this.abort(now, ResetCode.FlowControl, 'data beyond the flow-control window');
        else if (result === 'malformed') this.protocolViolation(now, 'message framing broken (or longer than maxMessageSize)');
        return;
      }
      case 'unreliable':
        this.onUnreliable(frame.messageId, frame.index, frame.count, frame.payload);
        return;
      case 'close':
        this.ackNow = true;
        if (!this.peerClosed) {
          this.peerClosed = true;
          this.events.push({ type: 'peer-closed' });
          // No half-open connections: the peer is done, so we finish too.
          if (this._state === 'open') this.close(now);
          this.maybeFinishClose(now);
        }
        return;
      case 'reset':
        this.finish(now, {
          code: resetError(frame.code),
          message: frame.reason || 'connection reset by peer',
          initiator: 'remote',
        });
        return;
    }
  }

  /**
   * Unreliable data shares one byte budget, `maxUnreliableReassembly`: the reassembly of
   * incomplete messages plus delivered messages the application has not taken yet. The shell
   * drops its oldest unread ones first (src/node/inbox.ts); what still does not fit is dropped
   * here, newest first, and counted.
   */
  private onUnreliable(messageId: number, index: number, count: number, payload: Uint8Array): void {
    const budget = this.config.maxUnreliableReassembly;
    if (count === 1) {
      const kept = detach(payload, this.localMaxDatagram);
      const charge = chargeOf(kept);
      if (this.unreliableHeld + (this.unreliableIn?.retained ?? 0) + charge > budget) {
        this.unreliableOverflow++;
        return;
      }
      this.unreliableHeld += charge;
      this.deliver(kept, 'unreliable', charge);
      return;
    }
    this.unreliableIn ??= new UnreliableReassembly(() => Math.max(0, budget - this.unreliableHeld), this.localMaxDatagram);
    const message = this.unreliableIn.add(messageId, index, count, payload);
    if (message === null) return;
    const charge = UnreliableReassembly.chargeOfMessage(message);
    if (this.unreliableHeld + charge > budget) {
      this.unreliableOverflow++;
      return;
    }
    this.unreliableHeld += charge;
    this.deliver(message, 'unreliable', charge);
  }

  private deliver(data: Uint8Array, delivery: Delivery, credit: number): void {
    this.counters.messagesReceived++;
    this.counters.bytesDelivered += data.length;
    this.events.push({ type: 'message', data, delivery, credit });
  }

  private onAckFrame(now: number, frame: AckFrame): void {
    const largest = expand32(frame.largest, this.largestSentPn + 1);
    if (largest > this.largestSentPn) {
      this.protocolViolation(now, 'ACK of a packet number never sent');
      return;
    }
    const peerMax = expand32(frame.maxTsn, this.nextTsn);
    if (peerMax > this.peerMaxTsn) {
      this.peerMaxTsn = peerMax;
      this.blockedProbes = 0;
    }

    let newlyAckedBytes = 0;
    let largestNewlyAcked: SentPacket | null = null;
    /** The newly acknowledged packet sent last: it gives this ACK's delivery-rate sample. */
    let sample: SentPacket | null = null;
    let ackElicitingNewlyAcked = false;
    let hi = largest;
    let lo = largest - frame.firstRange;
    for (let i = -2; ; i += 2) {
      if (i >= 0) {
        hi = lo - frame.ranges[i]! - 2;
        lo = hi - frame.ranges[i + 1]!;
      }
      if (lo < 0) {
        this.protocolViolation(now, 'ACK range below zero');
        return;
      }
      for (const s of this.skipped) {
        if (s >= lo && s <= hi) {
          this.protocolViolation(now, 'ACK of a skipped packet number (optimistic ACK)');
          return;
        }
      }
      const from = Math.max(lo, this.sent.first);
      for (let pn = Math.min(hi, this.sent.end - 1); pn >= from; pn--) {
        const p = this.sent.get(pn);
        if (p === null || p.state === PacketState.Acked) continue;
        const wasLost = p.state === PacketState.Lost;
        this.delivered += p.size;
        this.deliveredTime = now;
        if (sample === null || p.delivered > sample.delivered || (p.delivered === sample.delivered && p.sentAt > sample.sentAt)) {
          sample = p;
        }
        if (!wasLost) {
          this.sent.markDone(p, PacketState.Acked);
          if (p.inFlight) {
            this.bytesInFlight -= p.size;
            newlyAckedBytes += p.size;
          }
          if (largestNewlyAcked === null) largestNewlyAcked = p;
          if (p.ackEliciting) ackElicitingNewlyAcked = true;
        } else {
          p.state = PacketState.Acked;
        }
        this.onPacketContentAcked(p);
      }
      if (i + 2 >= frame.ranges.length) break;
    }
    if (largestNewlyAcked !== null) this.onNewlyAcked(now, frame, largest, largestNewlyAcked, ackElicitingNewlyAcked, sample, newlyAckedBytes);
    // Also when the ACK only confirmed packets already declared lost: their content (a CLOSE,
    // the last fragments) may have been what the close or the 'flushed' event waited for.
    this.sent.trim();
    this.maybeQueueClose();
    this.maybeFinishClose(now);
    if (!this.flushedNotified && this.unackedFragments === 0 && this.queue.length === 0) {
      this.flushedNotified = true;
      this.events.push({ type: 'flushed' });
    }
  }

  private onNewlyAcked(
    now: number,
    frame: AckFrame,
    largest: number,
    largestNewlyAcked: SentPacket,
    ackElicitingNewlyAcked: boolean,
    sample: SentPacket | null,
    newlyAckedBytes: number,
  ): void {
    if (largest > this.largestAckedPn) this.largestAckedPn = largest;
    // RFC 9002 §5.1: an RTT sample when the largest acknowledged is newly acked and ack-eliciting.
    let rttSample = 0;
    if (largestNewlyAcked.pn === largest && ackElicitingNewlyAcked) {
      const ackDelay = Math.min(frame.ackDelay / 1000, this.config.maxAckDelay);
      rttSample = Math.max(now - largestNewlyAcked.sentAt, 0.001);
      this.rtt.update(rttSample, ackDelay);
      if (this.firstRttSampleAt < 0) this.firstRttSampleAt = now;
    }
    if (newlyAckedBytes > 0 && sample !== null) {
      this.cc.onAck(this.rateSample(now, sample, newlyAckedBytes, largestNewlyAcked.sentAt, rttSample));
    }
    this.detectLosses(now);
    this.ptoCount = 0;
  }

  /**
   * The delivery-rate sample of this ACK (draft-cheng-iccrg-delivery-rate-estimation §3.3): data
   * delivered since `sample` was sent, over the longer of its send and ACK intervals, so that
   * neither ACK compression nor send bursts inflate it.
   */
  private rateSample(now: number, sample: SentPacket, ackedBytes: number, newestSentAt: number, rttSample: number): AckEvent {
    this.firstSentTime = sample.sentAt;
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const interval = Math.max(sample.sentAt - sample.firstSentTime, now - sample.deliveredTime);
    const deliveredBytes = this.delivered - sample.delivered;
    const valid = interval > 0 && (!this.rtt.hasSample || interval >= this.rtt.min);
    return {
      now,
      ackedBytes,
      newestSentAt,
      bytesInFlight: this.bytesInFlight,
      delivered: this.delivered,
      priorDelivered: sample.delivered,
      deliveryRate: valid ? deliveredBytes / interval : 0,
      appLimited: sample.appLimited,
      rttSample,
      rtt: this.rtt,
    };
  }

  private onPacketContentAcked(p: SentPacket): void {
    if (p.fragments) {
      for (const f of p.fragments) {
        if (f.acked) continue;
        f.acked = true;
        f.payload = EMPTY;
        this.unackedFragments--;
      }
      p.fragments = null;
    }
    if (p.close) this.closeAcked = true;
  }

  // ------------------------------------------------------------------ loss recovery

  /** RFC 9002 §6.1: declare lost what is far enough behind the largest acknowledged packet. */
  private detectLosses(now: number): void {
    this.lossTime = Infinity;
    if (this.largestAckedPn < 0) return;
    const lossDelay = Math.max(TIME_THRESHOLD * Math.max(this.rtt.latest, this.rtt.smoothed), GRANULARITY);
    let lostBytes = 0;
    let newestLostSentAt = -Infinity;
    // RFC 9002 §7.6: the longest period between two lost ack-eliciting packets, both sent after
    // the first RTT sample, with nothing sent between them acknowledged (or still outstanding).
    let runStart = NaN;
    let longestRun = 0;
    const sampled = this.firstRttSampleAt;
    const last = Math.min(this.sent.end - 1, this.largestAckedPn);
    for (let pn = this.sent.first; pn <= last; pn++) {
      const p = this.sent.get(pn);
      if (p === null) continue;
      if (p.state !== PacketState.Outstanding) {
        if (p.state === PacketState.Lost) {
          if (sampled >= 0 && p.sentAt > sampled) {
            if (Number.isNaN(runStart)) runStart = p.sentAt;
            longestRun = Math.max(longestRun, p.sentAt - runStart);
          }
        } else {
          runStart = NaN; // acknowledged: the path delivered in between
        }
        continue;
      }
      // Written as sentAt + lossDelay (not now − lossDelay) so that the loss timer computed below
      // is due exactly when this test passes, whatever the floating-point rounding.
      if (p.sentAt + lossDelay <= now || this.largestAckedPn >= p.pn + PACKET_THRESHOLD) {
        this.sent.markDone(p, PacketState.Lost);
        this.counters.packetsLost++;
        if (p.inFlight) {
          this.bytesInFlight -= p.size;
          lostBytes += p.size;
          newestLostSentAt = Math.max(newestLostSentAt, p.sentAt);
        }
        if (sampled >= 0 && p.sentAt > sampled) {
          if (Number.isNaN(runStart)) runStart = p.sentAt;
          longestRun = Math.max(longestRun, p.sentAt - runStart);
        }
        this.requeueContent(p);
      } else {
        this.lossTime = Math.min(this.lossTime, p.sentAt + lossDelay);
        runStart = NaN;
      }
    }
    if (lostBytes > 0) {
      // RFC 9002 §7.6.1: persistent congestion duration = PTO without backoff × 3.
      const persistent =
        longestRun > this.rtt.pto(this.config.maxAckDelay, this.config.minPto) * PERSISTENT_CONGESTION_THRESHOLD;
      this.cc.onCongestionEvent(now, newestLostSentAt, lostBytes, persistent);
    }
    this.sent.trim();
  }

  /** Put the lost packet's unacknowledged data back at the head of the line. */
  private requeueContent(p: SentPacket): void {
    if (p.fragments) {
      for (const f of p.fragments) {
        if (!f.acked && !f.queued && f.lastPn === p.pn) {
          f.queued = true;
          this.retransmit.push(f);
        }
      }
    }
    if (p.close && !this.closeAcked && this.closeSentPn === p.pn) this.closeQueued = true;
  }

  private currentPto(): number {
    const base = this.rtt.pto(this.config.maxAckDelay, this.config.minPto);
    // Once the peer's CLOSE arrived only our tiny CLOSE is left to deliver: repeat it every PTO
    // without backoff, so that a draining peer (which lingers a few PTOs) hears one.
    if (this.peerClosed && this._state === 'closing') return base;
    return Math.min(base * 2 ** this.ptoCount, this.config.maxPto);
  }

  /**
   * How long the side that still waits for the ACK of its CLOSE keeps repeating it after the
   * peer (which had already sent its own CLOSE) went silent. Long enough for ≥16 copies, so
   * that losing all of them is negligible even at 50 % loss.
   */
  private lingerDeadline(): number {
    if (this._state !== 'closing' || !this.peerClosed || this.closeAcked || this.closeSentPn < 0) return Infinity;
    const pto = this.rtt.pto(this.config.maxAckDelay, this.config.minPto);
    const linger = Math.max(16 * pto, 2000);
    // Never longer than the idle timeout, which would otherwise turn a graceful end into an error.
    return this.lastReceivedAt + (this.idleTimeout > 0 ? Math.min(linger, this.idleTimeout) : linger);
  }

  /** Draining answers a repeated CLOSE with an ACK until the peer has been quiet this long. */
  private drainPeriod(): number {
    return 3 * this.rtt.pto(this.config.maxAckDelay, this.config.minPto);
  }

  private ptoDeadline(): number {
    if (this.sent.ackElicitingOutstanding > 0) return this.lastAckElicitingSentAt + this.currentPto();
    if (!this.flowBlocked()) return Infinity;
    // Blocked by the peer's window with nothing in flight: probe for fresh credit, backing off
    // until the window moves (each probe's ACK would otherwise reset the backoff and keep a
    // stalled reader's connection busy every PTO forever).
    const base = this.rtt.pto(this.config.maxAckDelay, this.config.minPto);
    return this.lastSentAt + Math.min(base * 2 ** this.blockedProbes, this.config.maxPto);
  }

  /** Flow-control probes sent since the peer last raised its credit. */
  private blockedProbes = 0;

  /** RFC 9002 §6.2.4: send up to two probes; prefer data the peer has not acknowledged. */
  private onPto(now: number): void {
    this.ptoCount++;
    this.counters.ptoCount++;
    const oldest = this.sent.oldestAckEliciting();
    if (oldest) {
      // Resend the oldest unacknowledged content without declaring it lost (no CC reaction).
      if (oldest.fragments) {
        for (const f of oldest.fragments) {
          if (!f.acked && !f.queued) {
            f.queued = true;
            this.retransmit.push(f);
          }
        }
      }
      if (oldest.close && !this.closeAcked) this.closeQueued = true;
    }
    this.probesDue = oldest ? 2 : 1;
    if (!oldest) this.blockedProbes++;
    this.lastAckElicitingSentAt = now; // re-arm from now even if the probe is delayed
  }

  private flowBlocked(): boolean {
    return this.queue.length > 0 && this.nextTsn > this.peerMaxTsn && this.retransmit.length === 0;
  }

  private pacingRate(): number {
    const explicit = this.cc.pacingRate;
    if (explicit !== Infinity) return explicit;
    // RFC 9002 §7.7: N × cwnd / srtt with N = 1.25 so that pacing does not limit the window.
    return (1.25 * this.cc.window) / Math.max(this.rtt.smoothed, 0.001);
  }

  private pacingCapacity(): number {
    const burst = (this.cc.window * BURST_INTERVAL) / Math.max(this.rtt.smoothed, 0.001);
    return Math.min(Math.max(burst, 10 * this.maxDatagram), Math.max(this.cc.window, 10 * this.maxDatagram));
  }

  // ------------------------------------------------------------------ building packets

  private hasSendableData(): boolean {
    if (this.retransmit.length > 0) return true;
    if (this.closeQueued) return true;
    if (this.unreliable.length > 0) return true;
    return this.queue.length > 0 && this.nextTsn <= this.peerMaxTsn;
  }

  private allocatePacketNumber(): number {
    let pn = this.nextPn;
    if (pn === this.nextSkipPn) {
      // RFC 9000 §21.4: skip a number now and then; an ACK for it exposes an optimistic ACKer.
      this.skipped.push(pn);
      if (this.skipped.length > SKIPPED_REMEMBERED) this.skipped.shift();
      this.sent.push(pn, null);
      pn++;
      this.skipPeriod = Math.min(this.skipPeriod * 2, MAX_SKIP_PERIOD);
      this.nextSkipPn = pn + 1 + Math.floor(this.config.random() * this.skipPeriod);
    }
    this.nextPn = pn + 1;
    this.largestSentPn = pn;
    return pn;
  }

  private buildPacket(now: number, withAck: boolean, withData: boolean): Uint8Array {
    const buf = this.slab.take(this.maxDatagram);
    const pn = this.allocatePacketNumber();
    let o = writeDataHeader(buf, this.remoteCid, truncate32(pn));
    const limit = this.maxDatagram - CHECKSUM_SIZE;

    if (withAck || this.ackElicitingSinceAck > 0 || this.receiveBuffer.maxTsn > this.advertisedMaxTsn) {
      const ack = this.buildAckFrame(now);
      if (ack && o + ackFrameSize(ack) <= limit) {
        o = writeAckFrame(buf, o, ack);
        this.ackHeldAt = Infinity;
        this.ackHoldDone = false;
        this.ackElicitingSinceAck = 0;
        this.ackDeadline = Infinity;
        this.ackNow = false;
        this.advertisedMaxTsn = this.receiveBuffer.maxTsn;
      }
    }

    let ackEliciting = false;
    let fragments: SentFragment[] | null = null;
    let carriesClose = false;
    let retransmission = false;
    if (withData) {
      // 1. Lost data first: the peer's in-order delivery waits on it.
      for (let f = this.retransmit.peek(); f !== undefined; f = this.retransmit.peek()) {
        if (f.acked) {
          f.queued = false;
          this.retransmit.shift();
          continue;
        }
        if (o + DATA_FRAME_HEADER_SIZE + f.payload.length > limit) break;
        o = writeDataFrameHeader(buf, o, truncate32(f.tsn), f.flags, f.payload.length);
        buf.set(f.payload, o);
        o += f.payload.length;
        f.queued = false;
        f.lastPn = pn;
        (fragments ??= []).push(f);
        this.retransmit.shift();
        retransmission = true;
        this.counters.bytesRetransmitted += f.payload.length;
      }
      // 2. Unreliable messages (latency-sensitive, never retransmitted).
      o = this.writeUnreliable(buf, o, limit);
      // 3. New reliable data, within the peer's credit.
      o = this.writeNewData(buf, o, limit, pn);
      fragments = this.mergeFragments(fragments, this.newFragments);
      this.newFragments = null;
      // 4. CLOSE, last: it is queued only once everything before it was sent and acknowledged.
      if (this.closeQueued && o + 1 <= limit) {
        buf[o++] = FrameType.Close;
        this.closeQueued = false;
        this.closeSentPn = pn;
        carriesClose = true;
      }
      ackEliciting = o > 0 && (fragments !== null || carriesClose || this.wroteUnreliable);
      this.wroteUnreliable = false;
      if (!ackEliciting && this.probesDue > 0) {
        buf[o++] = FrameType.Ping;
        ackEliciting = true;
      } else if (ackEliciting && o < limit && !this.hasSendableData()) {
        // The last packet of a burst: a PING asks the peer to acknowledge at once instead of
        // after its delayed-ACK timer, so the end of every message or request is confirmed in
        // one RTT (and never mistaken for a loss by the PTO). A window-limited sender needs no
        // such help: ACKs of every second packet keep its flight moving.
        buf[o++] = FrameType.Ping;
      }
      if (this.probesDue > 0) this.probesDue--;
    }

    const datagram = seal(buf, o);
    const size = datagram.length;
    this.slab.commit(size);
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    if (retransmission) this.counters.packetsRetransmitted++;
    this.lastSentAt = now;
    if (ackEliciting) {
      if (this.bytesInFlight === 0) {
        this.firstSentTime = now;
        this.deliveredTime = now;
      }
      const packet: SentPacket = {
        pn,
        sentAt: now,
        size,
        ackEliciting: true,
        inFlight: true,
        state: PacketState.Outstanding,
        fragments,
        close: carriesClose,
        retransmission,
        delivered: this.delivered,
        deliveredTime: this.deliveredTime,
        firstSentTime: this.firstSentTime,
        appLimited: this.appLimitedUntil !== 0,
      };
      this.sent.push(pn, packet);
      this.bytesInFlight += size;
      this.lastAckElicitingSentAt = now;
      this.cc.onPacketSent(now, size, this.bytesInFlight);
      if (this.config.pacing) this.pacer.consume(size);
    } else {
      // ACK-only: not tracked, not congestion controlled, never acknowledged (RFC 9002 §3).
      this.sent.push(pn, null);
    }
    return datagram;
  }

  private wroteUnreliable = false;
  /** When an ACK was held back for the application's reply (Infinity: none held). */
  private ackHeldAt = Infinity;
  /** The held ACK's timer fired: send it, do not hold it again. */
  private ackHoldDone = false;

  private messagesUndelivered(): boolean {
    for (let i = 0; i < this.events.length; i++) {
      if (this.events.at(i).type === 'message') return true;
    }
    return false;
  }


  private writeUnreliable(buf: Uint8Array, o: number, limit: number): number {
    for (let m = this.unreliable.peek(); m !== undefined; m = this.unreliable.peek()) {
      const start = m.index * m.fragmentSize;
      const length = Math.min(m.fragmentSize, m.data.length - start);
      const header = unreliableHeaderSize(m.index, m.count);
      if (o + header + length > limit) break;
      o = writeUnreliableFrameHeader(buf, o, m.id, m.index, m.count, length);
      buf.set(m.data.subarray(start, start + length), o);
      o += length;
      this.wroteUnreliable = true;
      this.queuedBytes -= length;
      if (++m.index === m.count) this.unreliable.shift();
    }
    return o;
  }

  /** Fragments the current packet carries for the first time (set by writeNewData). */
  private newFragments: SentFragment[] | null = null;

  private mergeFragments(a: SentFragment[] | null, b: SentFragment[] | null): SentFragment[] | null {
    if (a === null) return b;
    if (b !== null) for (const f of b) a.push(f);
    return a;
  }

  private writeNewData(buf: Uint8Array, o: number, limit: number, pn: number): number {
    for (let m = this.queue.peek(); m !== undefined && this.nextTsn <= this.peerMaxTsn; m = this.queue.peek()) {
      const room = limit - o - DATA_FRAME_HEADER_SIZE;
      const remaining = m.data.length - m.offset;
      const length = Math.min(remaining, this.maxFragmentPayload, Math.max(room, 0));
      // Do not spend a TSN on a sliver at the end of a packet.
      if (room < 0 || (length < remaining && length < Math.min(MIN_FRAGMENT, this.maxFragmentPayload))) break;
      let flags = m.unordered ? DataFlag.Unordered : 0;
      if (m.offset === 0) flags |= DataFlag.First;
      if (length === remaining) flags |= DataFlag.Last;
      const payload = m.data.subarray(m.offset, m.offset + length);
      const tsn = this.nextTsn++;
      o = writeDataFrameHeader(buf, o, truncate32(tsn), flags, length);
      buf.set(payload, o);
      o += length;
      const f: SentFragment = { tsn, payload, flags, acked: false, lastPn: pn, queued: false };
      this.unackedFragments++;
      (this.newFragments ??= []).push(f);
      m.offset += length;
      this.queuedBytes -= length;
      if (m.offset === m.data.length) {
        this.queue.shift();
        if (this.queue.length === 0) this.events.push(DRAIN);
      }
    }
    return o;
  }

  private buildAckFrame(now: number): AckFrame | null {
    const ranges = this.received.toAck(MAX_ACK_RANGES);
    const maxTsn = truncate32(this.receiveBuffer.maxTsn);
    // Before the first packet arrives there is nothing to acknowledge (and the initial window
    // was announced in the handshake).
    if (ranges === null) return null;
    return {
      type: 'ack',
      largest: truncate32(ranges.largest),
      ackDelay: Math.max(0, Math.round((now - this.largestReceivedAt) * 1000)),
      maxTsn,
      firstRange: ranges.firstRange,
      ranges: ranges.ranges,
    };
  }

  private buildReset(): Uint8Array {
    const reset = this.pendingReset!;
    this.pendingReset = null;
    let reason = new TextEncoder().encode(reset.reason);
    if (reason.length > 256) {
      // Cut at a character boundary: the peer rejects a RESET whose reason is not valid UTF-8.
      let end = 256;
      while (end > 0 && (reason[end]! & 0xc0) === 0x80) end--;
      reason = reason.subarray(0, end);
    }
    const buf = new Uint8Array(DATA_HEADER_SIZE + 1 + 2 + 2 + reason.length + CHECKSUM_SIZE);
    const pn = this.allocatePacketNumber();
    let o = writeDataHeader(buf, this.remoteCid, truncate32(pn));
    buf[o++] = FrameType.Reset;
    buf[o++] = reset.code >>> 8;
    buf[o++] = reset.code & 0xff;
    // Reason length as a 2-byte varint (0x40 prefix), so any length up to 16,383 fits.
    buf[o++] = 0x40 | (reason.length >>> 8);
    buf[o++] = reason.length & 0xff;
    buf.set(reason, o);
    o += reason.length;
    this.counters.packetsSent++;
    return seal(buf, o);
  }

  // ------------------------------------------------------------------ bookkeeping

  private maybeQueueClose(): void {
    if (!this.closeRequested || this.closeSentPn >= 0 || this.closeQueued) return;
    if (this.queue.length > 0 || this.unackedFragments > 0 || this.unreliable.length > 0) return;
    this.closeQueued = true;
  }

  private maybeFinishClose(now: number): void {
    if (this._state !== 'closing' || !this.closeAcked || !this.peerClosed) return;
    this.enterDraining(now);
  }

  /**
   * Both CLOSEs are through: the close is complete for the application ('closed' event), but
   * the engine lingers in 'draining' so that a CLOSE the peer repeats (because our ACK was
   * lost) is acknowledged again. The shell keeps routing to it until `state` is 'closed'.
   */
  private enterDraining(now: number): void {
    this._state = 'draining';
    this.drainUntil = now + this.drainPeriod();
    this.events.push({ type: 'closed' });
  }

  private protocolViolation(now: number, reason: string): void {
    this.abort(now, ResetCode.ProtocolViolation, reason);
  }

  private isClosed(): boolean {
    return this._state === 'closed';
  }

  private finish(now: number, error: CloseError | undefined): void {
    void now;
    if (this._state === 'closed') return;
    this._state = 'closed';
    if (this.budget !== null) this.syncBudget();
    this.closeError = error;
    this.events.push(error ? { type: 'closed', error } : { type: 'closed' });
  }

  /** Why the connection closed (undefined: graceful, or still open). */
  get error(): CloseError | undefined {
    return this.closeError;
  }
}

const EMPTY = new Uint8Array(0);
const DRAIN: CoreEvent = { type: 'drain' };
