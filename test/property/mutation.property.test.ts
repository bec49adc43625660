import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EndpointConnection } from '../../src/core/endpoint.js';
import type { ConnectionCore } from '../../src/core/connection.js';
import type { PacketProtection } from '../../src/core/secure/packet-protection.js';
import { createNodeSuite } from '../../src/crypto/node-suite.js';
import { Rng } from '../../src/testing/rng.js';
import { decodePacket, encodePacket, sealAt, type Frame, type Packet, type TransportParams } from '../../src/wire/index.js';
import { SecurePacketType, encodeSecurePacket, type SecurePacket } from '../../src/wire/secure.js';
import { VirtualNet, endpointConfig, type Node } from '../core/endpoint-harness.js';
import { checkCore } from '../helpers/invariants.js';

/**
 * Mutation fuzz (docs/protocol.md §2.4, §20): valid datagrams of every packet type, built for a
 * target connection or handshake with its real connection IDs, packet numbers and TSNs, then
 * mutated (bits flipped, truncated, extended, fields at their limits, frames duplicated and
 * reordered) and, mostly, re-checksummed so that they reach the decoders; fed to an endpoint
 * whose target is handshaking, open, closing, draining, dormant or encrypted (there, sealed with
 * the real keys too, so that they reach the frame decoder). Beside the target an honest
 * connection between the same two endpoints carries a transfer, which must deliver every byte
 * in order. Each datagram must be counted or handled (a counter, an event or a datagram sent
 * moves), none may throw, and the engines' invariants hold after each. Virtual time, seeded.
 */

const SERVER = '10.0.0.2';
const CLIENT = '10.0.0.1';
const SILENT = 4001;

type StateName = 'handshaking' | 'open' | 'closing' | 'draining' | 'dormant' | 'encrypted';

const serverKeys = (() => {
  const privateKey = new Rng(77).bytes(32);
  return { privateKey, publicKey: createNodeSuite().x25519Public(privateKey) };
})();

interface Target {
  /** CID the server's side of the target reads (client → server packets carry it), or 0n. */
  toServerCid: bigint;
  /** CID the client's side reads (server → client packets carry it: the attempt's CID while handshaking). */
  toClientCid: bigint;
  /** Where the client's side expects server answers from. */
  serverPort: number;
  client: EndpointConnection | null;
  server: EndpointConnection | null;
}

interface World {
  net: VirtualNet;
  server: Node;
  client: Node;
  honestClient: EndpointConnection;
  honestServer: EndpointConnection;
  honestExpected: Uint8Array;
  target: Target;
  secure: boolean;
  /** Per direction: the largest packet number and the TSN after the largest seen on the wire for the target. */
  toServer: { pn: number; tsn: number; ackPn: number };
  toClient: { pn: number; tsn: number; ackPn: number };
  /** Captured PROTECTED datagrams of the target (encrypted state). */
  captured: { data: Uint8Array; toServer: boolean }[];
}

function connectedConn(node: Node, attempt: number): EndpointConnection | undefined {
  const ev = node.events.find((e) => e.type === 'connected' && e.attempt === attempt);
  return ev?.type === 'connected' ? ev.connection : undefined;
}

function acceptedBy(node: Node, remoteCid: bigint): EndpointConnection | undefined {
  const ev = node.events.find((e) => e.type === 'accepted' && e.connection.remoteCid === remoteCid);
  return ev?.type === 'accepted' ? ev.connection : undefined;
}

