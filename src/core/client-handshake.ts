import {
  PROTOCOL_VERSION,
  RESET_TOKEN_SIZE,
  encodePacket,
  type AcceptPacket,
  type InitialPacket,
  type RetryPacket,
  type StatelessResetPacket,
  type TransportParams,
  type VersionNegotiationPacket,
} from '../wire/index.js';
import { RefuseReason, encodeSecurePacket, type RefusePacket, type SecureAcceptPacket, type SecureInitialPacket } from '../wire/secure.js';
import { resetTokenFor, tokensEqual } from './cookie.js';
import type { DeadlineHeap, TimerEntry } from './endpoint-timers.js';
import type { ConnectRequest, EndpointError, EndpointStats } from './endpoint-types.js';
import type { HandshakeHost } from './handshake-host.js';
import { startClientHandshake, tryClientHandshake, type ClientHello, type SessionSecrets } from './secure/handshake.js';
import { PacketProtection } from './secure/packet-protection.js';
import type { CryptoSuite } from './secure/suite.js';
import { copyParams, validParams } from './transport-params.js';

/** An outgoing handshake in progress. */
export interface ConnectAttempt extends TimerEntry {
  readonly kind: 'attempt';
  readonly id: number;
  readonly cid: bigint;
  readonly address: string;
  readonly port: number;
  readonly params: TransportParams;
  /** The secure handshake of this attempt, or null for plaintext. */
  readonly secure: { hello: ClientHello; serverKey: Uint8Array | null } | null;
  cookie: Uint8Array;
  initial: Uint8Array;
  retries: number;
  /**
   * RETRYs from the dialled address that may still be followed before the next retransmission
   * of the INITIAL (1 at the start, back to 1 at each retransmission): a burst of forged RETRYs
   * (whoever sees our CID can send them) moves the attempt to one bad cookie, not through all
   * of maxRetries at once (docs/protocol.md §10.2).
   */
  retryCredit: number;
  /**
   * The round trip from the INITIAL to the first RETRY, ms (sent once, so unambiguous), while
   * the one early credit it gives is unspent; -1 without such a sample or once spent.
   */
  retryRtt: number;
  /**
   * When a RETRY may be followed again without waiting for the next retransmission: one
   * measured `retryRtt` after the cookie INITIAL last sent on a RETRY, so that the server's
   * answer to that INITIAL (a second RETRY: our port changed, or its cookie secret did) is
   * followed at once, while the rest of a burst, arriving within that round trip, is not.
   * Once per attempt; -1 when no early credit is armed.
   */
  retryCreditAt: number;
  /** RETRYs from another address than the dialled one followed so far (secure attempts only). */
  strayRetries: number;
  /**
   * Answers from the dialled address that a secure attempt dropped because they did not
   * authenticate (a SECURE_ACCEPT whose message 2 fails, a plaintext ACCEPT): forged, as no
   * honest server sends them. They never end the attempt; at connectTimeout they make its
   * failure ERR_AUTHENTICATION_FAILED instead of ERR_CONNECTION_TIMEOUT (docs/protocol.md §22.6).
   */
  unauthenticated: number;
  /** Current retransmission interval, ms. */
  rto: number;
  nextSend: number;
  deadline: number;
  /**
   * When the INITIAL the answer will be for was sent, for the connection's first RTT sample
   * (RFC 9002 §5: the handshake may give it); -1 once an INITIAL was repeated, or a second
   * RETRY made a second cookie INITIAL, as an answer could then be for either copy (Karn).
   */
  sentAt: number;
}

/** What connect() returns: the attempt's id, or why none was started (closing, a limit, a server key that is no X25519 key). */
export type ConnectResult = { ok: true; attempt: number } | { ok: false; error: EndpointError };

/** The client's RTT sample from its handshake (INITIAL → ACCEPT), or 0 when ambiguous (a repeated INITIAL). */
function handshakeRtt(now: number, attempt: ConnectAttempt): number {
  return attempt.sentAt < 0 ? 0 : Math.max(now - attempt.sentAt, 0.001);
}

/**
 * What the client side of the handshake uses of its endpoint besides what both sides do
 * (handshake-host.ts): the deadline heap, the reset key, the id sequence, and the event of a
 * failed connect.
 */
