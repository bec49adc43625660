import type { DataPacketReader } from '../wire/data-packet-reader.js';
import { DATA_OVERHEAD, PATH_FRAME_SIZE } from '../wire/types.js';
import type { AckScheduler } from './ack-scheduler.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import type { LossRecovery } from './loss-recovery.js';
import { unpinFields } from './mutable-fields.js';
import type { PacketBuilder } from './packet-builder.js';
import type { PathMtu } from './path-mtu.js';
import { PathKind, PathValidator, VALIDATION_PTOS, type PathOutcome } from './path-validation.js';
import { GRANULARITY } from './rtt.js';
import type { ConnectionState } from './state.js';
import type { Tracer } from './trace.js';
import type { CoreConfig, CoreEvent } from './types.js';

/**
 * Which path the connection uses, and moving it (RFC 9000 §9; docs/protocol.md §23): the wiring
 * between path validation (path-validation.ts: the current address, the candidate, challenges and
 * the amplification limit) and the rest of the connection, which a move or a new address touches
 * (loss recovery and congestion control, the path MTU, the ACK scheduler, the application's
 * events). The connection asks it at three points:
 *
 *   in:    a datagram from another address than the current path → {@link onForeignDatagram}
 *          (drop it, hold it, read it, or the move it completes: {@link Foreign}); every packet
 *          read → {@link onPacketRead}; its path frames → {@link onChallengeFrame} / {@link onResponseFrame}
 *   out:   {@link nextDatagram} (path frames go first, each alone, to the current path or the candidate)
 *   timer: {@link deadline} / {@link onTimeout} (challenge repeats, the candidate's expiry, the
 *          silence ACK of {@link silenceDeadline})
 *
 * and the application, when this side moved ({@link onLocalMove}). Without an address (a core
 * made with none, in tests) there is one path and nothing to check.
 *
 * The validator is created at first need: the first datagram from another address, or the first
 * path frame. Until then the current path is this object's `address` and `port` (an idle
 * connection never needs a validator: ~200 bytes each, issue 11).
 */

/** A packet with one PATH_CHALLENGE or PATH_RESPONSE frame: header, frame, checksum. */
const PATH_PACKET_SIZE = DATA_OVERHEAD + PATH_FRAME_SIZE;
/** Repeated ACKs per silence of the peer in the middle of a message (silenceDeadline). */
const MAX_SILENCE_ACKS = 4;

/** What {@link PathManager.onForeignDatagram} says besides a PathKind to read the datagram as. */
export const Foreign = {
  /** Not to be read (the shared reader may have been moved on). */
  Drop: -1,
  /**
   * It validated the candidate: the connection reads the held datagrams ({@link PathManager.takeHeld}),
   * then calls {@link PathManager.onMoved}, then reads this datagram (opened again) as from the current path.
   */
  Moved: -2,
} as const;
export type ForeignVerdict = PathKind | (typeof Foreign)[keyof typeof Foreign];

export class PathManager {
  /**
   * Path validation and, once it exists, the current path; null until first needed
   * ({@link ensureValidator}), and always when the connection was made without an address.
   */
  validator: PathValidator | null = null;
  /** The current path while there is no validator (undefined: the connection has no address). */
  private readonly address: string | undefined;
  private readonly port: number;
  /** The path the datagram being read came from (its PATH_CHALLENGE / PATH_RESPONSE frames need it). */
  arrival: PathKind = PathKind.Current;
  /** The last datagram pollTransmit returned goes to the candidate address, not the current one. */
  private toCandidate = false;
  /**
   * The peer was in the middle of a message (its last DATA fragment was not the LAST one) when
   * it fell silent: see {@link silenceDeadline}. Set by the connection as it reads DATA.
   */
  peerMidMessage = false;
  /** ACKs repeated for the current silence. */
  private silenceAcks = 0;

