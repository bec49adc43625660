import { encodePacket, RESET_TOKEN_SIZE, type AcceptPacket, type InitialPacket, type RetryPacket, type StatelessResetPacket, type TransportParams } from '../wire/index.js';
import { RefuseReason, encodeSecurePacket, type RefusePacket, type SecureAcceptPacket, type SecureInitialPacket } from '../wire/secure.js';
import type { AddressCounts } from './address-counts.js';
import type { CookieJar } from './cookie.js';
import type { EndpointStats } from './endpoint-types.js';
import type { HandshakeHost } from './handshake-host.js';
import type { RetiredIds } from './retired-ids.js';
import { respondToClient } from './secure/handshake.js';
import { PacketProtection } from './secure/packet-protection.js';
import { copyParams, validParams } from './transport-params.js';

/**
 * What the server side of the handshake uses of its endpoint besides what both sides do
 * (handshake-host.ts): the tables of cookies, retired IDs and connections per address.
 */
export interface ServerHost extends HandshakeHost {
  readonly cookies: CookieJar;
  /** IDs of closed connections: a retired triple's INITIAL makes no new connection. */
  readonly retired: RetiredIds;
  /** Incoming connections per remote IP address. */
  readonly perAddress: AddressCounts;
  readonly counters: Pick<EndpointStats, 'refused' | 'acceptsSent' | 'retriesSent' | 'connectionsAccepted'>;
}

/**
 * The server side of the handshake (docs/protocol.md §10.3, §22.6): an INITIAL or SECURE_INITIAL
 * is answered with a RETRY (no cookie, or a bad one: stateless, no state kept), its ACCEPT again
 * (a repeated handshake), a refusal (a limit, encryption required, a rejected key), or a new
 * connection and its ACCEPT / SECURE_ACCEPT.
 */
export class ServerHandshake {
  constructor(private readonly h: ServerHost) {}

  /**
   * The steps INITIAL and SECURE_INITIAL share (docs/protocol.md §10.3, §22.6), up to the point
   * where a new connection may be made: cookie (RETRY without one: stateless), a repeated
   * handshake (its ACCEPT again), retired triple, parameters, then `refuse(reason)` when a
   * limit forbids a new connection. Returns whether to go on.
   */
  private admit(
    now: number,
    clientCid: bigint,
    params: TransportParams,
    cookie: Uint8Array,
    address: string,
    port: number,
    refuse: () => void,
  ): boolean {
    // CID 0 is never chosen (§8): such an INITIAL gets no answer at all.
    if (clientCid === 0n) {
      this.h.drop('bad-params');
      return false;
    }
    if (cookie.length === 0) {
      this.sendRetry(now, clientCid, address, port);
      return false;
    }
    const check = this.h.cookies.check(now, address, port, clientCid, cookie);
    if (check !== 'ok') {
      this.h.drop(check === 'expired' ? 'expired-cookie' : 'bad-cookie');
      // A fresh cookie lets an honest client whose cookie aged out try again; still tiny.
      this.sendRetry(now, clientCid, address, port);
      return false;
    }
    // The client has proven it receives at (address, port).
    const existing = this.h.byPeer.get(address, port, clientCid);
    if (existing) {
      // The ACCEPT was lost: say it again, the identical datagram (idempotent; no new DH).
      if (existing.acceptDatagram) {
        this.h.queue(existing.acceptDatagram, address, port);
        this.h.counters.acceptsSent++;
      }
      return false;
    }
    if (this.h.retired.hasPeer(address, port, clientCid)) {
      this.h.drop('retired-cid');
      return false;
    }
    if (!validParams(params)) {
      this.h.drop('bad-params');
      return false;
    }
    if (
      this.h.closing() ||
      !this.accepting() ||
      this.h.population() >= this.h.config.maxConnections ||
      this.h.perAddress.count(address) >= this.h.config.maxConnectionsPerAddress
    ) {
      this.h.drop('over-limit');
      this.h.counters.refused++;
      refuse();
      return false;
    }
    return true;
  }

  /** Refuse a plaintext INITIAL: a stateless reset carrying the client's own token, so only it believes it. */
  private refusePlain(clientCid: bigint, token: Uint8Array, address: string, port: number): void {
    const refusal: StatelessResetPacket = { type: 'stateless-reset', dcid: clientCid, token };
    this.h.queue(encodePacket(refusal), address, port);
  }

