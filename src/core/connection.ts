import { rdError } from '../errors.js';
import { cidHigh, cidLow } from '../wire/cid-halves.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, type ConnectionId } from '../wire/types.js';
import type { AckScheduler } from './ack-scheduler.js';
import type { BlockedTime } from './blocked-time.js';
import { resolveChannelOptions } from './channel-options.js';
import { connectionInspection, connectionStats, type ConnectionInspection } from './connection-stats.js';
import type { BufferBudget } from './buffer-budget.js';
import { announcedMaxMessageSize, announcedWindow, resolveCoreConfig } from './config.js';
import type { Counters } from './counters.js';
import type { DormantStages } from './dormant.js';
import { compactDeadline, compactIdle, dormantFields, goDormant, peek, wake } from './dormancy.js';
import { closeWithoutBackoff, enterDraining, lingerDeadline, maybeQueueClose } from './close-handshake.js';
import { Deque } from './deque.js';
import { handleFrame, sharedReader } from './frame-dispatch.js';
import type { LossRecovery } from './loss-recovery.js';
import type { PacketBuilder } from './packet-builder.js';
import { unpinFields } from './mutable-fields.js';
import type { PathMtu, PathMtuChange } from './path-mtu.js';
import { Foreign, type PathManager } from './path-manager.js';
import { PathKind } from './path-validation.js';
import type { RttEstimator } from './rtt.js';
import type { Receiver } from './receiver.js';
import { defer, overBudget, syncBudget } from './receive-budget.js';
import { predictReceive, readPredicted } from './receive-prediction.js';
import { checkedChannel, checkedExpiry, checkedReceipt, messageTooLarge } from './send-options.js';
import { nextDatagram } from './send-decision.js';
import type { SendScheduler } from './send-scheduler.js';
import { buildStages, type Stages } from './stages.js';
import {
  ResetCode,
  drainPeriod,
  effectiveIdleTimeout,
  keepAliveInterval,
  resetErrorCode,
  Sleep,
  type ConnectionState,
} from './state.js';
import type { Tracer } from './trace.js';
import { tracerFor } from './qlog-tracer.js';
import type { ConnectionCoreInit } from './endpoint-types.js';
import type { ConnectionParts } from './connection-parts.js';
import type { ChannelOptions, CloseError, ConnectionStats, CoreConfig, CoreEvent, CoreSendOptions, Delivery } from './types.js';

export { ResetCode, type ConnectionState } from './state.js';

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
 * This file is the connection's state machine (open → closing → draining → closed; the rules
 * are in state.ts) and the wiring of its parts, one stage each:
 *
 *   in:  handleDatagram → readPredicted (receive-prediction.ts: the one common shape, straight
 *        through) or DataPacketReader (CRC, header, frames in place) → PathValidator.classify
 *        (source address: current path, or PathManager.onForeignDatagram) → overBudget
 *        (receive-budget.ts) → AckScheduler.onPacket (packet numbers, duplicates)
 *        → handleFrame (frame-dispatch.ts): DATA/UNRELIABLE → Receiver (messages, credit) → events
 *                       ACK → LossRecovery (RTT, losses, PTO) → SendScheduler (content acked/lost)
 *                       PING → ACK scheduling; CLOSE → close-handshake.ts; RESET → `finish`
 *                       PATH_CHALLENGE/PATH_RESPONSE → PathManager (migration: onMoved)
 *   out: pollTransmit (at rest: the ACK state alone) → nextDatagram (send-decision.ts: what goes
 *        into the next datagram) → PathManager.nextDatagram (path frames, to the current path or
 *        the candidate) → LossRecovery.sendBlock (window, pacer) → PacketBuilder.build:
 *        AckScheduler (ACK frame) + SendScheduler (frames) → seal → LossRecovery.onPacketSent
 *
 * Beside it, each with one job: stages.ts builds the stages (and the shared stand-ins);
 * send-decision.ts decides what goes into the next datagram;
 * dormancy.ts decides when a quiet connection gives back its idle storage (idle-storage.ts),
 * takes its dormant form (dormant-stages.ts) and wakes; close-handshake.ts is the graceful
 * close's handshake (the transitions are here); send-options.ts checks the commands' arguments;
 * connection-stats.ts makes the stats() and inspect() snapshots; connection-parts.ts is what
 * the carved modules see of this class.
 *
 * The rules it follows (packet numbers, TSNs, ACKs, loss detection, flow and congestion control,
 * close) are specified in docs/protocol.md; the RFC sections are cited where they apply.
 */

