import { PATH_DATA_SIZE } from '../wire/types.js';

/**
 * Path validation and connection migration for one connection (RFC 9000 §8.2, §9;
 * docs/protocol.md §23). Sans-IO: addresses are plain values, time enters as `now`, the
 * challenge bytes come from the randomness the endpoint injects.
 *
 * The connection has one **current path** (the remote address and port it sends to). A packet
 * that arrives from another address makes that address a **candidate** (one at a time): a
 * PATH_CHALLENGE with 8 unpredictable bytes goes to it, and another to the current path. The
 * connection moves to the candidate when a PATH_RESPONSE with the candidate's bytes arrives
 * *from the candidate's address*. The candidate is abandoned when
 *
 * - the current path shows it is alive: a packet arrives on it after the candidate appeared, or
 *   the current path answers its own challenge (RFC 9000 §9.3.3: the peer is still there, so the
 *   new address is somebody else's, or a copy of the peer's packets);
 * - no answer came in time: challenges are repeated every third of the validation timeout, up to
 *   {@link MAX_CHALLENGES}, and the timeout is 3 × max(PTO, PTO of a fresh path).
 *
 * Until the move, what is sent to the candidate is limited to {@link AMPLIFICATION_FACTOR} × the
 * bytes received from it, and is only path frames (no data: a plaintext connection must not show
 * its data to an address nobody vouched for). Packets that a plaintext connection receives from
 * the candidate are held unread (at most {@link MAX_HELD_PACKETS}, {@link MAX_HELD_BYTES}) and
 * read once the move is made; they are forgotten when the candidate is abandoned.
 */

/** At most this many bytes go to an unvalidated address per byte received from it (RFC 9000 §8). */
export const AMPLIFICATION_FACTOR = 3;
/** PATH_CHALLENGEs sent to one candidate before it is abandoned. */
export const MAX_CHALLENGES = 3;
/** The validation timeout is this many PTOs (RFC 9000 §8.2.4). */
export const VALIDATION_PTOS = 3;
/** Plaintext packets from a candidate held for reading after the move: at most this many ... */
export const MAX_HELD_PACKETS = 64;
/** ... and this many bytes. */
export const MAX_HELD_BYTES = 96 * 1024;
const EMPTY = new Uint8Array(0);
/** PATH_RESPONSEs waiting to be sent, at most (the newest challenges win). */
const MAX_PENDING_RESPONSES = 4;

/** Where a datagram came from, as the path check classifies it. */
export const PathKind = {
  /** The current path. */
  Current: 0,
  /** The candidate being validated. */
  Candidate: 1,
  /** Neither (a candidate is already being validated). */
  Other: 2,
} as const;
export type PathKind = (typeof PathKind)[keyof typeof PathKind];

/** Why a candidate was given up. */
export type PathFailure = 'timeout' | 'peer-on-current-path';

/** A path frame to send: a challenge or a response, to the current path or the candidate. */
export interface PathTransmit {
  /** 'ack': an ACK-only packet for the candidate (see {@link PathValidator.nextTransmit}). */
  readonly frame: 'path-challenge' | 'path-response' | 'ack';
  readonly data: Uint8Array;
  readonly toCandidate: boolean;
}

/** What the connection is told after a path frame or a path event. */
export type PathOutcome = 'none' | 'moved' | 'abandoned';

interface Candidate {
  readonly address: string;
  readonly port: number;
  readonly challenge: Uint8Array;
  readonly since: number;
  challengesSent: number;
  /** When the next challenge goes out. */
  nextAt: number;
  /** When the candidate is given up without an answer. */
  readonly expiresAt: number;
  /** Time between challenges. */
  readonly interval: number;
  /** When the first challenge to it left (the RTT sample at the move, if it was the only one). */
  firstChallengeAt: number;
  /** The current path's challenge is still to be sent. */
  probeCurrent: boolean;
  /** A challenge to the candidate is due now. */
  challengeDue: boolean;
  /** An ACK to the candidate is due (once, after the first challenge). */
  ackDue: boolean;
  bytesReceived: number;
  bytesSent: number;
  /** Plaintext packets from the candidate, to read after the move. */
  held: Uint8Array[];
  heldBytes: number;
}

interface PendingResponse {
  data: Uint8Array;
  toCandidate: boolean;
}