function received(node: Node, conn: EndpointConnection): Uint8Array[] {
  return node.events.flatMap((e) => (e.type === 'connection-event' && e.connection === conn && e.event.type === 'message' ? [e.event.data] : []));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readU64(d: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(d[at + i]!);
  return v;
}

function readU32(d: Uint8Array, at: number): number {
  return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
}

/** Sets up the world: an honest connection, and the target in `state`. */
function world(state: StateName): World {
  const secure = state === 'encrypted';
  const suite = secure ? createNodeSuite() : undefined;
  const net = new VirtualNet(5);
  const server = net.add(SERVER, endpointConfig({ acceptConnections: true, ...(secure ? { keyPair: serverKeys } : {}) }), 1, 4000, suite);
  const client = net.add(CLIENT, endpointConfig({ acceptConnections: false }), 2, 5000, suite);
  const opts = secure ? { serverKey: serverKeys.publicKey } : {};
  const h = client.core.connect(net.now, SERVER, 4000, opts);
  if (!h.ok) throw new Error('connect');
  let t: number | null = null;
  if (state !== 'handshaking') {
    const r = client.core.connect(net.now, SERVER, 4000, opts);
    if (!r.ok) throw new Error('connect');
    t = r.attempt;
  }
  net.run(2000, () => connectedConn(client, h.attempt) !== undefined && (t === null || connectedConn(client, t) !== undefined));
  const honestClient = connectedConn(client, h.attempt)!;
  const honestServer = acceptedBy(server, honestClient.localCid)!;
  expect(honestServer).toBeDefined();

  let target: Target;
  if (t === null) {
    // A handshake to a port nobody answers from: the fuzz plays the server.
    const logged = net.log.length;
    const r = client.core.connect(net.now, SERVER, SILENT);
    if (!r.ok) throw new Error('connect');
    net.flush();
    const initial = net.log.slice(logged).find((w) => w.from === CLIENT && w.toPort === SILENT)!;
    const cid = readU64(initial.data, 2);
    target = { toServerCid: 0n, toClientCid: cid, serverPort: SILENT, client: null, server: null };
  } else {
    const tc = connectedConn(client, t)!;
    const ts = acceptedBy(server, tc.localCid)!;
    target = { toServerCid: tc.remoteCid, toClientCid: tc.localCid, serverPort: 4000, client: tc, server: ts };
    // Some traffic both ways on the target (TSNs and packet numbers to aim near), channel 2 too.
    for (let i = 0; i < 3; i++) {
      tc.core.send(new Uint8Array(300 + i).fill(i), i === 2 ? { channel: 2, delivery: 'ordered' } : 'ordered');
      ts.core.send(new Uint8Array(200 + i).fill(i), 'unordered');
    }
    tc.core.send(new Uint8Array(100), 'unreliable');
    client.core.touch(tc);
    server.core.touch(ts);
    net.run(net.now + 200);
  }

  const captured: { data: Uint8Array; toServer: boolean }[] = [];
  const toServer = { pn: 0, tsn: 0, ackPn: 0 };
  const toClient = { pn: 0, tsn: 0, ackPn: 0 };
  const scan = (from: number): void => {
    for (const w of net.log.slice(from)) {
      const cid = readU64(w.data, 2);
      const dir = cid === target.toServerCid && target.toServerCid !== 0n ? toServer : cid === target.toClientCid ? toClient : null;
      if (dir === null || w.data.length < 18) continue;
      if (secure && (w.data[1] === SecurePacketType.Protected || w.data[1] === SecurePacketType.ProtectedPhase1)) {
        captured.push({ data: Uint8Array.from(w.data), toServer: dir === toServer });
        dir.pn = Math.max(dir.pn, readU32(w.data, 10));
        continue;
      }
      const d = decodePacket(w.data);
      if (!d.ok || d.value.type !== 'data') continue;
      dir.pn = Math.max(dir.pn, d.value.packetNumber);
      for (const f of d.value.frames) if (f.type === 'data' && (f.channel ?? 0) === 0) dir.tsn = Math.max(dir.tsn, (f.tsn + 1) >>> 0);
    }
  };
  scan(0);
  toServer.ackPn = toClient.pn;
  toClient.ackPn = toServer.pn;

  if (state === 'closing') {
    // The client closes; nothing of the target's gets through any more: it stays closing.
    net.filter = (w) => readU64(w.data, 2) !== target.toServerCid && readU64(w.data, 2) !== target.toClientCid;
    target.client!.core.close(net.now);
    client.core.touch(target.client!);
    net.run(net.now + 20);
    expect(target.client!.core.state).toBe('closing');
  } else if (state === 'draining') {
    target.client!.core.close(net.now);
    client.core.touch(target.client!);
    net.run(net.now + 500, () => target.client!.core.state === 'draining');
    expect(target.client!.core.state).toBe('draining');
  } else if (state === 'dormant') {
    net.run(net.now + 400);
    expect((target.client!.core as ConnectionCore).dormantFields()).not.toBeNull();
    expect((target.server!.core as ConnectionCore).dormantFields()).not.toBeNull();
  }

  // The honest transfer: ordered messages of assorted sizes, every byte numbered.
  const rng = new Rng(11);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 24; i++) {
    const m = new Uint8Array(1 + Math.floor(rng.next() * 4000));
    for (let j = 0; j < m.length; j++) m[j] = (i * 31 + j) & 0xff;
    parts.push(m);
    honestClient.core.send(m, 'ordered');
  }
  client.core.touch(honestClient);
  return { net, server, client, honestClient, honestServer, honestExpected: concat(parts), target, secure, toServer, toClient, captured };
}