/** A connection's options: what the endpoint hands its connection factory (endpoint-types.ts). */
export type ConnectionCoreOptions = ConnectionCoreInit;

export class ConnectionCore implements ConnectionParts {
  // Fields without `private` are also the state of the modules carved out of this file, which
  // take the connection as their first argument (connection-parts.ts says which); nothing
  // outside src/core uses them.
  readonly role: 'client' | 'server';
  readonly localCid: ConnectionId;
  readonly localCidHi: number;
  readonly localCidLo: number;
  readonly remoteCid: ConnectionId;
  readonly config: CoreConfig;
  _state: ConnectionState = 'open';

  // --- the stages (buildStages; assigned in useStages, by the constructor too). Not readonly: a
  // dormant connection points them at shared stand-ins (`sleep`), and builds them again on its
  // next input (`wake`).
  /** Path-MTU discovery: the datagram size in force, up to our limit and the peer's, whichever is smaller. */
  mtu!: PathMtu;
  /** Which path the connection uses, and moving it (path validation, migration, the silence ACK). */
  path!: PathManager;
  private rtt!: RttEstimator;

  // --- the parts, in the order a datagram meets them
  acks!: AckScheduler;
  receiver!: Receiver;
  recovery!: LossRecovery;
  sender!: SendScheduler;
  builder!: PacketBuilder;

  // --- limits this side announced and the peer announced (docs/protocol.md §4)
  /** Largest datagram we accept: larger ones are dropped unread. */
  readonly localMaxDatagram: number;
  /** Largest message we may send: ours, and the peer's announced limit when it gave one. */
  private readonly maxOutgoingMessage: number;
  /** The endpoint's byte budget shared by all its connections (BufferBudget), if any. */
  readonly budget: BufferBudget | null;
  /** `retainedBytes` as last added to the budget. */
  budgetReported = 0;

  // --- lifecycle
  lastReceivedAt: number;
  /**
   * Server: the client's first packet will bound the round trip (ConnectionCoreInit.acceptSentNow);
   * until it comes `lastReceivedAt` is still the time the ACCEPT left.
   */
  awaitingFirstPacket: boolean;
  readonly idleTimeout: number;
  private readonly keepAliveInterval: number;
  closeRequested = false;
  peerClosed = false;
  drainUntil = Infinity;
  pendingReset: { code: number; reason: string } | null = null;
  private closeError: CloseError | undefined;

  /** The last pollTransmit(now, true) left an ACK for the end of the batch. */
  ackDeferred = false;

  /** Packets wait for an ACK, due or not (EndpointCore.batchAckWaits). */
  get ackWaiting(): boolean {
    return this.acks.waiting;
  }
  /**
   * The send side is at rest: the last full decision (send-decision.ts `nextDatagram`) returned
   * nothing, with the connection open, nothing to send (no data, retransmission, CLOSE or
   * unreliable message sendable), no probe and no path-MTU probe due, no path frame waiting; its side effects
   * (pacer, app-limited mark, blocked-time cause) are then idempotent. Only an ACK can come of the
   * next poll, and `pollTransmit` decides that from the ACK state alone until an input that may
   * change the send side clears this: every input except a datagram of DATA, DATA_PART,
   * UNRELIABLE and PING frames from the current path, and `release()` (both touch only the receive
   * side and the ACK state, which `pollTransmit` reads afresh). What this saves is the whole send
   * decision after every datagram of a pure receiver's socket batch (issue 11).
   */
  resting = false;
  /** Datagrams handed in after the connection closed (ConnectionCoreLike.readAfterClose). */
  readAfterClose = 0;

  // --- events, statistics, trace
  /** One slot at first (an idle connection's last event was one message): grown by doubling. */
  readonly events = new Deque<CoreEvent>(1);
  counters!: Counters;
  blocked!: BlockedTime;
  /**
   * The dormant form (dormant.ts): what the stages held that a fresh build does not, while the
   * stage fields point at shared stand-ins. Null while awake.
   */
  dormant: DormantStages | null = null;
  /**
   * Sleep.Wanted: go dormant at the next pollTransmit that returns null; Sleep.Refused: the
   * stages could not be rebuilt exactly last time (tried again after new activity); Sleep.Never:
   * awake for good, from the start with the application's own congestion controller
   * (`congestion: factory`): a rebuild would call its factory again for an object the
   * application may hold, whose private (`#`) fields the walk cannot see.
   */
  sleep: Sleep = Sleep.Awake;
  /** Null unless traced: every trace point is guarded by one null check. */
  readonly trace: Tracer | null;