  constructor(
    address: string | undefined,
    port: number,
    /** For the validator's challenges, once it exists (null without an address: never needed). */
    private readonly randomBytes: ((n: number) => Uint8Array) | null,
    private readonly config: CoreConfig,
    private readonly recovery: LossRecovery,
    private readonly mtu: PathMtu,
    private readonly acks: AckScheduler,
    private readonly builder: PacketBuilder,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
    private readonly trace: Tracer | null,
    /** Bytes packet protection adds on the wire (amplification accounting). */
    private readonly packetOverhead: number,
  ) {
    this.address = address;
    this.port = port;
    // Written on a migration only (the validator: at its first need): mutable from the start, so
    // that the first one deoptimises nothing that reads them (mutable-fields.ts).
    unpinFields(this, ['arrival', 'toCandidate', 'peerMidMessage', 'silenceAcks', 'validator']);
  }

  /** The validator, created now if this is its first need (only for a connection with an address). */
  private ensureValidator(): PathValidator {
    return (this.validator ??= new PathValidator(this.address!, this.port, this.randomBytes!));
  }

  /** The current path's address (undefined without addresses). */
  get currentAddress(): string | undefined {
    const v = this.validator;
    return v === null ? this.address : v.address;
  }

  get currentPort(): number | undefined {
    const v = this.validator;
    return v !== null ? v.port : this.address === undefined ? undefined : this.port;
  }

  /**
   * The one address check, for every datagram that comes with its address (PathValidator.classify).
   * Without addresses there is one path: Current.
   */
  classify(address: string, port: number): PathKind {
    const v = this.validator;
    if (v !== null) return v.classify(address, port);
    return (port === this.port && address === this.address) || this.address === undefined ? PathKind.Current : PathKind.Other;
  }

  /** Where the last datagram from pollTransmit goes: the current path, or the address being validated. */
  get transmitAddress(): string | undefined {
    const v = this.validator;
    if (v === null) return this.address;
    return this.toCandidate ? (v.candidateAddress ?? v.address) : v.address;
  }

  get transmitPort(): number | undefined {
    const v = this.validator;
    if (v === null) return this.address === undefined ? undefined : this.port;
    return this.toCandidate && v.candidateAddress !== null ? v.candidatePort : v.port;
  }

  // ------------------------------------------------------------------ in

  /**
   * A datagram (its header checked, `packet` open on it) from an address that is not the current
   * path. Returns the path kind to read it as, or a {@link Foreign} verdict.
   *
   * Encrypted (`authenticated`): it proved it comes from the peer, so it is read as usual (RFC
   * 9000 §9.3 lets data arrive before validation), and validation of its address starts.
   * Plaintext: nothing but its path frames is read until the address is validated. A packet from
   * the candidate is held for then; the PATH_RESPONSE that validates the candidate moves the
   * connection, and the held packets and this one are read as from the new current path.
   */
  onForeignDatagram(
    now: number,
    packet: DataPacketReader,
    datagram: Uint8Array,
    authenticated: boolean,
    address: string,
    port: number,
    state: ConnectionState,
  ): ForeignVerdict {
    if (state !== 'open' && state !== 'closing') {
      // Draining: nothing is sent any more, so nothing can validate that path; not read, counted.
      this.counters.packetsFromUnvalidatedPath++;
      if (this.trace !== null) this.trace.packetDropped(now, datagram.length, 'unvalidated_path');
      return Foreign.Drop;
    }
    const fresh = this.validator === null || this.validator.candidateAddress === null;
    if (fresh && packet.frames === packet.pathFrames) {
      // Only path frames (or nothing) from an address nobody is validating: an answer to a
      // challenge already given up, or a probe for a path we did not start. Not a reason to
      // start one (that would let two addresses bounce challenges for ever); not read.
      this.counters.packetsFromUnvalidatedPath++;
      if (this.trace !== null) this.trace.packetDropped(now, datagram.length, 'unvalidated_path');
      return Foreign.Drop;
    }
    const path = this.ensureValidator();
    const kind = path.onForeignDatagram(now, address, port, datagram.length + this.packetOverhead, this.validationTimeout());
    if (fresh && kind === PathKind.Candidate && this.trace !== null) this.trace.pathProbing(now, address, port);
    if (authenticated) return kind;
    let moved = false;
    if (kind === PathKind.Candidate && packet.pathFrames > 0) {
      for (let f = packet.next(); f !== null; f = packet.next()) {
        if (f.type === 'path-challenge') path.onChallenge(f.data, kind);
        else if (f.type === 'path-response' && path.onResponse(f.data, kind, now) === 'moved') moved = true;
      }
    }
    if (!moved) {
      this.counters.packetsFromUnvalidatedPath++;
      if (kind === PathKind.Candidate) path.hold(datagram);
      if (this.trace !== null) this.trace.packetDropped(now, datagram.length, 'unvalidated_path');
      return Foreign.Drop;
    }
    return Foreign.Moved;
  }