export interface ClientHost extends HandshakeHost {
  /** The endpoint's one deadline heap: each attempt's next INITIAL and its connectTimeout. */
  readonly heap: Pick<DeadlineHeap<ConnectAttempt>, 'set' | 'remove'>;
  readonly counters: Pick<EndpointStats, 'connectionsConnected'>;
  /** The key our reset tokens are made from (cookie.ts `resetTokenFor`). */
  readonly resetKey: Uint8Array;
  /** The next id of an attempt or a server's connection (one sequence; a client's connection keeps its attempt's). */
  nextId(): number;
  /** The 'connect-failed' event of attempt `attempt`. */
  connectFailed(attempt: number, error: EndpointError): void;
}

/**
 * The client side of the handshake (docs/protocol.md §10.2, §22.6): connect() makes an attempt
 * and sends its INITIAL or SECURE_INITIAL, repeated until an answer or connectTimeout; a RETRY
 * is followed with its cookie (within its credit), an ACCEPT / SECURE_ACCEPT makes the
 * connection, a refusal, a version negotiation or a timeout fails the attempt. Only the
 * address dialled may answer (ERR_ADDRESS_MISMATCH); a secure attempt believes only what
 * authenticates.
 */
export class ClientHandshake {
  private readonly attempts = new Map<number, ConnectAttempt>();
  /** Local connection ID → outgoing handshake (few: at most maxPendingConnects). */
  private readonly attemptsByCid = new Map<bigint, ConnectAttempt>();

  constructor(private readonly h: ClientHost) {}

  /** Outgoing handshakes in progress. */
  get pending(): number {
    return this.attempts.size;
  }

  /** Is local connection ID `cid` an attempt's? */
  has(cid: bigint): boolean {
    return this.attemptsByCid.has(cid);
  }

  /** Start an outgoing handshake. Returns the attempt id, or an error if a limit forbids it. */
  connect(now: number, address: string, port: number, request: ConnectRequest = {}): ConnectResult {
    if (this.h.closing()) return { ok: false, error: { code: 'ERR_ENDPOINT_CLOSED', message: 'endpoint is closing' } };
    if (this.attempts.size >= this.h.config.maxPendingConnects) {
      return {
        ok: false,
        error: { code: 'ERR_CONNECTION_REFUSED', message: `too many pending connects (maxPendingConnects ${this.h.config.maxPendingConnects})` },
      };
    }
    if (this.h.population() >= this.h.config.maxConnections) {
      return {
        ok: false,
        error: { code: 'ERR_CONNECTION_REFUSED', message: `too many connections (maxConnections ${this.h.config.maxConnections})` },
      };
    }
    const cid = this.h.freshCid();
    const serverKey = request.serverKey ?? null;
    const secure = serverKey !== null || this.h.encryption === 'required';
    let params = this.h.params.forCid(cid, secure);
    let hello: ClientHello | null = null;
    if (secure) {
      const suite = this.requireSuite();
      // The clear parameters carry a one-off refusal token; the real reset token goes encrypted.
      const resetToken = params.resetToken;
      params = { ...params, resetToken: this.h.randomBytes(RESET_TOKEN_SIZE) };
      try {
        hello = startClientHandshake(suite, {
          cid,
          params,
          ePrivate: this.h.randomBytes(32),
          serverKey,
          staticKey: this.h.config.keyPair ?? null,
          resetToken,
        });
      } catch {
        return { ok: false, error: { code: 'ERR_AUTHENTICATION_FAILED', message: 'the server key is not a valid X25519 public key' } };
      }
    }
    const rto = 2 * this.h.params.initialRtt();
    const attempt: ConnectAttempt = {
      kind: 'attempt',
      heapIndex: -1,
      heapDeadline: 0,
      id: this.h.nextId(),
      cid,
      address,
      port,
      params,
      secure: hello ? { hello, serverKey } : null,
      cookie: new Uint8Array(0),
      initial: new Uint8Array(0),
      retries: 0,
      retryCredit: 1,
      retryRtt: -1,
      retryCreditAt: -1,
      strayRetries: 0,
      unauthenticated: 0,
      rto,
      nextSend: now + rto,
      deadline: now + this.h.config.connectTimeout,
      sentAt: now,
    };
    attempt.initial = this.encodeInitial(attempt);
    this.attemptsByCid.set(cid, attempt);
    this.attempts.set(attempt.id, attempt);
    this.h.queue(attempt.initial, address, port);
    this.scheduleAttempt(attempt);
    return { ok: true, attempt: attempt.id };
  }

  /** Forget an outgoing handshake (e.g. its AbortSignal fired). No event follows. */
  cancelConnect(attemptId: number): void {
    const attempt = this.attempts.get(attemptId);
    if (attempt) this.removeAttempt(attempt);
  }