// ------------------------------------------------------------------ what is sent

const u32 = (base: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: -4, max: 12 }).map((d) => (base + d) >>> 0) },
    { weight: 1, arbitrary: fc.constantFrom(0, 0xffff_ffff, (base + 2 ** 31) >>> 0, (base - 1) >>> 0, (base + 0x7fff_ffff) >>> 0, (base + 4096) >>> 0) },
  );
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: max }));
const channel = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 255) });

function frameArb(dir: { tsn: number; ackPn: number }): fc.Arbitrary<Frame> {
  return fc.oneof(
    fc.constant<Frame>({ type: 'ping' }),
    fc
      .record({
        largest: u32(dir.ackPn),
        ackDelay: fc.oneof(fc.nat(100), fc.constant(0x3fff_ffff)),
        maxTsn: u32((dir.tsn + 64) >>> 0),
        firstRange: fc.oneof(fc.nat(4), fc.constant(0x3fff_ffff)),
        ranges: fc.array(fc.oneof(fc.nat(3), fc.constant(0x3fff_ffff)), { maxLength: 6 }).map((r) => (r.length % 2 === 0 ? r : r.slice(1))),
      })
      .map((a): Frame => ({ type: 'ack', ...a })),
    fc.constant<Frame>({ type: 'close' }),
    fc.record({ code: fc.oneof(fc.nat(5), fc.constant(0xffff)), reason: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 })) }).map((r): Frame => ({ type: 'reset', ...r })),
    fc
      .record({ channel, tsn: u32(dir.tsn), first: fc.boolean(), last: fc.boolean(), unordered: fc.boolean(), payload: bytes(1100) })
      .map((f): Frame => ({ type: 'data', ...f })),
    fc
      .record({ channel, tsn: u32(dir.tsn), first: fc.boolean(), last: fc.boolean(), unordered: fc.boolean(), length: fc.oneof(fc.nat(2000), fc.constant(0xffff)), offset: fc.oneof(fc.nat(2000), fc.constant(0xffff)), payload: bytes(600) })
      .map((f): Frame => ({ type: 'data-part', ...f })),
    fc
      .record({ channel, messageId: u32(1), index: fc.oneof(fc.nat(4), fc.constant(0xffff)), count: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(0xffff)), payload: bytes(600) })
      .map((f): Frame => ({ type: 'unreliable', ...f })),
    fc.uint8Array({ minLength: 8, maxLength: 8 }).map((data): Frame => ({ type: 'path-challenge', data })),
    fc.uint8Array({ minLength: 8, maxLength: 8 }).map((data): Frame => ({ type: 'path-response', data })),
  );
}

