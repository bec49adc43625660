import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QlogTracer, qlogEventText, relativeTime } from '../../src/core/qlog-tracer.js';
import { Tracer, type QlogRecordSink, type RecoveryView, type TraceDestination, type TraceEvent } from '../../src/core/trace.js';
import type { TraceRecorder } from '../../src/testing/trace-recorder.js';
import { DataPacketReader } from '../../src/wire/data-packet-reader.js';
import { encodePacket } from '../../src/wire/packet.js';
import { Pair } from '../helpers/pair.js';

/**
 * The hand-written qlog serialiser (src/core/qlog-tracer.ts, what `qlogDir` writes) against the
 * reference: JSON.stringify of the event objects the Tracer builds (what the `trace` callback
 * gets, and what the writer wrote before). Same runs, byte for byte.
 */

/** A record sink that keeps every byte, in chunks of `chunk` bytes, so that records straddle chunks. */
class Collect implements QlogRecordSink {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  ended: number | null = null;
  private readonly parts: Uint8Array[] = [];
  constructor(
    readonly origin: number,
    private readonly chunk: number,
  ) {}
  open(): boolean {
    // Keeps what comes after the close too (a RESET is sent after the state is 'closed'), to compare all.
    return true;
  }
  reserve(n: number): void {
    if (this.pos > 0) this.parts.push(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(n, this.chunk));
    this.pos = 0;
  }
  end(time: number): void {
    this.ended = time;
  }
  text(): string {
    const all = [...this.parts, this.buf.subarray(0, this.pos)];
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(all));
  }
}

/** A stand-in recorder handing Pair one destination per side. */
function recorder(make: (role: 'client' | 'server', origin: number) => TraceDestination): TraceRecorder {
  return { sink: (role: 'client' | 'server', info: { now?: number }) => make(role, info.now ?? 0) } as unknown as TraceRecorder;
}

function transfer(trace: TraceRecorder, seed: number): Pair {
  const pair = new Pair({
    seed,
    // Loss, jitter (fractional times), reordering and duplicates (dropped packets), a path MTU
    // below the datagram size (MTU probes lost, mtu_updated), and a close at the end.
    link: { delay: 7, jitter: 3, loss: 0.04, reorder: 0.03, duplicate: 0.02, rate: 4_000_000 / 8, queue: 64 * 1024, mtu: 1400 },
    config: { idleTimeout: 0, keepAliveInterval: 0, maxDatagramSize: 1452 },
    trace,
  });
  const chunk = new Uint8Array(40_000).fill(3);
  for (let i = 0; i < 12; i++) pair.a.send(chunk);
  pair.b.send(new Uint8Array(100));
  pair.runUntil(() => pair.sides[1].deliveredBytes >= 12 * chunk.length, 600_000);
  pair.a.abort(pair.now, 7, 'done: "quoted" \\ back\tslash, naïve ünïcödé ✓ 🚀 \u0001\u001f\u2028');
  pair.runUntil(() => pair.a.state === 'closed' && pair.b.state === 'closed', 600_000);
  return pair;
}