  /** After {@link Foreign.Moved}: the plaintext datagrams the new path sent before its validation, once. */
  takeHeld(): Uint8Array[] {
    return this.validator!.takeHeld();
  }

  /**
   * The connection moved to the address just validated (RFC 9000 §9.4), and has read what the
   * new path sent meanwhile (its ACKs settle what did arrive before the rest is declared lost).
   */
  onMoved(now: number): void {
    const path = this.validator!;
    // What went to the old address is gone with it: sent again now. A new address is a new
    // path: a fresh congestion controller, an RTT estimate from the validation's round trip,
    // the path MTU searched anew from the base size. Only the port changed (a NAT rebinding
    // that kept the address): the same path, its congestion state, RTT and MTU stay (RFC 9000 §9.4).
    const portOnly = path.previousAddress === path.address;
    this.recovery.onPathChange(now, true, portOnly, path.lastMoveRtt);
    if (!portOnly) this.mtu.restart(now);
    // Tell the peer at once what arrived (its packets held or dropped meanwhile).
    this.acks.requestImmediate();
    this.events.push({
      type: 'path-changed',
      address: path.address,
      port: path.port,
      previousAddress: path.previousAddress,
      previousPort: path.previousPort,
    });
    if (this.trace !== null) this.trace.pathChanged(now, path.previousAddress, path.previousPort, path.address, path.port);
  }

  /**
   * A packet was accepted (not a duplicate) and is about to be read: the peer's silence is over,
   * and a packet on the current path shows that an address being validated meanwhile is somebody else's.
   */
  onPacketRead(now: number, kind: PathKind): void {
    const path = this.validator;
    if (kind === PathKind.Current && path !== null && path.candidateAddress !== null && path.onCurrentPathPacket() === 'abandoned') {
      this.onAbandoned(now);
    }
    this.silenceAcks = 0;
  }

  /** A PATH_CHALLENGE: echoed on the path it came by (§5.10); without addresses, on the only one. */
  onChallengeFrame(data: Uint8Array): void {
    if (this.address !== undefined) this.ensureValidator().onChallenge(data, this.arrival);
  }

  /** A PATH_RESPONSE: without a validator nothing was challenged, and it is ignored. */
  onResponseFrame(now: number, data: Uint8Array): void {
    if (this.validator !== null) this.onOutcome(now, this.validator.onResponse(data, this.arrival, now));
  }

  // ------------------------------------------------------------------ out

