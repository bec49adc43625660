import { describe, expect, it } from 'vitest';
import { ResetCode } from '../../src/core/connection.js';
import { resolveCoreConfig } from '../../src/core/config.js';
import { CookieJar } from '../../src/core/cookie.js';
import { createCounters } from '../../src/core/counters.js';
import { PathMtu } from '../../src/core/path-mtu.js';
import { LossRecovery } from '../../src/core/loss-recovery.js';
import type { CongestionController, CoreEvent } from '../../src/core/types.js';
import { decodePacket, encodePacket } from '../../src/wire/packet.js';
import type { Frame } from '../../src/wire/types.js';
import { makeCores } from '../helpers/pair.js';
import { VirtualNet, endpointConfig, type Wire } from './endpoint-harness.js';

/**
 * One test per rule that docs/protocol.md states and an implementer from the spec alone had to
 * guess (issue #10, "Spec corrections"). Each names its section.
 */

function events(core: { pollEvent(): CoreEvent | null }): CoreEvent[] {
  const out: CoreEvent[] = [];
  for (let e = core.pollEvent(); e !== null; e = core.pollEvent()) out.push(e);
  return out;
}

function tsnsSent(datagrams: Uint8Array[]): number[] {
  const out: number[] = [];
  for (const d of datagrams) {
    const p = decodePacket(d);
    if (p.ok && p.value.type === 'data') for (const f of p.value.frames) if (f.type === 'data') out.push(f.tsn);
  }
  return out;
}

