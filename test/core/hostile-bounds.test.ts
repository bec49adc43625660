import { describe, expect, it } from 'vitest';
import type { ConnectionCore } from '../../src/core/connection.js';
import { MAX_HELD_BYTES, MAX_HELD_PACKETS, PathKind, PathValidator } from '../../src/core/path-validation.js';
import { ASSEMBLY_CHUNK } from '../../src/core/receive-buffer.js';
import { OBJECT_OVERHEAD } from '../../src/core/retention.js';
import { UnreliableReassembly } from '../../src/core/unreliable-reassembly.js';
import { announcedWindow, resolveCoreConfig } from '../../src/core/config.js';
import { createCounters } from '../../src/core/counters.js';
import { Deque } from '../../src/core/deque.js';
import { Receiver } from '../../src/core/receiver.js';
import type { CoreEvent } from '../../src/core/types.js';
import { Rng } from '../../src/testing/rng.js';
import { decodePacket, encodePacket, sealAt, type Frame } from '../../src/wire/index.js';
import { ownObjects, reachable } from '../helpers/footprint.js';
import { Pair, makeCores } from '../helpers/pair.js';
import { COMPACT_AFTER_MS } from '../../src/core/state.js';
import { VirtualNet, endpointConfig } from './endpoint-harness.js';

/**
 * The byte bounds a hostile peer meets (docs/protocol.md §15, §20, §21; README "receiveWindow"),
 * each buffer it can fill, measured independently of the engine's own counters where the engine
 * keeps bytes: the distinct ArrayBuffers a receiving engine reaches that an idle engine does not
 * (a view keeps its whole buffer alive), every datagram in a buffer of its own as from a socket.
 * test/core/byte-accounting.test.ts covers channel 0 (gaps, unread messages, an endless message,
 * unreliable fragments); here: what channels, DATA_PART and the path and reset tables add.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const WINDOW = 4 * MiB;
const BOUND = WINDOW + 64 * KiB;

function datagram(dcid: bigint, pn: number, frames: Frame[], size = 1200): Uint8Array {
  const bare = encodePacket({ type: 'data', dcid, packetNumber: pn >>> 0, frames });
  if (bare.length >= size) return bare;
  const padded = new Uint8Array(size);
  padded.set(bare.subarray(0, bare.length - 4));
  return sealAt(padded, 0, size - 4);
}

/** Bytes of the ArrayBuffers `core` keeps reachable that `idle` (a fresh engine) does not. */
function ownBytes(core: ConnectionCore, idle: ConnectionCore): number {
  const theirs = new Set<ArrayBufferLike>();
  for (const [o] of reachable(idle)) if (ArrayBuffer.isView(o)) theirs.add(o.buffer);
  const mine = new Set<ArrayBufferLike>();
  for (const [o] of ownObjects(core, idle)) if (ArrayBuffer.isView(o) && !theirs.has(o.buffer)) mine.add(o.buffer);
  let n = 0;
  for (const b of mine) n += b.byteLength;
  return n;
}

/** The receiver's credit as its ACKs announce it (what an attacker reads). */
function readCredit(b: ConnectionCore, now: number, seen: { maxTsn: number }): void {
  for (let d = b.pollTransmit(now); d !== null; d = b.pollTransmit(now)) {
    const p = decodePacket(d);
    if (p.ok && p.value.type === 'data') for (const f of p.value.frames) if (f.type === 'ack') seen.maxTsn = Math.max(seen.maxTsn, f.maxTsn);
  }
}

const quiet = { config: { idleTimeout: 0, keepAliveInterval: 0 } };
/** The receiver's first credit: its peer's TSNs start at 77 (makeCores), `initialWindow` of them. */
const creditOf = (b: ConnectionCore): number => (b as unknown as { receiver: { maxTsn: number } }).receiver.maxTsn;