  /** Fail every attempt (the endpoint closes: `message` says how). */
  failAll(message: string): void {
    for (const attempt of [...this.attempts.values()]) {
      this.failAttempt(attempt, { code: 'ERR_ENDPOINT_CLOSED', message });
    }
  }

  /**
   * The attempt an answer with our CID `cid` is for, when it comes from the address dialled.
   * `ignored`: the answer is one the attempt would drop from the dialled address too (stale or
   * forged: a wrong token, a VN listing our version); from elsewhere it is then only dropped.
   */
  private attemptFor(cid: bigint, address: string, port: number, ignored?: (attempt: ConnectAttempt) => boolean): ConnectAttempt | null {
    const target = this.attemptsByCid.get(cid);
    if (target === undefined) return null;
    // Only the address we are connecting to may answer (docs/protocol.md §10.2). Our CID is
    // known only to the server we sent it to (and whoever sees the path): an answer carrying it
    // from elsewhere means the server answers from another address than the one dialled (a host
    // with several addresses, its socket bound to all of them, replies from the one its route
    // prefers). Every answer would come from there: fail now rather than at connectTimeout.
    // Not for an answer the attempt would ignore anyway: what needs a token from the dialled
    // address needs it from elsewhere too.
    // A secure attempt believes only what authenticates: an answer from elsewhere is dropped
    // here, and only an authenticated SECURE_ACCEPT from elsewhere ends it (onSecureAccept).
    if (target.address !== address || target.port !== port) {
      if (target.secure === null && ignored?.(target) !== true) this.failMismatch(target, address, port);
      return null;
    }
    return target;
  }

  private failMismatch(attempt: ConnectAttempt, address: string, port: number): void {
    this.failAttempt(attempt, {
      code: 'ERR_ADDRESS_MISMATCH',
      message: `the server dialled at ${attempt.address}:${attempt.port} answered from ${address}:${port}: bind the server to the address clients dial, or dial the address it answers from`,
    });
  }

  /** The attempt an answer with our CID `cid` names, when it comes from another address than the one dialled. */
  private strayAttempt(cid: bigint, address: string, port: number): ConnectAttempt | null {
    const target = this.attemptsByCid.get(cid);
    if (target === undefined) return null;
    return target.address !== address || target.port !== port ? target : null;
  }

  /** `strayAttempt`, for a secure attempt only. */
  private secureStray(cid: bigint, address: string, port: number): ConnectAttempt | null {
    const stray = this.strayAttempt(cid, address, port);
    return stray !== null && stray.secure !== null ? stray : null;
  }

  /**
   * A RETRY for a secure attempt from another address (docs/protocol.md §22.6): unauthenticated,
   * so it changes nothing of the attempt (cookie, RETRY count, timer); its cookie goes to the
   * dialled address in one extra SECURE_INITIAL, whose answer (a SECURE_ACCEPT from wherever the
   * server answers) can then authenticate. At most maxRetries per attempt: a forged RETRY costs
   * the dialled server one INITIAL, never the attempt.
   */
  private followStrayRetry(attempt: ConnectAttempt, packet: RetryPacket): void {
    if (attempt.strayRetries >= this.h.config.maxRetries) return this.h.drop('unexpected');
    attempt.strayRetries++;
    this.h.queue(this.encodeInitial(attempt, packet.cookie), attempt.address, attempt.port);
  }

  /**
   * A SECURE_ACCEPT for a secure attempt from another address: tried on a copy of the handshake
   * state. Only one that authenticates (and whose key verifyPeer accepts for the dialled
   * address) proves the server answers from elsewhere: ERR_ADDRESS_MISMATCH. Anything else is
   * dropped and the attempt goes on as if it had never come.
   */
  private onStraySecureAccept(now: number, attempt: ConnectAttempt, packet: SecureAcceptPacket, address: string, port: number): void {
    const done = tryClientHandshake(attempt.secure!.hello, packet.noise, packet.scid);
    if (!done) return this.h.drop('handshake-failed');
    if (!this.h.peerAccepted(done.secrets.remoteStatic, attempt.address, attempt.port)) return this.h.drop('peer-rejected');
    // The server holds the connection now: end it rather than leave it to its idle timeout.
    if (packet.scid !== 0n) this.endMismatched(now, attempt, packet.scid, done.secrets);
    this.failMismatch(attempt, address, port);
  }

