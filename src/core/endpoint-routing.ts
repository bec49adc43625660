import {
  MIN_DATAGRAM_SIZE,
  MIN_INITIAL_SIZE,
  PROTOCOL_VERSION,
  PacketType,
  RESET_TOKEN_SIZE,
  SUPPORTED_VERSIONS,
  decodePacket,
  encodePacket,
  readInvariants,
  verifyChecksum,
  type Packet,
  type StatelessResetPacket,
  type VersionNegotiationPacket,
} from '../wire/index.js';
import { SecurePacketType, decodeSecurePacket, isProtectedType, isSecureHandshakeType } from '../wire/secure.js';
import { resetTokenFor, tokensEqual } from './cookie.js';
import { readI32, type EndpointConnection } from './endpoint-connection.js';
import type { EndpointParts } from './endpoint-parts.js';
import type { PacketProtection } from './secure/packet-protection.js';

/**
 * Where a received datagram goes (the endpoint's way in, after EndpointCore.handleDatagram
 * counted it): DATA and PROTECTED packets to their connection's engine by connection ID (the
 * common case first, `route`, without decoding: one Map lookup by the ID's low half), a
 * PROTECTED packet opened first (`openProtected`); handshake packets to the server or the
 * client side of the handshake (server-handshake.ts, client-handshake.ts); a STATELESS_RESET
 * to the connection it names; an unknown version answered with a version negotiation; and
 * DATA for an unknown connection answered with a stateless reset (`maybeStatelessReset`).
 * Whatever is not routed is counted as dropped, by reason.
 */

/** Size of a STATELESS_RESET datagram: header (10) + token (16) + CRC (4). */
const STATELESS_RESET_SIZE = 10 + RESET_TOKEN_SIZE + 4;

export function route(e: EndpointParts, now: number, datagram: Uint8Array, address: string, port: number): void {
  // The common case first, with no allocation: DATA for a connection we know (an oversize
  // one goes the long way, to be dropped in routeData).
  const n = datagram.length;
  if (n >= MIN_DATAGRAM_SIZE && n <= e.maxDatagramSize && datagram[0] === PROTOCOL_VERSION) {
    const type = datagram[1]!;
    if (type === PacketType.Data) {
      const c = e.byCidLo.get(readI32(datagram, 6));
      // Plaintext connections only: for an encrypted one a clear DATA is an injection, which
      // routeData drops and counts.
      if (c !== undefined && c.cidHi === readI32(datagram, 2) && c.protection === null) {
        // The engine checks the CRC and counts what it drops, and checks the source address
        // (path validation, src/core/path-validation.ts) exactly as on the long route below.
        c.core.handleDatagram(now, datagram, false, address, port);
        // Once cleared it stays so: no address compare per datagram after the first.
        if (c.acceptDatagram !== null && (c.core.remoteAddress === undefined || c.core.remoteAddress === address)) c.acceptDatagram = null;
        e.touch(c);
        return;
      }
    } else if (type === SecurePacketType.Protected || type === SecurePacketType.ProtectedPhase1) {
      return routeProtected(e, now, datagram, address, port);
    }
  }
  routeOther(e, now, datagram, address, port);
}

/**
 * route()'s common case for PROTECTED packets of an encrypted connection: no invariants record,
 * no BigInt, no map keyed by one; what routeData does for them, in openProtected(). Apart so that
 * route() is small for plaintext connections too (357 → 300 B of bytecode: 4 ticks instead of 5
 * before V8 marks it, issue 11, the warm-up); an encrypted connection's compiled route() inlines it.
 */
function routeProtected(e: EndpointParts, now: number, datagram: Uint8Array, address: string, port: number): void {
  const c = e.byCidLo.get(readI32(datagram, 6));
  if (c !== undefined && c.cidHi === readI32(datagram, 2) && c.protection !== null) return openProtected(e, now, c, c.protection, datagram, address, port);
  routeOther(e, now, datagram, address, port);
}

/**
 * Every datagram route()'s two common cases do not take. Apart so that route() is small: V8
 * marks a function for TurboFan after 3 + bytecode length / 150 of its own ticks, and the
 * per-datagram part alone is compiled ~1,500 trips sooner (bench/tierup.ts, issue 11).
 */
export function routeOther(e: EndpointParts, now: number, datagram: Uint8Array, address: string, port: number): void {
  const inv = readInvariants(datagram);
  if (!inv) return e.drop('too-short');
  if (inv.version !== 0 && !SUPPORTED_VERSIONS.includes(inv.version)) {
    // Bytes 0–9 mean the same in every version: tell the sender what we speak. Only for
    // datagrams at least as big as an INITIAL, so the answer is always far smaller.
    if (datagram.length >= MIN_INITIAL_SIZE) {
      const vn: VersionNegotiationPacket = { type: 'version-negotiation', dcid: inv.cid, versions: [...SUPPORTED_VERSIONS] };
      e.queue(encodePacket(vn), address, port);
      e.counters.versionNegotiationsSent++;
    }
    return e.drop('version');
  }
  if (inv.version === PROTOCOL_VERSION && (inv.type === PacketType.Data || isProtectedType(inv.type))) {
    return routeData(e, now, datagram, inv.type, inv.cid, address, port);
  }
  if (inv.version === PROTOCOL_VERSION && isSecureHandshakeType(inv.type)) {
    const secure = decodeSecurePacket(datagram);
    if (!secure.ok) return e.drop(secure.reason);
    const p = secure.value;
    if (p.type === 'secure-initial') return e.server.onSecureInitial(now, p, address, port);
    if (p.type === 'secure-accept') return e.client.onSecureAccept(now, p, address, port);
    return e.client.onRefuse(p, address, port);
  }
  const decoded = decodePacket(datagram);
  if (!decoded.ok) return e.drop(decoded.reason);
  routeControl(e, now, decoded.value, address, port);
}