const params: fc.Arbitrary<TransportParams> = fc.record({
  maxDatagramSize: fc.oneof(fc.constantFrom(0, 1199, 1200, 1472, 65507, 0xffff), fc.nat(0xffff)),
  initialWindow: fc.oneof(fc.constantFrom(0, 1, 64, 0xffff_ffff), fc.nat(1000)),
  idleTimeout: fc.oneof(fc.constantFrom(0, 1, 30_000, 0xffff_ffff), fc.nat(100_000)),
  initialPacketNumber: fc.oneof(fc.constantFrom(0, 0xffff_ffff), fc.nat()),
  initialTsn: fc.oneof(fc.constantFrom(0, 0xffff_ffff), fc.nat()),
  resetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

/** Frames duplicated or reordered. */
function shuffleFrames(frames: Frame[], how: number): Frame[] {
  if (frames.length === 0) return frames;
  if (how === 1) return [...frames, frames[0]!];
  if (how === 2) return [...frames].reverse();
  if (how === 3) return frames.flatMap((f) => [f, f]);
  return frames;
}

type Base =
  | { kind: 'plain'; packet: Packet; toServer: boolean; from: 'peer' | 'other-port' }
  | { kind: 'secure'; packet: SecurePacket; toServer: boolean }
  | { kind: 'sealed'; packet: Packet; toServer: boolean }
  | { kind: 'captured'; index: number };

function baseArb(w: World): fc.Arbitrary<Base> {
  const t = w.target;
  const toServer = t.toServerCid !== 0n;
  const dataTo = (server: boolean): fc.Arbitrary<Packet> => {
    const dir = server ? w.toServer : w.toClient;
    return fc
      .record({ pn: u32((dir.pn + 1) >>> 0), frames: fc.array(frameArb(dir), { minLength: 0, maxLength: 4 }), how: fc.nat(4) })
      .map(({ pn, frames, how }): Packet => ({ type: 'data', dcid: server ? t.toServerCid : t.toClientCid, packetNumber: pn, frames: shuffleFrames(frames, how) }));
  };
  const cid = fc.oneof({ weight: 5, arbitrary: fc.constant(t.toClientCid) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) });
  const toClientControl: fc.Arbitrary<Packet> = fc.oneof(
    fc.record({ dcid: cid, cookie: fc.uint8Array({ maxLength: 255 }) }).map((p): Packet => ({ type: 'retry', ...p })),
    fc.record({ dcid: cid, scid: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n })), params }).map((p): Packet => ({ type: 'accept', ...p })),
    fc.record({ dcid: cid, token: fc.uint8Array({ minLength: 16, maxLength: 16 }) }).map((p): Packet => ({ type: 'stateless-reset', ...p })),
    fc.record({ dcid: cid, versions: fc.array(fc.oneof(fc.constant(1), fc.nat(9)), { maxLength: 4 }) }).map((p): Packet => ({ type: 'version-negotiation', ...p })),
  );
  const toServerControl: fc.Arbitrary<Packet> = fc
    .record({ scid: fc.oneof(fc.constant(t.toClientCid), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), params, cookie: fc.uint8Array({ maxLength: 40 }) })
    .map((p): Packet => ({ type: 'initial', version: 1, ...p }));
  const secureToClient: fc.Arbitrary<SecurePacket> = fc.oneof(
    fc.record({ dcid: cid, scid: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), noise: fc.uint8Array({ minLength: 48, maxLength: 120 }) }).map((p): SecurePacket => ({ type: 'secure-accept', ...p })),
    fc.record({ dcid: cid, token: fc.uint8Array({ minLength: 16, maxLength: 16 }), reason: fc.nat(5) }).map((p): SecurePacket => ({ type: 'refuse', ...p })),
  );
  const secureToServer: fc.Arbitrary<SecurePacket> = fc
    .record({ scid: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), params, pattern: fc.constantFrom('NK', 'IK', 'NX', 'IX'), noise: fc.uint8Array({ minLength: 32, maxLength: 200 }), cookie: fc.uint8Array({ maxLength: 40 }) })
    .map((p): SecurePacket => ({ type: 'secure-initial', ...p }));

  const options: fc.Arbitrary<Base>[] = [
    fc.record({ packet: toClientControl, from: fc.constant<'peer'>('peer') }).map((b): Base => ({ kind: 'plain', toServer: false, ...b })),
    fc.record({ packet: toServerControl, from: fc.constant<'peer'>('peer') }).map((b): Base => ({ kind: 'plain', toServer: true, ...b })),
    secureToClient.map((packet): Base => ({ kind: 'secure', packet, toServer: false })),
    secureToServer.map((packet): Base => ({ kind: 'secure', packet, toServer: true })),
    fc.record({ packet: dataTo(false), from: fc.constantFrom<'peer' | 'other-port'>('peer', 'peer', 'peer', 'other-port') }).map((b): Base => ({ kind: 'plain', toServer: false, ...b })),
  ];
  if (toServer) {
    options.push(fc.record({ packet: dataTo(true), from: fc.constantFrom<'peer' | 'other-port'>('peer', 'peer', 'peer', 'other-port') }).map((b): Base => ({ kind: 'plain', toServer: true, ...b })));
  }
  if (w.secure) {
    options.push(dataTo(true).map((packet): Base => ({ kind: 'sealed', packet, toServer: true })));
    options.push(dataTo(false).map((packet): Base => ({ kind: 'sealed', packet, toServer: false })));
    options.push(dataTo(true).map((packet): Base => ({ kind: 'sealed', packet, toServer: true })));
    if (w.captured.length > 0) options.push(fc.nat(w.captured.length - 1).map((index): Base => ({ kind: 'captured', index })));
  }
  // Weigh the DATA packets (the connection's own) up.
  return fc.oneof(...options.map((arbitrary, i) => ({ weight: i >= 4 ? 4 : 1, arbitrary })));
}