export class PathValidator {
  /** The current path. */
  address: string;
  port: number;
  /** Times the connection moved to a new address. */
  changes = 0;
  /** Candidates given up (no answer in time, or the peer was still heard on the current path). */
  validationsFailed = 0;
  /** PATH_CHALLENGE frames sent (to candidates and to the current path). */
  challengesSent = 0;
  /** Why the last candidate was given up. */
  lastFailure: PathFailure | null = null;
  /** The address the connection left at the last move. */
  previousAddress = '';
  previousPort = 0;
  /**
   * The round trip the last move measured on the new path: from its challenge to the response
   * (0 when more than one challenge went out: which one was answered is unknown, Karn's rule).
   */
  lastMoveRtt = 0;

  private candidate: Candidate | null = null;
  /** The bytes of the challenge sent on the current path for the pending candidate. */
  private currentChallenge: Uint8Array | null = null;
  private readonly responses: PendingResponse[] = [];

  constructor(
    address: string,
    port: number,
    /** The endpoint's randomness (crypto.randomBytes in real life, seeded in tests). */
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {
    this.address = address;
    this.port = port;
  }

  /** The one address check, for every datagram of the connection (both endpoint routes come here). */
  classify(address: string, port: number): PathKind {
    if (port === this.port && address === this.address) return PathKind.Current;
    const c = this.candidate;
    if (c !== null && port === c.port && address === c.address) return PathKind.Candidate;
    return PathKind.Other;
  }

  /** Something may be due for nextTransmit (a candidate is pending, or a response is owed): one check on the hot path. */
  get busy(): boolean {
    return this.candidate !== null || this.responses.length > 0;
  }

  get candidateAddress(): string | null {
    return this.candidate?.address ?? null;
  }

  get candidatePort(): number {
    return this.candidate?.port ?? 0;
  }

  /** Bytes received from and sent to the candidate (the amplification limit's inputs). */
  get candidateBytes(): { received: number; sent: number } {
    const c = this.candidate;
    return { received: c?.bytesReceived ?? 0, sent: c?.bytesSent ?? 0 };
  }

  /**
   * An acceptable datagram of `size` bytes arrived from an address that is not the current path.
   * A new candidate is made when there is none. Returns the datagram's kind afterwards
   * (Candidate, or Other when another candidate is pending).
   */
  onForeignDatagram(now: number, address: string, port: number, size: number, timeout: number): PathKind {
    let c = this.candidate;
    if (c === null) {
      c = {
        address,
        port,
        challenge: this.fresh(),
        since: now,
        challengesSent: 0,
        nextAt: now,
        expiresAt: now + timeout,
        interval: timeout / MAX_CHALLENGES,
        firstChallengeAt: -1,
        probeCurrent: true,
        challengeDue: true,
        ackDue: true,
        bytesReceived: 0,
        bytesSent: 0,
        held: [],
        heldBytes: 0,
      };
      this.candidate = c;
      this.currentChallenge = this.fresh();
    } else if (port !== c.port || address !== c.address) {
      return PathKind.Other;
    }
    c.bytesReceived += size;
    return PathKind.Candidate;
  }

  /** Keep a plaintext datagram of the candidate for reading after the move. False: no room. */
  hold(datagram: Uint8Array): boolean {
    const c = this.candidate;
    if (c === null || c.held.length >= MAX_HELD_PACKETS || c.heldBytes + datagram.length > MAX_HELD_BYTES) return false;
    c.held.push(datagram.slice());
    c.heldBytes += datagram.length;
    return true;
  }

  /** The held datagrams, once (after the move). */
  takeHeld(): Uint8Array[] {
    const held = this.heldAfterMove;
    this.heldAfterMove = [];
    return held;
  }

  private heldAfterMove: Uint8Array[] = [];

  /**
   * An acceptable packet arrived on the current path. While a candidate is pending that means
   * the peer is still there: the candidate is given up. Returns 'abandoned' if so.
   */
  onCurrentPathPacket(): PathOutcome {
    if (this.candidate === null) return 'none';
    this.abandon('peer-on-current-path');
    return 'abandoned';
  }

  /** A PATH_CHALLENGE arrived on path `kind`: echo it there (a candidate's within the amplification limit). */
  onChallenge(data: Uint8Array, kind: PathKind): void {
    if (kind === PathKind.Other) return;
    if (this.responses.length >= MAX_PENDING_RESPONSES) this.responses.shift();
    this.responses.push({ data: data.slice(0, PATH_DATA_SIZE), toCandidate: kind === PathKind.Candidate });
  }

  /**
   * A PATH_RESPONSE arrived on path `kind`. The candidate's bytes from the candidate's address
   * move the connection ('moved'); the current path's bytes from the current path prove the peer
   * is still there ('abandoned'). Anything else is ignored.
   */
  onResponse(data: Uint8Array, kind: PathKind, now = -1): PathOutcome {
    const c = this.candidate;
    if (c === null) return 'none';
    if (kind === PathKind.Candidate && equal8(data, c.challenge)) {
      this.lastMoveRtt = now >= 0 && c.challengesSent === 1 && c.firstChallengeAt >= 0 ? Math.max(now - c.firstChallengeAt, 0.001) : 0;
      this.move(c);
      return 'moved';
    }
    if (kind === PathKind.Current && this.currentChallenge !== null && equal8(data, this.currentChallenge)) {
      this.abandon('peer-on-current-path');
      return 'abandoned';
    }
    return 'none';
  }

  /** When a challenge is due or the candidate times out (Infinity: nothing pending). */
  get deadline(): number {
    const c = this.candidate;
    if (c === null) return Infinity;
    const retry = c.challengeDue || c.challengesSent >= MAX_CHALLENGES ? Infinity : c.nextAt;
    return Math.min(retry, c.expiresAt);
  }

  /** Time passed: repeat the challenge, or give the candidate up. Returns 'abandoned' if so. */
  onTimeout(now: number): PathOutcome {
    const c = this.candidate;
    if (c === null) return 'none';
    if (now >= c.expiresAt) {
      this.abandon('timeout');
      return 'abandoned';
    }
    if (!c.challengeDue && c.challengesSent < MAX_CHALLENGES && now >= c.nextAt) c.challengeDue = true;
    return 'none';
  }

  /**
   * The next path frame to send, or null. A challenge or response to the candidate only when
   * `size` more bytes keep what was sent there within the amplification limit.
   */
  nextTransmit(size: number): PathTransmit | null {
    const c = this.candidate;
    const room = c !== null && c.bytesSent + size <= AMPLIFICATION_FACTOR * c.bytesReceived;
    for (let i = 0; i < this.responses.length; i++) {
      const r = this.responses[i]!;
      if (r.toCandidate && !room) continue;
      this.responses.splice(i, 1);
      if (r.toCandidate && c === null) return this.nextTransmit(size);
      return { frame: 'path-response', data: r.data, toCandidate: r.toCandidate };
    }
    if (c === null) return null;
    if (c.probeCurrent) {
      c.probeCurrent = false;
      this.challengesSent++;
      return { frame: 'path-challenge', data: this.currentChallenge!, toCandidate: false };
    }
    if (c.challengeDue && room) return { frame: 'path-challenge', data: c.challenge, toCandidate: true };
    // Once challenged, the candidate also gets our ACK (within the limit): if it is the peer
    // whose NAT rebound, the ACKs that went to its old address are lost, and its window may be
    // shut waiting for them; this reopens it a round trip before the move (its new data is then
    // there, held or read, when the response arrives). It tells an impostor only packet numbers.
    if (c.ackDue && c.challengesSent > 0 && room) {
      c.ackDue = false;
      return { frame: 'ack', data: EMPTY, toCandidate: true };
    }
    return null;
  }

  /** A path frame from nextTransmit left in a datagram of `size` bytes at `now`. */
  onSent(now: number, t: PathTransmit, size: number): void {
    const c = this.candidate;
    if (!t.toCandidate || c === null) return;
    c.bytesSent += size;
    if (t.frame === 'ack') return;
    if (t.frame === 'path-challenge') {
      c.challengeDue = false;
      if (c.challengesSent === 0) c.firstChallengeAt = now;
      c.challengesSent++;
      this.challengesSent++;
      c.nextAt = now + c.interval;
    }
  }

  /** The connection moves to the candidate's address. */
  private move(c: Candidate): void {
    this.previousAddress = this.address;
    this.previousPort = this.port;
    this.address = c.address;
    this.port = c.port;
    this.changes++;
    this.heldAfterMove = c.held;
    this.clear();
  }

  private abandon(reason: PathFailure): void {
    this.validationsFailed++;
    this.lastFailure = reason;
    this.clear();
  }

  private clear(): void {
    this.candidate = null;
    this.currentChallenge = null;
    // Responses owed to the candidate go nowhere now.
    for (let i = this.responses.length - 1; i >= 0; i--) if (this.responses[i]!.toCandidate) this.responses.splice(i, 1);
  }

  private fresh(): Uint8Array {
    const b = this.randomBytes(PATH_DATA_SIZE);
    if (b.length < PATH_DATA_SIZE) throw new RangeError('randomBytes returned too few bytes');
    return b.slice(0, PATH_DATA_SIZE);
  }
}

function equal8(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== PATH_DATA_SIZE || b.length !== PATH_DATA_SIZE) return false;
  let diff = 0;
  for (let i = 0; i < PATH_DATA_SIZE; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