export function routeData(e: EndpointParts, now: number, datagram: Uint8Array, type: number, cid: bigint, address: string, port: number): void {
  // We announced this limit: a peer that sends more is broken or hostile, and a fragment of a
  // large datagram would keep the whole datagram alive (docs/protocol.md §2.4).
  if (datagram.length > e.maxDatagramSize) return e.drop('oversize');
  const target = e.connections.get(cid);
  if (target !== undefined) {
    const protection = target.protection;
    if (protection === null) {
      if (type !== PacketType.Data) return e.drop('unexpected');
      // The engine checks the CRC and counts what it drops, and the source address.
      target.core.handleDatagram(now, datagram, false, address, port);
    } else {
      // Encrypted: a plaintext DATA (an injection) is dropped here, before the engine sees a byte of it.
      if (type === PacketType.Data) return e.drop('decrypt');
      return openProtected(e, now, target, protection, datagram, address, port);
    }
    // The client had our ACCEPT (it sends DATA): no INITIAL repeat needs it any more (a
    // plaintext packet counts only from the connection's own address).
    const current = target.core.remoteAddress;
    if (current === undefined || current === address) target.acceptDatagram = null;
    e.touch(target);
    return;
  }
  if (e.client.has(cid)) return e.drop('early-data');
  if (e.retired.hasCid(cid)) return e.drop('retired-cid');
  if (type === PacketType.Data && !verifyChecksum(datagram)) return e.drop('checksum');
  e.drop('unknown-cid');
  maybeStatelessReset(e, now, cid, datagram.length, address, port);
}

/**
 * A PROTECTED packet for encrypted connection `c`: one that does not authenticate (or is
 * replayed) is dropped here, before the engine sees a byte of it; the engine reads the DATA
 * packet it opens to.
 */
export function openProtected(e: EndpointParts, now: number, c: EndpointConnection, protection: PacketProtection, datagram: Uint8Array, address: string, port: number): void {
  const plain = protection.open(now, datagram);
  if (plain === null) {
    e.drop(protection.lastFailure === 'replay' ? 'replay' : 'decrypt');
    if (protection.exhausted) {
      c.core.abort(now, 0, 'AEAD integrity limit reached');
      e.touch(c);
    }
    return;
  }
  c.core.handleDatagram(now, plain, true, address, port);
  // The client had our ACCEPT: only an authenticated packet gets here.
  c.acceptDatagram = null;
  e.touch(c);
}

export function routeControl(e: EndpointParts, now: number, packet: Packet, address: string, port: number): void {
  switch (packet.type) {
    case 'initial':
      return e.server.onInitial(now, packet, address, port);
    case 'retry':
      return e.client.onRetry(now, packet, address, port);
    case 'accept':
      return e.client.onAccept(now, packet, address, port);
    case 'stateless-reset':
      return onStatelessReset(e, now, packet, address, port);
    case 'version-negotiation':
      return e.client.onVersionNegotiation(packet, address, port);
    case 'data':
      // Routed before decoding; unreachable.
      return e.drop('unexpected');
  }
}

/** A STATELESS_RESET: an attempt's refusal (client-handshake.ts), or a peer that lost a connection's state. */
export function onStatelessReset(e: EndpointParts, now: number, packet: StatelessResetPacket, address: string, port: number): void {
  if (e.client.onStatelessReset(packet, address, port)) return;
  // A peer that lost its state answers with its own CID and the token it gave us.
  const c = e.byPeer.get(address, port, packet.dcid);
  if (!c) return e.drop(e.retired.hasPeer(address, port, packet.dcid) ? 'retired-cid' : 'unknown-cid');
  if (!tokensEqual(packet.token, c.remoteResetToken)) return e.drop('bad-reset-token');
  c.core.handleStatelessReset(now);
  e.touch(c);
}

export function maybeStatelessReset(e: EndpointParts, now: number, cid: bigint, triggerSize: number, address: string, port: number): void {
  // Strictly smaller than the trigger, so resets can never loop or amplify.
  if (!e.config.statelessReset || triggerSize <= STATELESS_RESET_SIZE) return;
  if (!e.resetLimiter.allow(now, address, e.config.statelessResetInterval)) return;
  const reset: StatelessResetPacket = { type: 'stateless-reset', dcid: cid, token: resetTokenFor(e.resetKey, cid) };
  e.queue(encodePacket(reset), address, port);
  e.counters.statelessResetsSent++;
}