  /**
   * The server answered an ACCEPT or SECURE_ACCEPT from another address than the one dialled
   * and holds a connection for us: one RESET (code 0) ends it, in the first DATA packet we would
   * have sent, sealed under the handshake's keys for a secure attempt (docs/protocol.md §10.2).
   * It goes to the dialled address, which our INITIAL is known to reach (the server sees the
   * same client address whichever of its addresses a datagram arrives at).
   */
  private endMismatched(now: number, attempt: ConnectAttempt, serverCid: bigint, secrets: SessionSecrets | null): void {
    const reset = this.encodeReset(serverCid, attempt.params.initialPacketNumber, 'the server answered from another address', 0);
    const datagram = secrets
      ? new PacketProtection(this.requireSuite(), secrets.sendSecret, secrets.recvSecret, this.h.protectionConfig, now).seal(now, reset)
      : reset;
    this.h.queue(datagram, attempt.address, attempt.port);
  }

  onRetry(now: number, packet: RetryPacket, address: string, port: number): void {
    const stray = this.secureStray(packet.dcid, address, port);
    if (stray !== null) return this.followStrayRetry(stray, packet);
    const attempt = this.attemptFor(packet.dcid, address, port);
    if (!attempt || attempt.retries >= this.h.config.maxRetries) return this.h.drop('unexpected');
    if (attempt.retryCredit === 0) {
      // Within one measured round trip of the cookie INITIAL nothing the server sent can answer
      // it: the rest of a burst. After it, once per attempt, the server's answer to it.
      if (attempt.retryCreditAt < 0 || now < attempt.retryCreditAt) return this.h.drop('unexpected');
      attempt.retryRtt = -1;
    }
    attempt.retryCredit = 0;
    // The first RETRY answers the only INITIAL sent (unless it was repeated: sentAt -1, Karn).
    if (attempt.retries === 0 && attempt.sentAt >= 0 && now > attempt.sentAt) attempt.retryRtt = now - attempt.sentAt;
    attempt.retryCreditAt = attempt.retryRtt > 0 ? now + attempt.retryRtt : -1;
    // The server answers a cookie-less INITIAL with a RETRY only, so after the first RETRY only
    // the cookie INITIAL can be answered: an unambiguous sample. A later RETRY (the repeated
    // INITIAL answered again, a cookie aged out, the client's port changed) leaves an earlier
    // cookie INITIAL that an ACCEPT may still answer: no sample (Karn).
    attempt.sentAt = attempt.retries === 0 ? now : -1;
    attempt.retries++;
    attempt.cookie = new Uint8Array(packet.cookie);
    attempt.initial = this.encodeInitial(attempt);
    this.h.queue(attempt.initial, address, port);
    attempt.nextSend = now + attempt.rto;
    this.scheduleAttempt(attempt);
  }

  onAccept(now: number, packet: AcceptPacket, address: string, port: number): void {
    const stray = this.strayAttempt(packet.dcid, address, port);
    // ERR_ADDRESS_MISMATCH below (attemptFor); the server that answered holds a connection.
    if (stray !== null && stray.secure === null && packet.scid !== 0n) this.endMismatched(now, stray, packet.scid, null);
    const attempt = this.attemptFor(packet.dcid, address, port);
    if (!attempt) return this.h.drop('unexpected');
    if (attempt.secure) {
      // Never downgraded, and never ended by it either: no honest server answers a
      // SECURE_INITIAL with a plaintext ACCEPT (it never saw an INITIAL for this CID), so it is
      // forged, by whoever saw our CID. Dropped; the real SECURE_ACCEPT may still come.
      this.h.drop('unencrypted');
      attempt.unauthenticated++;
      return;
    }
    if (!validParams(packet.params) || packet.scid === 0n) {
      this.h.drop('bad-params');
      // Tell the server, whose connection would otherwise wait for its idle timeout: one RESET
      // (code 1) in the first DATA packet we would have sent (docs/protocol.md §4).
      if (packet.scid !== 0n) this.h.queue(this.encodeReset(packet.scid, attempt.params.initialPacketNumber, 'invalid transport parameters'), address, port);
      return this.failAttempt(attempt, { code: 'ERR_PROTOCOL_VIOLATION', message: 'server sent invalid transport parameters' });
    }
    if (this.h.byPeer.has(address, port, packet.scid)) {
      this.h.drop('unexpected');
      return this.failAttempt(attempt, { code: 'ERR_PROTOCOL_VIOLATION', message: 'server reused a connection ID' });
    }
    this.removeAttempt(attempt);
    // The address connect() was given (equal to the datagram's): connections to one server share it.
    this.h.establish(now, 'client', attempt.cid, packet.scid, attempt.address, port, attempt.params, copyParams(packet.params), null, null, null, attempt.id, handshakeRtt(now, attempt));
    this.h.counters.connectionsConnected++;
  }