describe('the hand-written qlog serialiser', () => {
  it('writes, byte for byte, what JSON.stringify makes of the event objects, on recorded lossy transfers', () => {
    for (const seed of [1, 2, 3]) {
      const objects = new Map<string, { origin: number; events: TraceEvent[] }>();
      transfer(
        recorder((role, origin) => {
          const events: TraceEvent[] = [];
          objects.set(role, { origin, events });
          return (e) => events.push(e);
        }),
        seed,
      );
      const bytes = new Map<string, Collect>();
      transfer(
        recorder((role, origin) => {
          // Small odd chunks: every kind of record gets split across two of them somewhere.
          const c = new Collect(origin, 61 + seed);
          bytes.set(role, c);
          return c;
        }),
        seed,
      );
      const names = new Set<string>();
      for (const role of ['client', 'server']) {
        const { origin, events } = objects.get(role)!;
        for (const e of events) names.add(e.name);
        const reference = events.map((e) => qlogEventText(e, origin)).join('');
        const c = bytes.get(role)!;
        const text = c.text();
        // Record by record first (a readable failure), then the whole text.
        const mine = text.split('\x1e');
        const theirs = reference.split('\x1e');
        for (let i = 0; i < Math.max(mine.length, theirs.length); i++) expect(mine[i], `${role} record ${i}`).toBe(theirs[i]);
        expect(text).toBe(reference);
        // And it parses back into the same events.
        const records = text.split('\x1e').slice(1);
        expect(records).toHaveLength(events.length);
        records.forEach((r, i) => {
          const e = events[i]!;
          expect(JSON.parse(r)).toEqual({ time: relativeTime(e.time, origin), name: e.name, data: JSON.parse(JSON.stringify(e.data)) });
        });
        // The tracer told the sink when the connection closed.
        expect(c.ended).not.toBeNull();
      }
      // Every kind of event the fast path writes, and some of the general path, were compared.
      for (const n of [
        'transport:packet_sent',
        'transport:packet_received',
        'recovery:packet_lost',
        'recovery:metrics_updated',
        'recovery:congestion_state_updated',
        'transport:packet_dropped',
        'connectivity:mtu_updated',
        'transport:parameters_set',
      ]) {
        expect(names.has(n), n).toBe(true);
      }
      // The RESET reason, escaped (quotes, backslash, control characters, U+2028, non-ASCII).
      expect(bytes.get('server')!.text()).toContain('"reason":' + JSON.stringify('done: "quoted" \\ back\tslash, naïve ünïcödé ✓ 🚀 \u0001\u001f\u2028'));
    }
  });

  it('writes times and metrics as JSON.stringify does, for any values (fractions, Infinity, NaN, negative zero)', () => {
    const value = fc.oneof(
      fc.double({ noNaN: false }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 0.1, 1e21, 1e-7),
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.array(fc.tuple(value, value, value, value, value, value, value, fc.constantFrom('startup', 'drain', undefined)), { minLength: 1, maxLength: 4 }),
        (origin, offset, steps) => {
          const events: TraceEvent[] = [];
          const reference = new Tracer((e) => events.push(e));
          const sink = new Collect(origin, 29);
          const fast = new QlogTracer(sink);
          let now = origin + offset;
          for (const [cwnd, inFlight, srtt, min, latest, variance, rate, state] of steps) {
            const view: RecoveryView = {
              rtt: { smoothed: srtt, min, latest, variance },
              cc: { name: 'x', window: cwnd, state } as unknown as RecoveryView['cc'],
              bytesInFlight: inFlight,
              pacingRate: () => rate,
            };
            reference.metrics(now, view);
            fast.metrics(now, view);
            now += offset / 7;
          }
          expect(sink.text()).toBe(events.map((e) => qlogEventText(e, origin)).join(''));
        },
      ),
      { seed: 16, numRuns: 300 },
    );
  });

  it('writes received frames of every kind as the reference does (ACK ranges, DATA, UNRELIABLE, PING, CLOSE)', () => {
    const datagram = encodePacket({
      type: 'data',
      dcid: 1n,
      packetNumber: 77,
      frames: [
        { type: 'ack', largest: 50, ackDelay: 1234, maxTsn: 9, firstRange: 3, ranges: [1, 2, 0, 5] },
        { type: 'ping' },
        { type: 'data', channel: undefined, tsn: 4, first: true, last: false, unordered: false, payload: new Uint8Array(10) },
        { type: 'unreliable', channel: 2, messageId: 1, index: 0, count: 1, payload: new Uint8Array(3) },
        { type: 'close' },
      ],
    });
    const events: TraceEvent[] = [];
    new Tracer((e) => events.push(e)).packetReceived(12.5, 4_000_000_077, datagram, 4_000_000_000);
    const sink = new Collect(0, 16);
    new QlogTracer(sink).packetReceived(12.5, 4_000_000_077, datagram, 4_000_000_000);
    expect(events[0]!.data['frames']).toHaveLength(5);
    expect(sink.text()).toBe(qlogEventText(events[0]!, 0));
  });

  it('writes the same bytes from the connection\'s own reader (skimmed, then rewound for the engine)', () => {
    const datagram = encodePacket({
      type: 'data',
      dcid: 1n,
      packetNumber: 79,
      frames: [
        { type: 'ack', largest: 50, ackDelay: 1234, maxTsn: 9, firstRange: 3, ranges: [1, 2, 0, 5] },
        { type: 'ping' },
        { type: 'data', channel: 3, tsn: 4, first: true, last: false, unordered: false, payload: new Uint8Array(10) },
        { type: 'data-part', channel: undefined, tsn: 5, first: true, last: true, unordered: false, length: 9, offset: 2, payload: new Uint8Array(4) },
        { type: 'unreliable', channel: 2, messageId: 1, index: 0, count: 1, payload: new Uint8Array(3) },
        { type: 'reset', code: 3, reason: 'b\u00e4d "x"' },
        { type: 'close' },
      ],
    });
    const events: TraceEvent[] = [];
    new Tracer((e) => events.push(e)).packetReceived(1.25, 79, datagram, 60);
    const reader = new DataPacketReader();
    expect(reader.open(datagram)).toBe('ok');
    const sink = new Collect(0, 16);
    new QlogTracer(sink).packetReceived(1.25, 79, datagram, 60, reader);
    expect(events[0]!.data['frames']).toHaveLength(7);
    expect(sink.text()).toBe(qlogEventText(events[0]!, 0));
    // The engine then reads the packet from its first frame, payloads and all.
    const after: string[] = [];
    for (let f = reader.next(); f !== null; f = reader.next()) after.push(f.type === 'data' ? `data:${f.payload.length}` : f.type);
    expect(after).toEqual(['ack', 'ping', 'data:10', 'data-part', 'unreliable', 'reset', 'close']);
  });
  it('writes PATH_CHALLENGE and PATH_RESPONSE frames as the reference does (qlog names, data in hex)', () => {
    for (const type of ['path-challenge', 'path-response'] as const) {
      const datagram = encodePacket({
        type: 'data',
        dcid: 1n,
        packetNumber: 78,
        frames: [{ type, data: Uint8Array.from([0, 1, 0xab, 0xcd, 0xef, 0x10, 0x7f, 0xff]) }],
      });
      const events: TraceEvent[] = [];
      new Tracer((e) => events.push(e)).packetReceived(3, 78, datagram, 70);
      const sink = new Collect(0, 16);
      new QlogTracer(sink).packetReceived(3, 78, datagram, 70);
      expect(events[0]!.data['frames']).toEqual([{ frame_type: type.replace('-', '_'), data: '0001abcdef107fff' }]);
      expect(sink.text()).toBe(qlogEventText(events[0]!, 0));
      // Given the connection's reader: path frames need their data, read again; the reader is left as it was.
      const reader = new DataPacketReader();
      expect(reader.open(datagram)).toBe('ok');
      const viaReader = new Collect(0, 16);
      new QlogTracer(viaReader).packetReceived(3, 78, datagram, 70, reader);
      expect(viaReader.text()).toBe(qlogEventText(events[0]!, 0));
      expect(reader.next()?.type).toBe(type);
    }
  });
});