  constructor(options: ConnectionCoreOptions) {
    const config = resolveCoreConfig(options.config);
    this.config = config;
    const trace = tracerFor(options.trace);
    this.trace = trace;
    this.role = options.role;
    this.localCid = options.localCid;
    this.localCidHi = cidHigh(options.localCid);
    this.localCidLo = cidLow(options.localCid);
    this.remoteCid = options.remoteCid;
    const local = options.localParams;
    const remote = options.remoteParams;

    const ceiling = Math.min(config.maxDatagramSize, remote.maxDatagramSize || config.maxDatagramSize);
    if (ceiling - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE < 1) throw new RangeError('maxDatagramSize is too small');
    if (typeof config.congestion === 'function') this.sleep = Sleep.Never;
    this.localMaxDatagram = local.maxDatagramSize || config.maxDatagramSize;
    // The peer's limit when it announced one (§4.1); a peer that predates the parameter: ours.
    this.maxOutgoingMessage = Math.min(config.maxMessageSize, remote.maxMessageSize ?? Infinity);
    this.budget = options.budget ?? null;
    const random = config.random;
    const s = buildStages(this, config, trace, this.events, options.remoteCid, {
      now: options.now,
      ceiling,
      localTsn: local.initialTsn,
      peerWindow: remote.initialWindow,
      localPn: local.initialPacketNumber,
      remoteTsn: remote.initialTsn,
      localWindow: local.initialWindow,
      localMaxDatagram: this.localMaxDatagram,
      localMaxMessage: local.maxMessageSize ?? announcedMaxMessageSize(config),
      remotePn: remote.initialPacketNumber,
      address: options.address,
      port: options.port ?? 0,
      // Only path validation draws random bytes, and only with an address: no closure otherwise.
      randomBytes: options.randomBytes ?? (options.address === undefined ? null : (n) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256))),
      packetOverhead: options.packetOverhead ?? 0,
      canonical: false,
    });
    this.useStages(s);
    if (options.handshakeRtt !== undefined && options.handshakeRtt > 0) this.recovery.onHandshakeRtt(options.now, options.handshakeRtt);

    this.idleTimeout = effectiveIdleTimeout(config.idleTimeout, remote.idleTimeout);
    this.keepAliveInterval = keepAliveInterval(config.keepAliveInterval, this.idleTimeout);
    this.lastReceivedAt = options.now;
    this.awaitingFirstPacket = options.acceptSentNow === true;
    // Cleared at a server's first packet, maybe long after warm-up; written when the connection
    // goes dormant and wakes: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['awaitingFirstPacket', 'dormant', 'sleep']);
    if (trace !== null) trace.connectionStarted(options.now, local, remote, this.recovery);
  }

  /** Where the last datagram from pollTransmit goes: the current path, or the address being validated. */
  get transmitAddress(): string | undefined {
    if (this.dormant !== null) return peek(this, (c) => c.path.transmitAddress);
    return this.path.transmitAddress;
  }

  get transmitPort(): number | undefined {
    if (this.dormant !== null) return peek(this, (c) => c.path.transmitPort);
    return this.path.transmitPort;
  }

  /** The remote address the connection sends to (its current path); undefined without addresses. */
  get remoteAddress(): string | undefined {
    if (this.dormant !== null) return peek(this, (c) => c.path.currentAddress);
    return this.path.currentAddress;
  }

  get remotePort(): number | undefined {
    if (this.dormant !== null) return peek(this, (c) => c.path.currentPort);
    return this.path.currentPort;
  }

  /**
   * This side's own address changed (the application moved the endpoint to a new socket,
   * `rebind()`): the path is new for congestion control, RTT and path MTU (RFC 9000 §9.4), and
   * an ack-eliciting packet goes out at once so that the peer sees the new address and
   * validates it even when the application has nothing to send.
   */
  migrate(now: number): void {
    if (this.dormant !== null) wake(this);
    this.resting = false;
    if (this._state === 'closed') return;
    this.path.onLocalMove(now, this._state === 'open');
  }

  /**
   * The receive window (in TSNs) to announce for a receive window in bytes: each TSN may cost a
   * whole datagram of `maxDatagramSize` plus bookkeeping (ReceiveBuffer.slotCost).
   */
  static windowFragments(receiveWindow: number, maxDatagramSize: number): number {
    return announcedWindow({ ...resolveCoreConfig(undefined), receiveWindow, maxDatagramSize });
  }

  /** @internal PathMtuListener: the datagram size in force changed (the window follows; the application hears it). */
  pathMtuChanged(size: number, reason: PathMtuChange): void {
    this.resting = false;
    // The controller in force now: a move to a new path replaces it.
    this.recovery.cc.onMaxDatagramSizeChanged?.(size);
    this.events.push({ type: 'path-mtu', size, reason });
  }

  /** Largest message `send()` accepts: ours, and the peer's announced limit when it gave one. */
  get maxMessageSize(): number {
    return this.maxOutgoingMessage;
  }

  /** Bytes the peer's data holds in this connection now (reliable and unreliable). */
  get retainedBytes(): number {
    if (this.dormant !== null) return peek(this, (c) => c.receiver.retainedBytes);
    return this.receiver.retainedBytes;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Largest fragment payload now: a full datagram minus packet and DATA frame overhead. */
  get maxFragmentPayload(): number {
    if (this.dormant !== null) return peek(this, (c) => c.sender.maxFragmentPayload);
    return this.sender.maxFragmentPayload;
  }

  /** The datagram size in force (path-MTU discovery), bytes. */
  get pathMtu(): number {
    if (this.dormant !== null) return peek(this, (c) => c.mtu.current);
    return this.mtu.current;
  }

  /** Message bytes queued and not yet sent once. */
  get bufferedAmount(): number {
    // Dormant only with nothing queued (goDormant), and nothing queues without waking it: no rebuild
    // for the shell's send(), which reads this before queueing.
    if (this.dormant !== null) return 0;
    return this.sender.queuedBytes;
  }

  /** Why the connection closed (undefined: graceful, or still open). */
  get error(): CloseError | undefined {
    return this.closeError;
  }

  // ------------------------------------------------------------------ commands

  /**
   * Queue a message. Throws ERR_MESSAGE_TOO_LARGE or ERR_CONNECTION_CLOSED; a bad channel,
   * maxAge or receipt id throws ERR_INVALID_ARG_VALUE. `now` is needed only with `maxAge`.
   */
  send(data: Uint8Array, options: Delivery | CoreSendOptions = 'ordered', now?: number): void {
    // A plain delivery here, an options object in sendWith: V8 marks a function for TurboFan
    // after 3 + bytecode length / 150 of its own ticks, so the per-message part alone is
    // compiled sooner (bench/tierup.ts, issue 11).
    if (typeof options !== 'string') return this.sendWith(data, options, now);
    if (this.dormant !== null) wake(this);
    this.admit(data);
    this.sender.enqueue(data, options, 0, Infinity, 0);
  }

  private sendWith(data: Uint8Array, options: CoreSendOptions, now: number | undefined): void {
    if (this.dormant !== null) wake(this);
    const delivery: Delivery = options.delivery ?? 'ordered';
    const channel = checkedChannel(options.channel ?? 0);
    const expiresAt = checkedExpiry(options, delivery, now);
    const receipt = checkedReceipt(options.receipt ?? 0);
    this.admit(data);
    this.sender.enqueue(data, delivery, channel, expiresAt, receipt);
  }

  /** send()'s checks of the connection and the message's size (the connection stops resting). */
  private admit(data: Uint8Array): void {
    if (this._state !== 'open' || this.closeRequested) throw rdError('ERR_CONNECTION_CLOSED', 'the connection is closing or closed');
    this.resting = false;
    if (data.length > this.maxOutgoingMessage) throw messageTooLarge(data.length, this.maxOutgoingMessage, this.config.maxMessageSize);
  }

  /** Set a channel's priority (lower first), weight (share within its priority) and redundancy (copies of small messages). */
  setChannel(channel: number, options: ChannelOptions): void {
    if (this.dormant !== null) wake(this);
    checkedChannel(channel);
    this.resting = false;
    const { priority, weight } = this.sender.scheduler.settingsOf(channel);
    const setup = resolveChannelOptions({ priority, weight, redundancy: this.sender.redundancyOf(channel) }, options);
    this.sender.scheduler.configure(channel, setup);
    this.sender.setRedundancy(channel, setup.redundancy);
  }

  /**
   * For flush(): the number of reliable messages queued so far. An 'acked' event with `through`
   * at least this follows once all of them are acknowledged (at once if they already are:
   * compare with `ackedThrough`).
   */
  flushMark(): number {
    if (this.dormant !== null) wake(this);
    const mark = this.sender.sentMark;
    if (mark > this.sender.ackedThrough) this.sender.watchAcked(mark);
    return mark;
  }

  /** Push one 'acked' event once the first `mark` reliable messages are all acknowledged. */
  watchAcked(mark: number): void {
    if (this.dormant !== null) wake(this);
    if (mark > this.sender.ackedThrough) this.sender.watchAcked(mark);
  }

  /** The first `ackedThrough` reliable messages sent (in send order) are all acknowledged. */
  get ackedThrough(): number {
    if (this.dormant !== null) return peek(this, (c) => c.sender.ackedThrough);
    return this.sender.ackedThrough;
  }

  /**
   * The application consumed (or dropped) a message: give back the bytes it held, the `credit`
   * of its 'message' event. For reliable messages that reopens the peer's window (and may grow
   * it: window-tuner.ts). `now` defaults to the time of the last datagram received.
   */
  release(credit: number, delivery: Delivery = 'ordered', channel = 0, now = this.lastReceivedAt): void {
    if (this.dormant !== null) wake(this);
    if (credit <= 0) return;
    if (this.receiver.release(credit, delivery, channel, now, this.rtt, this.budget)) this.acks.onCreditReleased();
    if (this.budget !== null) {
      this.budget.progressed(this);
      syncBudget(this);
    }
  }

  /** Graceful close: finish sending, then exchange CLOSE. Idempotent. */
  close(now: number): void {
    if (this.dormant !== null) wake(this);
    if (this._state !== 'open') return;
    this.closeRequested = true;
    this.setState(now, 'closing');
    maybeQueueClose(this);
  }

  /** Abortive close: one RESET frame goes out, the connection is closed at once. */
  abort(now: number, code: number = ResetCode.Abort, reason = ''): void {
    if (this.dormant !== null) wake(this);
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      // The close already completed (and was reported): nothing to tell the peer.
      this.becomeClosed(now);
      return;
    }
    this.pendingReset = { code, reason };
    this.finish(now, { code: resetErrorCode(code), message: reason || 'connection aborted', initiator: 'local' });
  }

  /** The endpoint verified a stateless reset for this connection. */
  handleStatelessReset(now: number): void {
    if (this.dormant !== null) wake(this);
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      this.becomeClosed(now);
      return;
    }
    this.finish(now, { code: 'ERR_CONNECTION_RESET', message: 'stateless reset', initiator: 'remote' });
  }

  // ------------------------------------------------------------------ input

  /**
   * `authenticated`: packet protection opened it (its CRC field is not computed, nor checked).
   * `address`, `port`: where it came from (needed when the connection was made with an address:
   * the path check below is the one place every datagram of the connection passes).
   */
  handleDatagram(now: number, datagram: Uint8Array, authenticated = false, address?: string, port = 0): void {
    // The rare exits (closed, dropped, another path) are out of line (readDropped, readForeign):
    // V8 marks a function after 3 + bytecode/150 ticks of its own bytecode, and this runs once per
    // received datagram (once per ACK on a sender), so its cold cases would delay its compile.
    if (this.dormant !== null) wake(this);
    if (this._state === 'closed' || datagram.length > this.localMaxDatagram) return this.readDropped(now, datagram.length, 'invalid');
    if (predictReceive && !authenticated && readPredicted(this, now, datagram, address, port)) return;
    this.readGeneral(now, datagram, authenticated, address, port);
  }

  /**
   * handleDatagram's general path (every datagram the prediction declined): the CRC and header
   * (DataPacketReader.open), the path check, the budget, the packet number, then each frame.
   * Its own function, so that handleDatagram, which every datagram runs, is short: V8 marks a
   * function after 3 + bytecode/150 ticks of its own, and compiles all its bytecode (a
   * ping-pong's handleDatagram compiled at trip ~4,800, 4–7 ms, issue 11).
   */
  private readGeneral(now: number, datagram: Uint8Array, authenticated: boolean, address: string | undefined, port: number): void {
    const packet = sharedReader;
    const verdict = packet.open(datagram, authenticated);
    if (verdict !== 'ok') return this.readDropped(now, datagram.length, verdict === 'checksum' ? 'checksum' : 'header_parse_error');
    if (packet.dcidHi !== this.localCidHi || packet.dcidLo !== this.localCidLo) return this.readDropped(now, datagram.length, 'unexpected_packet');
    // The path check (docs/protocol.md §23): from the current path, read on; from another
    // address, only what path validation allows.
    let kind: PathKind = PathKind.Current;
    const path = this.path;
    if (address !== undefined) {
      kind = path.classify(address, port);
      if (kind !== PathKind.Current) {
        const read = this.readForeign(now, datagram, authenticated, address, port);
        if (read === Foreign.Drop) return;
        kind = read;
      }
    }
    path.arrival = kind;
    if (this.budget !== null && overBudget(this, packet.dataFrames, datagram.length, packet.packetNumber)) return defer(this, now, datagram.length);
    if (!this.acks.onPacket(now, packet.packetNumber)) return this.readDropped(now, datagram.length, 'duplicate');
    if (this.awaitingFirstPacket) this.firstPacket(now, kind);
    this.counters.packetsReceived++;
    this.counters.bytesReceived += datagram.length;
    path.onPacketRead(now, kind);
    this.lastReceivedAt = now;
    if (this.trace !== null || this._state === 'draining') this.readNoted(now, datagram);

    let ackEliciting = false;
    // DATA payloads stay in the datagram (no view each): handleFrame hands the receiver where they are.
    for (let frame = packet.nextInPlace(); frame !== null; frame = packet.nextInPlace()) {
      // Path frames are answered by path frames, not acknowledged for their own sake (§5.10).
      if (frame.type !== 'ack' && frame.type !== 'path-challenge' && frame.type !== 'path-response') ackEliciting = true;
      handleFrame(this, now, frame);
      if (this.isClosed()) return;
    }
    if (ackEliciting) this.acks.onAckElicitingPacket(now);
    if (this.budget !== null) syncBudget(this);
  }

  /**
   * A datagram not read (handleDatagram's rare exits): counted and traced by `reason`. After
   * close it is only counted (the endpoint counts these when it retires the connection:
   * endpoint-registry.ts `forget`); 'invalid' is one larger than we announced (the endpoint drops
   * these first, as `oversize`: a fragment of it could keep more alive than one TSN of credit allows).
   */
  private readDropped(now: number, length: number, reason: 'invalid' | 'checksum' | 'header_parse_error' | 'unexpected_packet' | 'duplicate'): void {
    if (this._state === 'closed') {
      this.readAfterClose++;
      return;
    }
    if (reason === 'checksum') this.counters.checksumFailures++;
    else if (reason === 'duplicate') this.counters.duplicatesDropped++;
    else this.counters.malformedDropped++;
    if (this.trace !== null) this.trace.packetDropped(now, length, reason);
  }

  /** handleDatagram's rare notes on a datagram read: the trace's record, and a draining peer's period extended. */
  private readNoted(now: number, datagram: Uint8Array): void {
    if (this.trace !== null) this.trace.packetReceived(now, this.acks.lastPacketNumber, datagram, this.recovery.packetNumbers.largestSent, sharedReader);
    if (this._state === 'draining') this.drainUntil = now + drainPeriod(this.recovery.basePto());
  }

  /**
   * handleDatagram's path check for a datagram from another address (not the current path):
   * what path validation allows, as the PathKind to read it as, or Foreign.Drop.
   */
  private readForeign(now: number, datagram: Uint8Array, authenticated: boolean, address: string, port: number): PathKind | typeof Foreign.Drop {
    this.resting = false;
    const read = this.path.onForeignDatagram(now, sharedReader, datagram, authenticated, address, port, this._state);
    if (read === Foreign.Moved) return this.readAfterMove(now, datagram) ? PathKind.Current : Foreign.Drop;
    return read;
  }

  /**
   * Server: the client's first packet, read from its path. The ACCEPT left when this engine was
   * made (`lastReceivedAt` says when: nothing was received or deferred before), and the client
   * could send nothing before it had it: the time since bounds the round trip
   * (LossRecovery.onHandshakeBound). One from elsewhere, or after a deferred one, gives none.
   */
  private firstPacket(now: number, kind: PathKind): void {
    this.awaitingFirstPacket = false;
    if (kind === PathKind.Current && this.counters.packetsDeferred === 0) this.recovery.onHandshakeBound(now - this.lastReceivedAt);
  }

  /**
   * The datagram just read validated the candidate (Foreign.Moved): read what the new path sent
   * meanwhile (its ACKs settle what did arrive before the rest is declared lost), then move, then
   * open this datagram again (the reader is shared) to read it as from the new current path.
   * False: not to be read (the connection closed meanwhile, or it does not open).
   */
  private readAfterMove(now: number, datagram: Uint8Array): boolean {
    const path = this.path;
    const current = path.validator!;
    for (const held of path.takeHeld()) this.handleDatagram(now, held, false, current.address, current.port);
    if (this.isClosed()) return false;
    path.onMoved(now);
    return sharedReader.open(datagram, false) === 'ok';
  }

  handleTimeout(now: number): void {
    if (this.dormant !== null) wake(this);
    this.resting = false;
    if (this._state === 'closed') return;
    if (this._state === 'draining') {
      // Checked before the idle timeout: the close was already reported as graceful.
      if (now >= this.drainUntil || (this.idleTimeout > 0 && now >= this.lastReceivedAt + this.idleTimeout)) {
        this.becomeClosed(now);
      }
      return;
    }
    if (now >= lingerDeadline(this)) {
      // Our CLOSE was never acknowledged, but the peer had finished and has been silent for the
      // whole linger: it received one of our many copies (or is gone). Done, gracefully.
      enterDraining(this, now);
      this.becomeClosed(now);
      return;
    }
    this.acks.onTimeout(now);
    if (this.idleTimeout > 0 && now >= this.lastReceivedAt + this.idleTimeout) {
      this.finish(now, {
        code: 'ERR_IDLE_TIMEOUT',
        message: `nothing heard from the peer for ${this.idleTimeout} ms`,
        initiator: 'local',
      });
      return;
    }
    this.recovery.onTimeout(now, this.sender.flowBlocked(), closeWithoutBackoff(this));
    this.mtu.onTimeout(now);
    this.path.onTimeout(now, this.lastReceivedAt, this._state);
    if (
      this.keepAliveInterval > 0 &&
      now >= this.recovery.lastSentAt + this.keepAliveInterval &&
      this.recovery.sent.ackElicitingOutstanding === 0
    ) {
      this.recovery.requestProbe();
    }
    if (now >= compactDeadline(this)) compactIdle(this);
  }

  // ------------------------------------------------------------------ output

  pollEvent(): CoreEvent | null {
    return this.events.shift() ?? null;
  }

  pollTimeout(): number | null {
    // Dormant: nothing changed since it fell asleep, so neither did its deadlines.
    const dormant = this.dormant;
    if (dormant !== null) return dormant.timeout === Infinity ? null : dormant.timeout;
    // Open (every poll of a working connection): no CLOSE to repeat without backoff and no
    // linger, so neither is asked; the other states are out of line (`closingTimeout`), so the
    // per-trip poll compiles without them. The steps below are closingTimeout's with those two
    // left out, written out rather than shared through a helper: measured, the helper is compiled
    // as a root of its own beside pollTimeout, one more TurboFan job in the ping window.
    if (this._state !== 'open') return this.closingTimeout();
    let t = this.idleTimeout > 0 ? this.lastReceivedAt + this.idleTimeout : Infinity;
    t = Math.min(t, this.recovery.deadline(this.sender.flowBlocked(), false));
    t = Math.min(t, this.acks.deadline(), this.recovery.pacingDeadline, this.mtu.deadline);
    t = Math.min(t, this.path.deadline(this.lastReceivedAt, this._state));
    if (this.keepAliveInterval > 0 && this.recovery.sent.ackElicitingOutstanding === 0) {
      t = Math.min(t, this.recovery.lastSentAt + this.keepAliveInterval);
    }
    t = Math.min(t, compactDeadline(this));
    return t === Infinity ? null : t;
  }

  /** pollTimeout once closing, draining or closed (rare: once per connection's end). */
  private closingTimeout(): number | null {
    if (this._state === 'closed') return null;
    let t = Infinity;
    if (this.idleTimeout > 0) t = this.lastReceivedAt + this.idleTimeout;
    if (this._state === 'draining') return Math.min(t, this.drainUntil);
    t = Math.min(t, this.recovery.deadline(this.sender.flowBlocked(), closeWithoutBackoff(this)), lingerDeadline(this));
    t = Math.min(t, this.acks.deadline(), this.recovery.pacingDeadline, this.mtu.deadline);
    t = Math.min(t, this.path.deadline(this.lastReceivedAt, this._state));
    if (this.keepAliveInterval > 0 && this.recovery.sent.ackElicitingOutstanding === 0) {
      t = Math.min(t, this.recovery.lastSentAt + this.keepAliveInterval);
    }
    t = Math.min(t, compactDeadline(this));
    return t === Infinity ? null : t;
  }

  /**
   * The next datagram to send, or null when nothing may be sent now (no data, congestion or
   * flow control, pacing; `pollTimeout()` then says when to ask again).
   *
   * `batch`: the caller is in the middle of a batch of datagrams that arrived together and will
   * call again once it has read them all. An ACK-only packet that is due only because enough
   * packets arrived (not for a gap, a PING or a timer) then waits for that call, so that one
   * ACK covers the batch; `ackDeferred` says one is waiting.
   */
  pollTransmit(now: number, batch = false): Uint8Array | null {
    const dormant = this.dormant;
    if (dormant !== null) {
      // Nothing to send until an input or a deadline (which wake it).
      if (now < dormant.timeout) return null;
      wake(this);
    }
    // The ACK's state, read on every poll: at rest (`resting`) it alone decides, else
    // `nextDatagram` (send-decision.ts) decides with it. At rest with no ACK due, or one due by count that waits
    // for the batch's end, nothing is sent (what `nextDatagram` would decide with no data to
    // add); `ackDeferred` is stored by one statement for every case (the old value kept where
    // nothing decides it), so whichever case first comes after this was compiled finds type
    // feedback instead of deoptimising it (mutable-fields.ts).
    const acks = this.acks;
    const ackDue = acks.ackDue(now);
    const batchMayWait = acks.mayWaitForBatch(now);
    const resting = this.resting;
    const defer = ackDue && batch && batchMayWait;
    this.ackDeferred = resting && ackDue ? defer : this.ackDeferred;
    const datagram = resting && (!ackDue || defer) ? null : nextDatagram(this, now, batch, ackDue, batchMayWait);
    if (datagram === null) {
      // The end of a burst: its one metrics_updated (loss-recovery.ts `metricsDue`).
      if (this.trace !== null) this.recovery.traceDeferredMetrics(now);
      if (this.sleep === Sleep.Wanted) goDormant(this, now);
    }
    return datagram;
  }

  /**
   * Did the last pollTransmit at `now` stop sending data (it sent some, then met the window, the
   * pacer, flow control or an empty queue)? The endpoint then tells `sentUntil` when the last
   * datagram really left (blocked-time.ts). Dormant: it sent nothing (nothing is in flight).
   */
  stoppedSendingAt(now: number): boolean {
    return this.dormant === null && this.blocked.stoppedSendingAt(now);
  }

  /** The datagrams of the flush at `flushNow` that stopped sending data had all left by `end` (stats' time blocked). */
  sentUntil(flushNow: number, end: number): void {
    if (this.dormant === null) this.blocked.sentUntil(flushNow, end);
  }

  /**
   * Counters and estimates. With `now`, the time-blocked totals include the current interval;
   * without it they run to the sender's last change of state.
   */
  stats(now?: number): ConnectionStats {
    if (this.dormant !== null) return peek(this, (c) => c.stats(now));
    return connectionStats(this.recovery, this.mtu, this.path, this.counters, this.receiver, this.blocked, closeWithoutBackoff(this), now);
  }

  /** Internal counters the property tests check at every step. */
  inspect(): ConnectionInspection {
    if (this.dormant !== null) return peek(this, (c) => c.inspect());
    return connectionInspection(this.recovery, this.sender, this.mtu, this.receiver, this.events, this.config.maxUnreliableReassembly);
  }

  /**
   * @internal Diagnostics, for a debugger or a one-off script (nothing in the repository calls it;
   * bench/idle-heap.ts does not): the fields a dormant connection records, `path = value`; null while awake.
   */
  dormantFields(): string[] | null {
    return dormantFields(this);
  }

  /** @internal Points the stage fields at `s` (a build, a rebuild on waking, the shared stand-ins: dormancy.ts). */
  useStages(s: Stages): void {
    this.counters = s.counters;
    this.blocked = s.blocked;
    this.mtu = s.mtu;
    this.sender = s.sender;
    this.recovery = s.recovery;
    this.rtt = s.recovery.rtt;
    this.receiver = s.receiver;
    this.acks = s.acks;
    this.builder = s.builder;
    this.path = s.path;
  }

  // ------------------------------------------------------------------ the state machine

  /** Every state change goes through here (traced; the sender's clocks stop once it is done). */
  setState(now: number, to: ConnectionState): void {
    this.resting = false;
    const from = this._state;
    this._state = to;
    if ((to === 'draining' || to === 'closed') && !this.blocked.stopped) {
      this.blocked.stop(now);
      if (this.trace !== null) this.trace.timeBlocked(now, this.blocked.read());
    }
    if (this.trace !== null) this.trace.connectionState(now, from, to, to === 'closed' ? this.closeError?.code : undefined);
  }

  /** A method, not `_state === 'closed'`: a frame handler may have closed it since the last check. */
  isClosed(): boolean {
    return this._state === 'closed';
  }

  /** Closed without a report (the close was already reported, or is being reported). */
  private becomeClosed(now: number): void {
    this.setState(now, 'closed');
    if (this.budget !== null) syncBudget(this);
  }

  finish(now: number, error: CloseError | undefined): void {
    if (this._state === 'closed') return;
    this.closeError = error;
    this.setState(now, 'closed');
    if (this.budget !== null) syncBudget(this);
    this.events.push(error ? { type: 'closed', error } : { type: 'closed' });
  }
}