type Mutation =
  | { op: 'none' }
  | { op: 'flip'; bits: number[] }
  | { op: 'truncate'; keep: number }
  | { op: 'extend'; extra: Uint8Array }
  | { op: 'fill'; at: number; length: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  // Unaltered bytes (the packet's fields and frames may still be at their limits or reordered).
  { weight: 4, arbitrary: fc.constant<Mutation>({ op: 'none' }) },
  fc.array(fc.nat(), { minLength: 1, maxLength: 3 }).map((bits): Mutation => ({ op: 'flip', bits })),
  fc.nat().map((keep): Mutation => ({ op: 'truncate', keep })),
  fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(64).map((n) => new Uint8Array(n + 1))).map((extra): Mutation => ({ op: 'extend', extra })),
  fc.record({ at: fc.nat(), length: fc.integer({ min: 1, max: 8 }), value: fc.constantFrom(0, 0xff, 0x7f, 0x80) }).map((m): Mutation => ({ op: 'fill', ...m })),
);

/** `content` (everything but the CRC) mutated; the caller appends a CRC. */
function mutate(content: Uint8Array, m: Mutation): Uint8Array {
  const d = Uint8Array.from(content);
  switch (m.op) {
    case 'none':
      return d;
    case 'flip':
      for (const b of m.bits) if (d.length > 0) d[(b >>> 3) % d.length]! ^= 1 << (b & 7);
      return d;
    case 'truncate':
      return d.subarray(0, d.length === 0 ? 0 : m.keep % d.length);
    case 'extend': {
      const out = new Uint8Array(d.length + m.extra.length);
      out.set(d);
      out.set(m.extra, d.length);
      return out;
    }
    case 'fill':
      if (d.length > 0) d.fill(m.value, m.at % d.length, (m.at % d.length) + m.length);
      return d;
  }
}

function withCrc(content: Uint8Array, fix: boolean, rng: number): Uint8Array {
  const out = new Uint8Array(content.length + 4);
  out.set(content);
  if (fix) return sealAt(out, 0, content.length);
  out[content.length] = rng & 0xff;
  return out;
}