  onSecureAccept(now: number, packet: SecureAcceptPacket, address: string, port: number): void {
    const stray = this.secureStray(packet.dcid, address, port);
    if (stray !== null) return this.onStraySecureAccept(now, stray, packet, address, port);
    const attempt = this.attemptFor(packet.dcid, address, port);
    if (!attempt?.secure) return this.h.drop('unexpected');
    // Read on a copy of the handshake state: one that does not authenticate must leave the
    // attempt as it was. An honest server never sends it (one that cannot read our message 1
    // answers with a REFUSE), so it is forged, by whoever saw our CID: dropped and counted, and
    // the attempt goes on until the real answer or connectTimeout (docs/protocol.md §22.6).
    const done = tryClientHandshake(attempt.secure.hello, packet.noise, packet.scid);
    if (!done) {
      this.h.drop('handshake-failed');
      attempt.unauthenticated++;
      return;
    }
    const remoteStatic = done.secrets.remoteStatic;
    // The server already holds the connection: a refusal from here on ends it with one RESET,
    // sealed under the keys the handshake just made, rather than leave it to its idle timeout.
    const sealedReset = (reason: string, code: number): void => {
      const protection = new PacketProtection(this.requireSuite(), done.secrets.sendSecret, done.secrets.recvSecret, this.h.protectionConfig, now);
      this.h.queue(protection.seal(now, this.encodeReset(packet.scid, attempt.params.initialPacketNumber, reason, code)), address, port);
    };
    if (!this.h.peerAccepted(remoteStatic, address, port)) {
      this.h.drop('peer-rejected');
      // Code 0: a refusal, not a protocol violation (docs/protocol.md §18.3).
      sealedReset('server key rejected', 0);
      return this.failAttempt(attempt, { code: 'ERR_AUTHENTICATION_FAILED', message: 'verifyPeer rejected the server\'s key' });
    }
    if (!validParams(done.params) || packet.scid === 0n) {
      this.h.drop('bad-params');
      if (packet.scid !== 0n) sealedReset('invalid transport parameters', 1);
      return this.failAttempt(attempt, { code: 'ERR_PROTOCOL_VIOLATION', message: 'server sent invalid transport parameters' });
    }
    if (this.h.byPeer.has(address, port, packet.scid)) {
      this.h.drop('unexpected');
      return this.failAttempt(attempt, { code: 'ERR_PROTOCOL_VIOLATION', message: 'server reused a connection ID' });
    }
    this.removeAttempt(attempt);
    // Our own parameters as the engine knows them: the real reset token, not the refusal token.
    const localParams = { ...attempt.params, resetToken: resetTokenFor(this.h.resetKey, attempt.cid) };
    const protection = new PacketProtection(this.requireSuite(), done.secrets.sendSecret, done.secrets.recvSecret, this.h.protectionConfig, now);
    this.h.establish(now, 'client', attempt.cid, packet.scid, attempt.address, port, localParams, done.params, null, protection, remoteStatic, attempt.id, handshakeRtt(now, attempt));
    this.h.counters.connectionsConnected++;
  }

  onRefuse(packet: RefusePacket, address: string, port: number): void {
    const attempt = this.attemptFor(packet.dcid, address, port, (a) => !a.secure || !tokensEqual(packet.token, a.params.resetToken));
    if (!attempt?.secure) return this.h.drop('unexpected');
    // Only the server we sent the SECURE_INITIAL to has seen its refusal token.
    if (!tokensEqual(packet.token, attempt.params.resetToken)) return this.h.drop('bad-reset-token');
    if (packet.reason === RefuseReason.AuthenticationFailed) {
      return this.failAttempt(attempt, {
        code: 'ERR_AUTHENTICATION_FAILED',
        message: attempt.secure.serverKey
          ? 'the server does not hold the expected key (or does not encrypt)'
          : 'the server does not encrypt',
      });
    }
    if (packet.reason === RefuseReason.PeerRejected) {
      return this.failAttempt(attempt, { code: 'ERR_AUTHENTICATION_FAILED', message: 'the server rejected our key' });
    }
    this.failAttempt(attempt, { code: 'ERR_CONNECTION_REFUSED', message: 'the server refused the connection' });
  }