describe('docs/protocol.md rules', () => {
  it('§4/§15: before any ACK a sender sends TSNs from its own initialTsn up to own initialTsn − 1 + the peer’s initialWindow', () => {
    // a's TSNs start at 77, b's at 99; b announced a window of 40 TSNs, a one of 16.
    const [a] = makeCores(1, { initialTsn: [77, 99], receiveWindowFragments: [16, 40], config: { congestion: 'none', pacing: false } });
    for (let i = 0; i < 100; i++) a.send(new Uint8Array(1000));
    const out: Uint8Array[] = [];
    for (let d = a.pollTransmit(0); d !== null; d = a.pollTransmit(0)) out.push(d);
    const tsns = tsnsSent(out);
    expect(tsns.length).toBe(40);
    expect(Math.min(...tsns)).toBe(77);
    expect(Math.max(...tsns)).toBe(77 - 1 + 40);
  });

  it('§15/§18.3: a flow-control violation is ERR_PROTOCOL_VIOLATION on the side that detects it (RESET code 2) and on the side told', () => {
    const [a, b] = makeCores(2, { initialTsn: [77, 99], receiveWindowFragments: [16, 16] });
    const packet = encodePacket({
      type: 'data',
      dcid: b.localCid,
      packetNumber: 1000,
      frames: [{ type: 'data', tsn: 77 + 16, first: true, last: true, unordered: false, payload: new Uint8Array(1) }],
    });
    b.handleDatagram(0, packet);
    expect(events(b).at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_PROTOCOL_VIOLATION', initiator: 'local' } });
    const reset = b.pollTransmit(0)!;
    const decoded = decodePacket(reset);
    expect(decoded.ok && decoded.value.type === 'data' && decoded.value.frames[0]).toMatchObject({ type: 'reset', code: ResetCode.FlowControl });
    a.handleDatagram(1, reset);
    expect(events(a).at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_PROTOCOL_VIOLATION', initiator: 'remote' } });
  });

  it('§18.2: frames before a RESET in the same packet are processed, frames after it are ignored', () => {
    const [, b] = makeCores(3, {});
    const frames: Frame[] = [
      { type: 'data', tsn: 77, first: true, last: true, unordered: false, payload: new TextEncoder().encode('before') },
      { type: 'reset', code: 0, reason: 'bye' },
      { type: 'data', tsn: 78, first: true, last: true, unordered: false, payload: new TextEncoder().encode('after') },
    ];
    b.handleDatagram(0, encodePacket({ type: 'data', dcid: b.localCid, packetNumber: 1000, frames }));
    const evs = events(b);
    expect(evs.map((e) => e.type)).toEqual(['message', 'closed']);
    expect(new TextDecoder().decode((evs[0] as { data: Uint8Array }).data)).toBe('before');
    expect(evs[1]).toMatchObject({ error: { code: 'ERR_CONNECTION_RESET', initiator: 'remote' } });
    expect(b.pollTransmit(0)).toBeNull(); // nothing is sent in reply
  });

  it('§16 (RFC 9002 §7.6): persistent congestion needs the losses to span 3 PTOs with nothing acknowledged between them', () => {
    const run = (ackTheMiddle: boolean): boolean[] => {
      const flags: boolean[] = [];
      const spy: CongestionController = {
        name: 'spy',
        window: 1e9,
        pacingRate: Infinity,
        onPacketSent() {},
        onAck() {},
        onCongestionEvent(_now, _sentAt, _bytes, persistent) {
          flags.push(persistent);
        },
      };
      const config = resolveCoreConfig({ congestion: () => spy, pacing: false, random: () => 0.999 });
      const content = { onAcked() {}, onLost() {}, onProbe() {}, sortRetransmissions() {} };
      const lr = new LossRecovery(config, new PathMtu(1200), 0, 0, content, createCounters());
      const send = (now: number) => {
        const pn = lr.allocatePacketNumber();
        lr.onPacketSent(now, pn, 1200, true, null, false, false);
        return pn;
      };
      // pn 0 gives the first RTT sample (100 ms: PTO = 100 + 4 × 50 + 5 = 305 ms).
      send(0);
      expect(lr.onAck(100, { type: 'ack', largest: 0, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [] })).toBeNull();
      // pn 1–10 every 150 ms from 200 ms (1,350 ms apart end to end), pn 11 at 1,700 ms.
      for (let i = 1; i <= 11; i++) send(i === 11 ? 1700 : 200 + (i - 1) * 150);
      // One ACK: pn 11, and pn 5 too when `ackTheMiddle`; everything else is lost.
      const ranges = ackTheMiddle ? [11 - 5 - 2, 0] : [];
      expect(lr.onAck(1800, { type: 'ack', largest: 11, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges })).toBeNull();
      return flags;
    };
    expect(run(false)).toEqual([true]);
    // 200–650 ms and 950–1,550 ms: neither run spans 3 × 305 ms; pn 5 got through in between.
    expect(run(true)).toEqual([false]);
  });

  it('§10.3: a cookie stamped at whole second T is valid while floor(now / 1 s) − T ≤ 10', () => {
    const jar = new CookieJar({ randomBytes: (n) => new Uint8Array(n).fill(3), rotationMs: 120_000, lifetimeMs: 10_000, now: 0 });
    const cookie = jar.mint(1_000_900, '192.0.2.1', 50000, 1n); // T = 1000 (0.9 s truncated away)
    expect(jar.check(1_010_999, '192.0.2.1', 50000, 1n, cookie)).toBe('ok'); // 10.099 s real age
    expect(jar.check(1_011_000, '192.0.2.1', 50000, 1n, cookie)).toBe('expired');
    expect(jar.check(999_999, '192.0.2.1', 50000, 1n, cookie)).toBe('expired'); // from the future
  });
});

describe('docs/protocol.md §2.4: which counter each check of a received datagram lands in', () => {
  function connectedNet() {
    const net = new VirtualNet(5);
    const server = net.add('10.0.0.2', endpointConfig(), 1, 4000);
    const client = net.add('10.0.0.1', endpointConfig(), 2, 5000);
    client.core.connect(net.now, '10.0.0.2', 4000);
    net.run(2000, () => client.events.some((e) => e.type === 'connected'));
    const accepted = server.events.find((e) => e.type === 'accepted');
    if (accepted?.type !== 'accepted') throw new Error('not connected');
    const conn = accepted.connection;
    let pn = 100;
    const data = (dcid: bigint) => encodePacket({ type: 'data', dcid, packetNumber: pn++, frames: [{ type: 'ping' }] });
    return { net, server, conn, data };
  }

  it('DATA of a live connection is checked by the connection: a bad checksum is its checksumFailures, not dropped.checksum', () => {
    const { net, server, conn, data } = connectedNet();
    const bad = data(conn.localCid);
    bad[bad.length - 1]! ^= 0xff;
    net.inject('10.0.0.1', 5000, server, bad);
    expect(conn.core.stats().checksumFailures).toBe(1);
    expect(server.core.stats().dropped.checksum).toBe(0);
  });

  it('DATA for an unknown CID: endpoint-level, checksum first (dropped.checksum), then unknown-cid', () => {
    const { net, server, data } = connectedNet();
    const bad = data(0x77n);
    bad[bad.length - 1]! ^= 0xff;
    net.inject('10.0.0.9', 6000, server, bad);
    net.inject('10.0.0.9', 6000, server, data(0x78n));
    expect(server.core.stats().dropped).toMatchObject({ checksum: 1, 'unknown-cid': 1 });
  });

  it('an unknown version is counted as version before the checksum is looked at; too-short before anything', () => {
    const { net, server } = connectedNet();
    const d = new Uint8Array(1200).fill(0xab);
    d[0] = 9;
    net.inject('10.0.0.9', 6000, server, d); // checksum is garbage too
    net.inject('10.0.0.9', 6000, server, new Uint8Array(13));
    expect(server.core.stats().dropped).toMatchObject({ version: 1, 'too-short': 1, checksum: 0 });
  });

  it('DATA from another address for a draining connection is not read and is counted (packetsFromUnvalidatedPath), as for an open one', () => {
    // Found by test/property/mutation.property.test.ts: a draining connection dropped it without a count.
    const { net, server, conn, data } = connectedNet();
    conn.core.close(net.now);
    server.core.touch(conn);
    net.run(net.now + 500, () => conn.core.state === 'draining');
    expect(conn.core.state).toBe('draining');
    const before = conn.core.stats();
    net.inject('10.0.0.1', 5001, server, data(conn.localCid));
    net.flush();
    const after = conn.core.stats();
    expect(after.packetsFromUnvalidatedPath).toBe(before.packetsFromUnvalidatedPath + 1);
    expect(after.packetsReceived).toBe(before.packetsReceived);
  });

  it('a DATA datagram above the announced maxDatagramSize is oversize, before its CID is looked up', () => {
    const { net, server } = connectedNet();
    const d = new Uint8Array(1453); // the default maxDatagramSize is 1,452
    d[0] = 1;
    d[1] = 4;
    net.inject('10.0.0.9', 6000, server, d);
    expect(server.core.stats().dropped).toMatchObject({ oversize: 1, 'unknown-cid': 0, checksum: 0 });
  });
});

describe('docs/protocol.md §10.2: INITIAL retransmission across a RETRY', () => {
  it('the backoff is not restarted by a RETRY: the INITIAL with the cookie is repeated at the interval reached so far', () => {
    const net = new VirtualNet(5);
    const server = net.add('10.0.0.2', endpointConfig(), 1, 4000);
    const client = net.add('10.0.0.1', endpointConfig(), 2, 5000);
    void server;
    let retries = 0;
    const sentAt: { at: number; cookie: boolean }[] = [];
    net.filter = (w: Wire) => {
      const p = decodePacket(w.data);
      if (!p.ok) return true;
      if (p.value.type === 'initial') sentAt.push({ at: net.now, cookie: p.value.cookie.length > 0 });
      // The first two RETRYs are lost (the client backs off to 800 ms); ACCEPTs are all lost.
      if (p.value.type === 'retry') return ++retries > 2;
      return p.value.type !== 'accept';
    };
    client.core.connect(net.now, '10.0.0.2', 4000);
    net.run(4000);
    const times = sentAt.map((s) => s.at);
    // 0, 200, 600 without cookie; the RETRY for the third arrives at 610, answered at once;
    // then the interval goes on from 800 ms (doubling, capped at 1 s), not from 200 ms.
    expect(sentAt.slice(0, 4).map((s) => s.cookie)).toEqual([false, false, false, true]);
    expect(times.slice(0, 4)).toEqual([0, 200, 600, 610]);
    expect(times[4]! - times[3]!).toBe(800);
    expect(times[5]! - times[4]!).toBe(1000);
  });
});