/** A copy of `p` with its own send state (packet numbers), same keys: a forger who holds them. */
function forger(p: PacketProtection): PacketProtection {
  const f = Object.assign(Object.create(Object.getPrototypeOf(p) as object) as PacketProtection, p);
  (f as unknown as { lastSentPn: number }).lastSentPn = -1;
  return f;
}

interface Shot {
  data: Uint8Array;
  to: Node;
  from: string;
  fromPort: number;
}

function build(w: World, base: Base, m: Mutation, fixCrc: boolean, noise: number): Shot | null {
  const t = w.target;
  const toServer = base.kind === 'captured' ? w.captured[base.index]!.toServer : base.toServer;
  const to = toServer ? w.server : w.client;
  const from = toServer ? CLIENT : SERVER;
  const fromPort = toServer ? 5000 : t.serverPort;
  if (base.kind === 'captured') {
    // A PROTECTED datagram of the target, replayed or altered (no CRC: the tag covers it).
    const c = w.captured[base.index]!.data;
    const d = mutate(c, m);
    return { data: d, to, from, fromPort };
  }
  let encoded: Uint8Array;
  try {
    encoded = base.kind === 'secure' ? encodeSecurePacket(base.packet) : encodePacket(base.packet);
  } catch {
    return null; // a field the encoder refuses (too large for its datagram, a reason too long)
  }
  const content = mutate(encoded.subarray(0, encoded.length - 4), m);
  const plain = withCrc(content, fixCrc, noise);
  if (base.kind === 'sealed') {
    const conn = toServer ? t.client : t.server;
    if (conn?.protection == null || plain.length < 18) return null;
    try {
      return { data: Uint8Array.from(forger(conn.protection).seal(w.net.now, plain)), to, from, fromPort };
    } catch {
      return null;
    }
  }
  const port = base.kind === 'plain' && base.from === 'other-port' ? fromPort + 1 : fromPort;
  return { data: plain, to, from, fromPort: port };
}

// ------------------------------------------------------------------ what is checked

/** Everything that moves when an endpoint counts or handles a datagram (but its receive counters). */
function fingerprint(w: World, node: Node): string {
  const { datagramsReceived: _r, bytesReceived: _b, ...endpoint } = node.core.stats();
  const conns = [...node.core.connectionRecords()].map((c) => {
    const s = c.core.stats(w.net.now);
    return [c.id, c.core.state, s.packetsReceived, s.checksumFailures, s.malformedDropped, s.duplicatesDropped, s.packetsFromUnvalidatedPath, s.pathChallengesSent, s.unreliableDropped, c.protection?.stats()];
  });
  return JSON.stringify({ endpoint, conns, events: node.events.length, sent: w.net.log.length, pending: node.core.pendingConnectCount });
}

function checkWorld(w: World): void {
  for (const node of [w.server, w.client]) {
    for (const c of node.core.connectionRecords()) {
      expect(c.closed).toBe(false);
      checkCore(c.core as ConnectionCore);
    }
    const s = node.core.stats();
    expect(s.connections + s.drainingConnections).toBe(node.core.connectionCount);
    expect(s.dropped['internal-error']).toBe(0);
  }
}

/** What one datagram moved, in a word: the endpoint's drop reason, or what the connection did with it. */
function outcome(before: Snapshot, after: Snapshot): string {
  for (const [reason, n] of Object.entries(after.dropped)) if (n !== before.dropped[reason]) return `dropped.${reason}`;
  for (const key of ['packetsReceived', 'checksumFailures', 'malformedDropped', 'duplicatesDropped', 'packetsFromUnvalidatedPath'] as const) {
    if (after.conn[key] !== before.conn[key]) return key === 'packetsReceived' ? 'read' : key;
  }
  return 'other';
}

interface Snapshot {
  dropped: Record<string, number>;
  conn: Record<'packetsReceived' | 'checksumFailures' | 'malformedDropped' | 'duplicatesDropped' | 'packetsFromUnvalidatedPath', number>;
}

