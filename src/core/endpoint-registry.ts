import type { TransportParams } from '../wire/index.js';
import { PROTECTION_OVERHEAD } from '../wire/secure.js';
import { EndpointConnection } from './endpoint-connection.js';
import type { EndpointParts } from './endpoint-parts.js';
import type { PacketProtection } from './secure/packet-protection.js';
import type { TraceDestination } from './trace.js';

/**
 * An established connection's life in the endpoint's tables: made (`establish`: its engine,
 * its record, its trace, its first event; the handshake sides call it through their host), filed
 * (`register`; `file` and `unfile` in the peer table, `unfiled` for a triple another holds),
 * moved when its peer migrates (`moved`), and forgotten when its engine closes (`forget`: out of
 * every table, its IDs retired). Also what a new connection needs of the endpoint: a fresh
 * connection ID (`freshCid`) and the application's verdict on a peer's key (`peerAccepted`).
 */

/** Create the engine and the record of a new connection (both roles, both kinds). */
export function establish(
  e: EndpointParts,
  now: number,
  role: 'client' | 'server',
  localCid: bigint,
  remoteCid: bigint,
  address: string,
  port: number,
  localParams: TransportParams,
  remoteParams: TransportParams,
  acceptDatagram: Uint8Array | null,
  protection: PacketProtection | null,
  remotePublicKey: Uint8Array | null,
  id = e.nextId++,
  handshakeRtt = 0,
): EndpointConnection {
  // The engine builds DATA packets that protection makes 12 bytes longer: it plans for that.
  const engineRemote = protection ? { ...remoteParams, maxDatagramSize: remoteParams.maxDatagramSize - PROTECTION_OVERHEAD } : remoteParams;
  const core = e.createConnection({
    role,
    localCid,
    remoteCid,
    localParams,
    remoteParams: engineRemote,
    config: e.params.coreConfig(protection !== null),
    now,
    trace: traceSink(e, id, role, localCid, remoteCid, address, port, now),
    budget: e.budget,
    address,
    port,
    randomBytes: e.randomBytes,
    packetOverhead: protection ? PROTECTION_OVERHEAD : 0,
    handshakeRtt,
    acceptSentNow: role === 'server',
  });
  const c = new EndpointConnection(id, role, localCid, remoteCid, address, port, core, remoteParams.resetToken, acceptDatagram, protection, remotePublicKey);
  register(e, c);
  e.events.push(role === 'server' ? { type: 'accepted', connection: c } : { type: 'connected', attempt: id, connection: c });
  e.touch(c);
  return c;
}

/** EndpointCoreConfig.verifyPeer's verdict on a peer's static key (no verifyPeer: accepted). */
export function peerAccepted(e: EndpointParts, publicKey: Uint8Array | null, address: string, port: number): boolean {
  const verify = e.config.verifyPeer;
  if (!verify) return true;
  if (!publicKey) return false;
  try {
    return verify(new Uint8Array(publicKey), address, port) === true;
  } catch {
    return false;
  }
}

/** Where a new connection's trace goes (null: untraced, also when the application's sink throws). */
export function traceSink(
  e: EndpointParts,
  id: number,
  role: 'client' | 'server',
  localCid: bigint,
  remoteCid: bigint,
  address: string,
  port: number,
  now: number,
): TraceDestination | null {
  if (e.trace === null) return null;
  try {
    return e.trace.connection({ id, role, localCid, remoteCid, address, port, now });
  } catch {
    return null; // e.g. the qlog file could not be opened: run untraced
  }
}

/** A random connection ID in use nowhere: no connection, handshake or retired ID has it. */
export function freshCid(e: EndpointParts): bigint {
  for (let i = 0; i < 64; i++) {
    const cid = bytesToBigint(e.randomBytes(8));
    if (cid !== 0n && !e.connections.has(cid) && !e.client.has(cid) && !e.retired.hasCid(cid)) return cid;
  }
  throw new Error('randomBytes keeps returning connection IDs in use');
}

/** A new connection into the connection table, the peer table and the budget's count. */
export function register(e: EndpointParts, c: EndpointConnection): void {
  e.connections.add(c);
  file(e, c);
  e.budget.connections++;
}

/**
 * The connection moved to a new remote address (its engine validated it): the tables keyed by
 * the peer's address follow. The per-address count moves too (a migration is not a new
 * connection, so it is not refused when the new address is at its limit).
 */
export function moved(e: EndpointParts, c: EndpointConnection, address: string, port: number): void {
  // Filed under its path: out of the table while the path changes, back in under the new one.
  unfile(e, c);
  if (c.address !== address) {
    if (c.role === 'server') {
      e.perAddress.remove(c.address);
      // The string the other connections from there keep, not the datagram's copy (AddressCounts).
      address = e.perAddress.keep(address);
      e.perAddress.add(address);
    }
    c.address = address;
  }
  // (Only the port changed: the address string it has is kept, shared or not.)
  c.port = port;
  file(e, c);
  c.acceptDatagram = null;
}

/** File `c` under its path in `byPeer`, or keep it waiting for that triple (`unfiled`). */
export function file(e: EndpointParts, c: EndpointConnection): void {
  if (!e.byPeer.add(c)) e.unfiled.add(c);
}

/** Take `c` out of `byPeer` (or `unfiled`); a connection waiting for its triple takes it. */
export function unfile(e: EndpointParts, c: EndpointConnection): void {
  if (e.unfiled.size > 0 && e.unfiled.delete(c)) return;
  if (!e.byPeer.delete(c) || e.unfiled.size === 0) return;
  for (const u of e.unfiled) {
    if (u.remoteCid === c.remoteCid && u.port === c.port && u.address === c.address) {
      e.unfiled.delete(u);
      e.byPeer.add(u);
      return;
    }
  }
}

/** The connection closed: drop it from every table and retire its IDs. */
export function forget(e: EndpointParts, c: EndpointConnection): void {
  c.closed = true;
  e.heap.remove(c);
  if (e.connections.delete(c)) e.budget.connections--;
  unfile(e, c);
  if (c.role === 'server') {
    e.perAddress.remove(c.address);
  }
  // What the rest of a batch brought it after it closed (read before this drain) is as stray.
  const late = c.core.readAfterClose;
  if (late !== undefined && late > 0) e.dropped['retired-cid'] += late;
  // Stray packets for this connection may still be in the network: keep its IDs out of use
  // and drop them silently (no stateless reset) for a while.
  const expiry = e.lastNow + e.config.retiredCidLifetime;
  e.retired.retire(c.localCid, c.address, c.port, c.remoteCid, expiry);
  if (!e.heap.scheduled(e.housekeeping)) e.heap.set(e.housekeeping, expiry);
}

function bytesToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(b[i] ?? 0);
  return v;
}