describe('hostile-peer byte bounds, per buffer', () => {
  it('DATA_PART partial fragments on every channel stay within the window: each claims its TSN of the connection-wide credit at its first piece', () => {
    // One byte of each fragment (claimed 1,175 long, so the receiver allocates that much), for
    // every TSN the credit allows, on one channel after another. Before: a partial claimed its
    // TSN only once whole, so each of the 256 channels could hold a window of them (3.4 MB
    // each here: 20 MB after six channels, 866 MB after 256).
    const [, b] = makeCores(1, quiet);
    const [, idle] = makeCores(2, quiet);
    const credit = creditOf(b);
    let pn = 1000;
    let peak = 0;
    for (let ch = 0; ch < 8 && b.state === 'open'; ch++) {
      for (let tsn = 78; tsn <= credit && b.state === 'open'; tsn++) {
        const part: Frame = { type: 'data-part', channel: ch === 0 ? undefined : ch, tsn, first: true, last: true, unordered: false, length: 1175, offset: 0, payload: new Uint8Array(1) };
        b.handleDatagram(0, datagram(b.localCid, pn++, [part]));
      }
      peak = Math.max(peak, ownBytes(b, idle));
    }
    expect(peak).toBeGreaterThan(WINDOW / 2); // the first channel's partials were kept
    expect(peak).toBeLessThanOrEqual(BOUND);
    // The second channel's first partial went past the credit: a flow-control violation (§15).
    expect(b.state).toBe('closed');
    expect(b.error?.code).toBe('ERR_PROTOCOL_VIOLATION');
  });

  it('a peer that keeps to the credit with DATA_PART partials spread over channels stays open and within the window', () => {
    const [, b] = makeCores(3, quiet);
    const [, idle] = makeCores(4, quiet);
    const credit = creditOf(b);
    let pn = 1000;
    // The connection-wide counter (§5.9): fragment i is TSN 77 + floor(i / 16) on channel i % 16.
    const next = new Array<number>(16).fill(77);
    for (let i = 0; 77 + i <= credit; i++) {
      const ch = i % 16;
      const part: Frame = { type: 'data-part', channel: ch === 0 ? undefined : ch, tsn: next[ch]!, first: true, last: true, unordered: false, length: 1175, offset: 0, payload: new Uint8Array(1) };
      next[ch]! += 1;
      b.handleDatagram(0, datagram(b.localCid, pn++, [part]));
    }
    expect(b.state).toBe('open');
    expect(ownBytes(b, idle)).toBeLessThanOrEqual(BOUND);
    expect(b.stats().retainedBytes).toBeGreaterThanOrEqual(ownBytes(b, idle));
  });

  it('partials that the same TSNs then complete as whole DATA frames are forgotten, their bytes with them', () => {
    // Twins: one gets partials on channels 3 and 4 first, then the whole fragments as DATA; the
    // other only the DATA. Afterwards both hold the same (the partials' bytes went when pruned).
    const [, b] = makeCores(9, quiet);
    const [, twin] = makeCores(9, quiet);
    let pn = 1000;
    for (const ch of [3, 4]) {
      for (let tsn = 78; tsn < 120; tsn++) {
        const part: Frame = { type: 'data-part', channel: ch, tsn, first: true, last: true, unordered: false, length: 600, offset: 0, payload: new Uint8Array(100) };
        b.handleDatagram(0, datagram(b.localCid, pn++, [part]));
      }
    }
    expect(b.stats().retainedBytes).toBeGreaterThan(twin.stats().retainedBytes + 2 * 42 * 600 - 1);
    let pn2 = 1000;
    for (const ch of [3, 4]) {
      for (let tsn = 77; tsn < 120; tsn++) {
        const f: Frame = { type: 'data', channel: ch, tsn, first: true, last: true, unordered: false, payload: new Uint8Array(600) };
        b.handleDatagram(1, datagram(b.localCid, pn++, [f]));
        twin.handleDatagram(1, datagram(twin.localCid, pn2++, [f]));
      }
    }
    expect(b.state).toBe('open');
    expect(b.stats().retainedBytes).toBe(twin.stats().retainedBytes);
  });

  it('the bytes DATA_PART partials hold come out of the credit announced as the application consumes (as buffered fragments do)', () => {
    // Two receivers on their own: 1,000 partials (1,175 bytes each, one byte of each sent) at
    // the end of the first one's window, then the same in-order messages into both, each
    // consumed as it arrives. The one holding the partials grants less new credit.
    const config = resolveCoreConfig({});
    const slots = announcedWindow(config);
    const make = (): { r: Receiver; events: Deque<CoreEvent> } => {
      const events = new Deque<CoreEvent>();
      return { r: new Receiver(config, 1, slots, config.maxDatagramSize, config.maxMessageSize, events, createCounters()), events };
    };
    const credit = (x: { r: Receiver }): number => (x.r as unknown as { maxTsn: number }).maxTsn;
    const holding = make();
    const plain = make();
    for (let tsn = slots - 999; tsn <= slots; tsn++) {
      expect(holding.r.onDataPart({ type: 'data-part', tsn, first: true, last: true, unordered: false, length: 1175, offset: 0, payload: new Uint8Array(1) })).toBe('new');
    }
    for (const x of [holding, plain]) {
      for (let tsn = 1; tsn <= 1000; tsn++) {
        x.r.onData({ type: 'data', tsn, first: true, last: true, unordered: false, payload: new Uint8Array(1100) });
        for (let ev = x.events.shift(); ev !== undefined; ev = x.events.shift()) if (ev.type === 'message') x.r.release(ev.credit, ev.delivery, ev.channel);
      }
    }
    expect(credit(plain)).toBeGreaterThan(slots + 900);
    // 1,000 × 1,175 bytes held: 659 fewer fragments of credit (the slot cost of a fragment is more than its payload).
    expect(credit(plain) - credit(holding)).toBeGreaterThan(500);
  });

  it(`unfinished messages on many channels: at most the window + 64 KiB + one ${ASSEMBLY_CHUNK / KiB} KiB assembly chunk per further channel`, () => {
    // Each channel gets just over one chunk of an endless message (so its second chunk is
    // almost empty), as far as the credit goes, the attacker reading every ACK.
    for (const fragment of [1174, 100]) {
      const [, b] = makeCores(5, quiet);
      const [, idle] = makeCores(6, quiet);
      const seen = { maxTsn: creditOf(b) };
      const next = new Array<number>(256).fill(77);
      const perChannel = Math.floor(ASSEMBLY_CHUNK / fragment) + 1;
      let pn = 1000;
      let sent = 0;
      let peak = 0;
      let channels = 0;
      for (let round = 1; round < 100 && b.state === 'open'; round++) {
        let progressed = false;
        for (let ch = 0; ch < 256; ch++) {
          while (next[ch]! - 77 < perChannel * round && 77 + sent <= seen.maxTsn) {
            const tsn = next[ch]!;
            if (tsn === 77) channels++;
            const f: Frame = { type: 'data', channel: ch === 0 ? undefined : ch, tsn, first: tsn === 77, last: false, unordered: false, payload: new Uint8Array(fragment) };
            b.handleDatagram(round, datagram(b.localCid, pn++, [f]));
            next[ch]! += 1;
            sent++;
            progressed = true;
          }
        }
        peak = Math.max(peak, ownBytes(b, idle));
        // The documented bound, as the engine states it, at every step (not only at the end).
        expect(b.stats().retainedBytes).toBeLessThanOrEqual(b.inspect().retainedLimit);
        const before = seen.maxTsn;
        readCredit(b, round, seen);
        if (!progressed && seen.maxTsn === before) break;
      }
      expect(b.state).toBe('open');
      expect(channels).toBeGreaterThan(fragment > 1000 ? 100 : 10);
      expect(peak).toBeLessThanOrEqual(BOUND + (channels - 1) * ASSEMBLY_CHUNK);
      // 1,174-byte fragments: 6.75 MB held against a window of 4 MiB (the chunks' empty ends):
      // the per-channel term of the bound is needed.
      if (fragment > 1000) expect(peak).toBeGreaterThan(BOUND);
      expect(b.stats().retainedBytes).toBeGreaterThanOrEqual(ownBytes(b, idle));
      expect(b.stats().retainedBytes).toBeLessThanOrEqual(b.inspect().retainedLimit);
    }
  });

  it('the limit on what the receiver holds counts an assembly chunk only for channels that hold an unfinished message (as documented), not every channel ever used', () => {
    const [, b] = makeCores(7, quiet);
    const [, fresh] = makeCores(8, quiet);
    const base = fresh.inspect().retainedLimit;
    let pn = 1000;
    // 200 channels used once each, by a whole message: none holds a chunk afterwards.
    for (let ch = 1; ch <= 200; ch++) {
      const f: Frame = { type: 'data', channel: ch, tsn: 77, first: true, last: true, unordered: false, payload: new Uint8Array(500) };
      b.handleDatagram(1, datagram(b.localCid, pn++, [f]));
    }
    for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) if (e.type === 'message') b.release(e.credit, e.delivery, e.channel);
    expect(b.inspect().retainedLimit).toBe(base);
    // Three channels start a message and do not finish it: two chunks more than one channel's.
    for (const ch of [0, 5, 9]) {
      const f: Frame = { type: 'data', channel: ch === 0 ? undefined : ch, tsn: ch === 0 ? 77 : 78, first: true, last: false, unordered: false, payload: new Uint8Array(500) };
      b.handleDatagram(2, datagram(b.localCid, pn++, [f]));
    }
    expect(b.inspect().retainedLimit).toBe(base + 2 * (ASSEMBLY_CHUNK + OBJECT_OVERHEAD));
    // One finishes: one chunk less.
    const end: Frame = { type: 'data', channel: 5, tsn: 79, first: false, last: true, unordered: false, payload: new Uint8Array(10) };
    b.handleDatagram(3, datagram(b.localCid, pn++, [end]));
    expect(b.inspect().retainedLimit).toBe(base + ASSEMBLY_CHUNK + OBJECT_OVERHEAD);
    expect(b.state).toBe('open');
  });

  it('unreliable reassembly keeps at most 8 incomplete messages however many ids the peer uses, and its budget in bytes', () => {
    const budget = 256 * KiB;
    const r = new UnreliableReassembly(() => budget, 1200);
    for (let id = 0; id < 5000; id++) {
      // Index 0 of a 3-fragment message, then never the rest.
      r.add(id, 0, 3, new Uint8Array(1000));
      expect((r as unknown as { partial: Map<number, unknown> }).partial.size).toBeLessThanOrEqual(8);
      expect(r.retained).toBeLessThanOrEqual(budget);
    }
  });

  it(`a candidate path's held datagrams stay within ${MAX_HELD_PACKETS} and ${MAX_HELD_BYTES / KiB} KiB whatever their sizes`, () => {
    for (const size of [100, 1452, 9000, 65_507]) {
      const v = new PathValidator('10.0.0.1', 5000, (n) => new Rng(1).bytes(n));
      v.onForeignDatagram(0, '10.9.9.9', 7000, size, 900);
      let bytes = 0;
      let held = 0;
      for (let i = 0; i < 200; i++) {
        if (v.hold(new Uint8Array(size))) {
          held++;
          bytes += size;
        }
      }
      expect(held).toBeLessThanOrEqual(MAX_HELD_PACKETS);
      expect(bytes).toBeLessThanOrEqual(MAX_HELD_BYTES);
      expect(held).toBeGreaterThan(0);
    }
  });

  it('a flood of PATH_CHALLENGEs leaves at most 4 responses pending (the newest), not one per challenge', () => {
    const v = new PathValidator('10.0.0.1', 5000, (n) => new Rng(2).bytes(n));
    for (let i = 0; i < 1000; i++) v.onChallenge(new Uint8Array(8).fill(i & 0xff), PathKind.Current);
    const out: Uint8Array[] = [];
    for (let t = v.nextTransmit(27); t !== null; t = v.nextTransmit(27)) {
      v.onSent(0, t, 27);
      out.push(t.data);
      if (out.length > 10) break;
    }
    expect(out.map((d) => d[0])).toEqual([996, 997, 998, 999].map((i) => i & 0xff));
  });

  it('DATA for unknown CIDs from 10,000 addresses: the stateless-reset limiter remembers at most 4,096 of them', () => {
    const net = new VirtualNet(5);
    const server = net.add('10.0.0.2', endpointConfig(), 1, 4000);
    const data = encodePacket({ type: 'data', dcid: 99n, packetNumber: 1, frames: Array.from({ length: 20 }, () => ({ type: 'ping' as const })) });
    for (let i = 0; i < 10_000; i++) net.inject(`10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`, 6000, server, data);
    net.flush();
    const table = (server.core as unknown as { resetLimiter: { lastResetTo: Map<string, number> } }).resetLimiter.lastResetTo;
    expect(table.size).toBeLessThanOrEqual(4096);
    expect(server.core.stats().statelessResetsSent).toBeLessThanOrEqual(4096);
    expect(server.core.stats().dropped['unknown-cid']).toBe(10_000);
  });

  it('a peer that wakes a dormant connection again and again leaves it no larger each time it sleeps again (past the capped lists)', () => {
    // Each wake-up (a message from the peer) makes the stages again; going dormant gives them
    // back, keeping what differs from a fresh build (dormant.ts): its numbers, and lists that
    // are capped (received packet ranges ≤ 32, skipped packet numbers ≤ 16, §21).
    const pairs = [1, 2].map((seed) => {
      const pair = new Pair({ seed, link: { delay: 5 }, config: { idleTimeout: 0, keepAliveInterval: 0 } });
      pair.a.send(new Uint8Array(10), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
      return pair;
    });
    const [pair, other] = pairs as [Pair, Pair];
    const size = (): number => ownObjects(pair.b, other.b).size;
    const lists = (): number => {
      const refs = (pair.b as unknown as { dormant: { refs: unknown[] } }).dormant.refs;
      return Math.max(0, ...refs.map((r) => (Array.isArray(r) ? r.length : 0)));
    };
    let atHalf = 0;
    let bytesAtHalf = 0;
    const cycles = 160;
    for (let k = 0; k < cycles; k++) {
      if (k === cycles / 2) {
        atHalf = size();
        bytesAtHalf = ownBytes(pair.b, other.b);
      }
      pair.a.send(new Uint8Array(10 + (k % 50)).fill(k), k % 2 === 0 ? 'ordered' : 'unreliable');
      pair.runUntil(() => pair.sides[1].received.length === k + 2, 10_000);
      expect(pair.b.dormantFields()).toBeNull();
      pair.runTo(pair.now + COMPACT_AFTER_MS + 200);
      expect(pair.b.dormantFields()).not.toBeNull();
      expect(lists()).toBeLessThanOrEqual(32);
    }
    expect(atHalf).toBeGreaterThan(0);
    expect(size()).toBeLessThanOrEqual(atHalf);
    expect(ownBytes(pair.b, other.b)).toBeLessThanOrEqual(bytesAtHalf);
  });
});