  onInitial(now: number, packet: InitialPacket, address: string, port: number): void {
    const clientCid = packet.scid;
    const refuse = (): void => this.refusePlain(clientCid, packet.params.resetToken, address, port);
    if (!this.admit(now, clientCid, packet.params, packet.cookie, address, port, refuse)) return;
    if (this.h.encryption === 'required' || this.h.config.verifyPeer !== undefined) {
      // A plaintext client cannot be authenticated: refused when encryption is required, or
      // when verifyPeer asks for every client's key.
      this.h.drop('unencrypted');
      this.h.counters.refused++;
      return refuse();
    }
    const serverCid = this.h.freshCid();
    const localParams = this.h.params.forCid(serverCid);
    const accept: AcceptPacket = { type: 'accept', dcid: clientCid, scid: serverCid, params: localParams };
    const acceptDatagram = encodePacket(accept);
    const kept = this.h.perAddress.keep(address);
    this.h.establish(now, 'server', serverCid, clientCid, kept, port, localParams, copyParams(packet.params), acceptDatagram, null, null);
    this.h.perAddress.add(kept);
    this.h.counters.connectionsAccepted++;
    this.h.queue(acceptDatagram, address, port);
    this.h.counters.acceptsSent++;
  }

  /**
   * A SECURE_INITIAL. The cookie is checked first, exactly as for INITIAL: an unvalidated source
   * gets a RETRY and costs no X25519, no state. Only then the Noise message is processed.
   */
  onSecureInitial(now: number, packet: SecureInitialPacket, address: string, port: number): void {
    const clientCid = packet.scid;
    const send = (reason: number): void => {
      const refusal: RefusePacket = { type: 'refuse', dcid: clientCid, token: packet.params.resetToken, reason };
      this.h.queue(encodeSecurePacket(refusal), address, port);
    };
    const refuse = (reason: number): void => {
      this.h.counters.refused++;
      send(reason);
    };
    if (!this.admit(now, clientCid, packet.params, packet.cookie, address, port, () => send(RefuseReason.Refused))) return;
    const keyPair = this.h.config.keyPair;
    if (!keyPair || !this.h.suite) {
      this.h.drop('handshake-failed');
      return refuse(RefuseReason.AuthenticationFailed);
    }
    const serverCid = this.h.freshCid();
    const localParams = this.h.params.forCid(serverCid, true);
    const answer = respondToClient(this.h.suite, {
      cid: clientCid,
      params: packet.params,
      pattern: packet.pattern,
      message: packet.noise,
      staticKey: keyPair,
      ePrivate: this.h.randomBytes(32),
      serverCid,
      serverParams: localParams,
    });
    if (!answer.ok) {
      // Not made for our key (the client pinned another server), or altered on the way.
      this.h.drop('handshake-failed');
      return refuse(RefuseReason.AuthenticationFailed);
    }
    if (this.h.config.verifyPeer && !this.h.peerAccepted(answer.remoteStatic, address, port)) {
      this.h.drop('peer-rejected');
      return refuse(RefuseReason.PeerRejected);
    }
    const { secrets, clientResetToken, clientParams } = answer.handshake;
    const accept: SecureAcceptPacket = { type: 'secure-accept', dcid: clientCid, scid: serverCid, noise: answer.handshake.message };
    const acceptDatagram = encodeSecurePacket(accept);
    // A client whose pattern could not carry its reset token cannot reset us: a token nobody knows.
    const remoteParams = { ...clientParams, resetToken: clientResetToken ? new Uint8Array(clientResetToken) : this.h.randomBytes(RESET_TOKEN_SIZE) };
    const protection = new PacketProtection(this.h.suite, secrets.sendSecret, secrets.recvSecret, this.h.protectionConfig, now);
    const kept = this.h.perAddress.keep(address);
    this.h.establish(now, 'server', serverCid, clientCid, kept, port, localParams, remoteParams, acceptDatagram, protection, answer.remoteStatic);
    this.h.perAddress.add(kept);
    this.h.counters.connectionsAccepted++;
    this.h.queue(acceptDatagram, address, port);
    this.h.counters.acceptsSent++;
  }

  private accepting(): boolean {
    const accept = this.h.config.acceptConnections;
    return typeof accept === 'function' ? accept() : accept;
  }

  private sendRetry(now: number, clientCid: bigint, address: string, port: number): void {
    const retry: RetryPacket = { type: 'retry', dcid: clientCid, cookie: this.h.cookies.mint(now, address, port, clientCid) };
    this.h.queue(encodePacket(retry), address, port);
    this.h.counters.retriesSent++;
  }
}