function snapshot(node: Node): Snapshot {
  const conn = { packetsReceived: 0, checksumFailures: 0, malformedDropped: 0, duplicatesDropped: 0, packetsFromUnvalidatedPath: 0 };
  for (const c of node.core.connectionRecords()) {
    const s = c.core.stats();
    for (const k of Object.keys(conn) as (keyof typeof conn)[]) conn[k] += s[k];
  }
  return { dropped: node.core.stats().dropped, conn };
}

function fuzz(state: StateName, numRuns: number, seed: number): Map<string, number> {
  const shots = { sent: 0, built: 0 };
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.array(fc.tuple(fc.nat(20), mutationArb, fc.nat(9), fc.nat(255)), { minLength: 1, maxLength: 10 }),
      (baseSeed, steps) => {
        const w = world(state);
        const bases = fc.sample(baseArb(w), { seed: baseSeed, numRuns: steps.length });
        for (let i = 0; i < steps.length; i++) {
          const [gap, m, crc, noise] = steps[i]!;
          w.net.run(w.net.now + gap);
          const shot = build(w, bases[i]!, m, crc !== 0, noise);
          shots.sent++;
          if (shot === null) continue;
          shots.built++;
          const before = fingerprint(w, shot.to);
          const was = snapshot(shot.to);
          expect(() => shot.to.core.handleDatagram(w.net.now, shot.data, shot.from, shot.fromPort)).not.toThrow();
          expect(() => w.net.flush()).not.toThrow();
          const after = fingerprint(w, shot.to);
          if (after === before) throw new Error(`not counted nor handled: ${Buffer.from(shot.data).toString("hex")} to ${shot.to.name} in ${state}; target ${w.target.client?.core.state}/${w.target.client?.closed} at ${w.net.now}; ${JSON.stringify(bases.slice(0, i + 1), (_k, v) => (typeof v === "bigint" ? v.toString(16) : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v))}`);
          const what = outcome(was, snapshot(shot.to));
          outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
          checkWorld(w);
        }
        w.net.run(w.net.now + 20_000, () => received(w.server, w.honestServer).reduce((n, p) => n + p.length, 0) >= w.honestExpected.length);
        expect(Buffer.from(concat(received(w.server, w.honestServer))).equals(Buffer.from(w.honestExpected))).toBe(true);
        expect(w.honestClient.core.state).toBe('open');
        checkWorld(w);
      },
    ),
    { seed, numRuns },
  );
  // Most mutations made a datagram (the rest are fields the encoder refuses).
  expect(shots.built).toBeGreaterThan(shots.sent / 2);
  return outcomes;
}

describe('mutated datagrams of every packet type, in every connection state', () => {
  for (const [state, seed] of [['handshaking', 1], ['open', 2], ['closing', 3], ['draining', 4], ['dormant', 5], ['encrypted', 6]] as const) {
    it(`${state}: never thrown, each counted or handled, the honest transfer beside it complete and in order`, () => {
      const outcomes = fuzz(state, 30, seed);
      // The fuzz reaches what it means to: the endpoint's decoders, and (but while handshaking)
      // the target's own packet and frame decoder, past the checksum (and the AEAD).
      const n = (what: string): number => outcomes.get(what) ?? 0;
      expect(n('dropped.malformed') + n('dropped.too-short') + n('dropped.unknown-cid')).toBeGreaterThan(5);
      if (state === 'handshaking') {
        expect(n('dropped.early-data') + n('dropped.unexpected') + n('other')).toBeGreaterThan(5);
      } else {
        expect(n('read')).toBeGreaterThan(10);
        expect(n('malformedDropped') + n('duplicatesDropped')).toBeGreaterThan(5);
      }
      if (state === 'encrypted') expect(Math.min(n('dropped.decrypt'), n('dropped.replay'))).toBeGreaterThan(5);
    });
  }
});