  /**
   * A path frame's datagram, or null. Path frames go first, each alone in its packet (a peer
   * without them loses nothing else), outside congestion control like ACKs; to an unvalidated
   * address within the amplification limit only (path-validation.ts). Called for every datagram
   * the connection sends: says where it goes ({@link transmitAddress}).
   */
  nextDatagram(now: number, state: ConnectionState): Uint8Array | null {
    this.toCandidate = false;
    const path = this.validator;
    if (path === null || !path.busy || state === 'draining') return null;
    const t = path.nextTransmit(Math.max(PATH_PACKET_SIZE, this.acks.ackPacketSize(now)) + this.packetOverhead);
    if (t === null) return null;
    const datagram = t.frame === 'ack' ? this.builder.build(now, true, false) : this.builder.buildPath(now, t.frame, t.data, t.toCandidate);
    path.onSent(now, t, datagram.length + this.packetOverhead);
    this.toCandidate = t.toCandidate;
    return datagram;
  }

  // ------------------------------------------------------------------ timers

  /** The earliest of the validator's deadline and the silence ACK's (Infinity: none). */
  deadline(lastReceivedAt: number, state: ConnectionState): number {
    let t = Infinity;
    if (this.validator !== null) t = this.validator.deadline;
    return Math.min(t, this.silenceDeadline(lastReceivedAt, state));
  }

  onTimeout(now: number, lastReceivedAt: number, state: ConnectionState): void {
    if (this.validator !== null) this.onOutcome(now, this.validator.onTimeout(now));
    if (now >= this.silenceDeadline(lastReceivedAt, state)) {
      // The peer stopped in the middle of a message: our ACKs may be going to an address it
      // no longer has (its NAT rebound). One more ACK, from wherever we are, lets it find us.
      this.silenceAcks++;
      this.acks.requestImmediate();
    }
  }

  /**
   * A receiver whose peer fell silent in the middle of a message repeats its ACK after a round
   * trip and one deviation of silence (srtt + max(rttvar, 1 ms)), then after 2, 4, 8 times that
   * (at most 4 times per silence; never on an idle connection: only mid-message). In a download
   * that is what tells the sender that the receiver's address changed (a NAT rebinding): the
   * receiver has nothing else to send, and the sender's packets go to the dead address. Not a
   * PTO: that allows for the peer's ACK delay and four deviations, which are about *our* packets
   * being acknowledged; a sender in the middle of a message that is waiting for ACKs to open its
   * window hears from us within a round trip. Infinity: not armed.
   */
  private silenceDeadline(lastReceivedAt: number, state: ConnectionState): number {
    if (!this.peerMidMessage || this.silenceAcks >= MAX_SILENCE_ACKS || state !== 'open' || this.address === undefined) return Infinity;
    const rtt = this.recovery.rtt;
    const interval = rtt.smoothed + Math.max(rtt.variance, GRANULARITY);
    return lastReceivedAt + interval * 2 ** this.silenceAcks;
  }

  // ------------------------------------------------------------------ this side moved

  /**
   * This side's own address changed (`rebind()`): the path is new for congestion control, RTT
   * and path MTU (RFC 9000 §9.4), and an ack-eliciting packet goes out at once (`open`) so that
   * the peer sees the new address and validates it even when the application has nothing to send.
   */
  onLocalMove(now: number, open: boolean): void {
    this.recovery.onPathChange(now, false);
    this.mtu.restart(now);
    if (open) this.recovery.requestProbe();
    if (this.trace !== null) this.trace.pathMigrated(now);
  }

  // ------------------------------------------------------------------ outcomes

  /** How long a candidate address has to answer: 3 PTOs of the current path or of a fresh one, whichever is longer. */
  private validationTimeout(): number {
    const initial = this.config.initialRtt;
    const freshPto = Math.max(initial + 4 * (initial / 2) + this.config.maxAckDelay, this.config.minPto);
    return VALIDATION_PTOS * Math.max(this.recovery.basePto(), freshPto);
  }

  private onAbandoned(now: number): void {
    if (this.trace !== null) this.trace.pathAbandoned(now, this.validator!.lastFailure ?? 'timeout');
  }

  private onOutcome(now: number, outcome: PathOutcome): void {
    if (outcome === 'moved') this.onMoved(now);
    else if (outcome === 'abandoned') this.onAbandoned(now);
  }
}