  onVersionNegotiation(packet: VersionNegotiationPacket, address: string, port: number): void {
    const attempt = this.attemptFor(packet.dcid, address, port, () => packet.versions.includes(PROTOCOL_VERSION));
    // A VN that lists our version is stale or forged: ignore it, as QUIC does.
    if (!attempt || packet.versions.includes(PROTOCOL_VERSION)) return this.h.drop('unexpected');
    this.failAttempt(attempt, {
      code: 'ERR_UNSUPPORTED_VERSION',
      message: `server speaks wire versions [${packet.versions.join(', ')}], not ${PROTOCOL_VERSION}`,
    });
  }

  /**
   * A STATELESS_RESET naming an attempt's CID from the dialled address: the server's refusal of
   * our INITIAL. Returns false when it names none (it may be for a connection: endpoint.ts).
   */
  onStatelessReset(packet: StatelessResetPacket, address: string, port: number): boolean {
    const attempt = this.attemptFor(packet.dcid, address, port, (a) => !tokensEqual(packet.token, a.params.resetToken));
    if (!attempt) return false;
    // A refusal carries our own token, which only the server we sent the INITIAL to has seen.
    if (!tokensEqual(packet.token, attempt.params.resetToken)) this.h.drop('bad-reset-token');
    else this.failAttempt(attempt, { code: 'ERR_CONNECTION_REFUSED', message: 'the server refused the connection' });
    return true;
  }

  /** The attempt's deadline came (the endpoint's heap): it fails at connectTimeout, else its INITIAL goes again when due. */
  attemptTimeout(now: number, attempt: ConnectAttempt): void {
    if (now >= attempt.deadline) {
      const forged = attempt.unauthenticated;
      if (forged > 0) {
        // Something answered from the dialled address, but nothing that proved the server's key.
        return this.failAttempt(attempt, {
          code: 'ERR_AUTHENTICATION_FAILED',
          message: `no answer from ${attempt.address}:${attempt.port} authenticated within ${this.h.config.connectTimeout} ms: ${forged} ${forged === 1 ? 'answer' : 'answers'} from there did not (forged, or a server that does not hold the expected key)`,
        });
      }
      return this.failAttempt(attempt, {
        code: 'ERR_CONNECTION_TIMEOUT',
        message: `no answer from ${attempt.address}:${attempt.port} within ${this.h.config.connectTimeout} ms`,
      });
    }
    if (now >= attempt.nextSend) {
      this.h.queue(attempt.initial, attempt.address, attempt.port);
      attempt.retryCredit = 1;
      attempt.sentAt = -1;
      attempt.rto = Math.min(attempt.rto * 2, 1000);
      attempt.nextSend = now + attempt.rto;
    }
    this.scheduleAttempt(attempt);
  }

  private scheduleAttempt(attempt: ConnectAttempt): void {
    this.h.heap.set(attempt, Math.min(attempt.nextSend, attempt.deadline));
  }

  private failAttempt(attempt: ConnectAttempt, error: EndpointError): void {
    this.removeAttempt(attempt);
    this.h.connectFailed(attempt.id, error);
  }

  private removeAttempt(attempt: ConnectAttempt): void {
    this.attempts.delete(attempt.id);
    if (this.attemptsByCid.get(attempt.cid) === attempt) this.attemptsByCid.delete(attempt.cid);
    this.h.heap.remove(attempt);
  }

  /** A DATA packet holding one RESET frame with code 1 (protocol violation). */
  private encodeReset(dcid: bigint, packetNumber: number, reason: string, code = 1): Uint8Array {
    return encodePacket({ type: 'data', dcid, packetNumber: packetNumber >>> 0, frames: [{ type: 'reset', code, reason }] });
  }

  private encodeInitial(attempt: ConnectAttempt, cookie = attempt.cookie): Uint8Array {
    if (attempt.secure) {
      const secure: SecureInitialPacket = {
        type: 'secure-initial',
        scid: attempt.cid,
        params: attempt.params,
        pattern: attempt.secure.hello.pattern,
        noise: attempt.secure.hello.message,
        cookie,
      };
      return encodeSecurePacket(secure);
    }
    const initial: InitialPacket = {
      type: 'initial',
      version: PROTOCOL_VERSION,
      scid: attempt.cid,
      params: attempt.params,
      cookie,
    };
    return encodePacket(initial);
  }

  private requireSuite(): CryptoSuite {
    if (!this.h.suite) throw new TypeError('encryption needs a crypto suite (EndpointCoreOptions.crypto)');
    return this.h.suite;
  }
}
