/**
 * Micro benchmark for issue 16: what one qlog event costs to serialise, for the mix a bulk
 * transfer is made of (per data packet: packet_sent with one DATA frame, a metrics_updated with
 * bytes_in_flight, and on the other side a packet_received of a DATA packet; per 20 packets or
 * so, a packet_received of an ACK with two ranges and a metrics_updated of the RTT values):
 *
 *   json   the Tracer's event objects, then JSON.stringify into a JSON-SEQ record appended to a
 *          chunk string (the writer before the hand-written serialiser; still the path when the
 *          `trace` callback is set as well as `qlogDir`)
 *   bytes  QlogTracer writing straight into a reused 64 KiB chunk (what `qlogDir` does now)
 *
 * ns per event, median of the rounds (interleaved, so a busy neighbour hurts both alike), and
 * the ratio; timings on a shared machine are noisy, read the ratio.
 *
 *   node --import tsx bench/micro/qlog-serialiser.ts [rounds=7] [packetsPerRound=200000]
 */
import { QlogTracer, qlogEventText } from '../../src/core/qlog-tracer.js';
import { Tracer, type RecoveryView } from '../../src/core/trace.js';
import { encodePacket } from '../../src/wire/packet.js';
import { chunkSink, dataPacket, median, packets, rounds } from './qlog-fixtures.js';

const ackPacket = encodePacket({
  type: 'data',
  dcid: 0x1234n,
  packetNumber: 6000,
  frames: [{ type: 'ack', largest: 5000, ackDelay: 1500, maxTsn: 77, firstRange: 40, ranges: [2, 10] }],
});
const fragment = [{ tsn: 4_100_000_000, length: 1175 }];

function view(): RecoveryView & { bytesInFlight: number; rtt: { smoothed: number; min: number; latest: number; variance: number } } {
  return {
    rtt: { smoothed: 10.25, min: 0.18, latest: 0.31, variance: 2.5 },
    cc: { name: 'bbr', window: 1_200_000, state: 'startup' } as unknown as RecoveryView['cc'],
    bytesInFlight: 0,
    pacingRate: () => 115_000.5,
  };
}

/** One round: `packets` data packets' worth of events; returns [ns per event, events, bytes]. */
function round(tracer: Tracer, v: ReturnType<typeof view>, size: () => number): [number, number, number] {
  let events = 0;
  let now = 1000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < packets; i++) {
    now += 0.0123;
    tracer.packetSent(now, 4_000_000_000 + i, 1200, false, fragment, false, true);
    v.bytesInFlight += 1200;
    tracer.metrics(now, v);
    tracer.packetReceived(now, 4_000_000_000 + i, dataPacket, 3_000_000_000);
    events += 3;
    if (i % 20 === 0) {
      tracer.packetReceived(now, 3_000_000_000 + i, ackPacket, 4_000_000_000 + i);
      v.rtt.latest = 0.3 + (i % 7) * 0.01;
      v.rtt.smoothed += 0.001;
      v.bytesInFlight -= 24_000;
      tracer.metrics(now, v);
      events += 2;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return [ns / events, events, size()];
}

function jsonVariant(): () => [number, number, number] {
  let chunk = '';
  let bytes = 0;
  const tracer = new Tracer((e) => {
    chunk += qlogEventText(e, 0);
    if (chunk.length >= 64 * 1024) {
      bytes += chunk.length;
      chunk = '';
    }
  });
  const v = view();
  return () => round(tracer, v, () => bytes + chunk.length);
}

function bytesVariant(): () => [number, number, number] {
  let bytes = 0;
  const sink = chunkSink((chunk) => (bytes += chunk));
  const tracer = new QlogTracer(sink);
  const v = view();
  return () => round(tracer, v, () => bytes + sink.pos);
}

const variants = { json: jsonVariant(), bytes: bytesVariant() };
const ns: Record<string, number[]> = { json: [], bytes: [] };
const size: Record<string, number> = {};
const count: Record<string, number> = {};
for (const [name, f] of Object.entries(variants)) count[name] = f()[1]; // warm up the JIT
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(variants)) {
    const [perEvent, events, total] = f();
    ns[name]!.push(perEvent);
    size[name] = total;
    count[name]! += events;
  }
}
const j = median(ns['json']!);
const b = median(ns['bytes']!);
console.log(`qlog serialisation, bulk event mix, ${packets} packets per round, median of ${rounds} rounds`);
console.log(`json   ${j.toFixed(0).padStart(5)} ns/event  [${Math.min(...ns['json']!).toFixed(0)}–${Math.max(...ns['json']!).toFixed(0)}]`);
console.log(`bytes  ${b.toFixed(0).padStart(5)} ns/event  [${Math.min(...ns['bytes']!).toFixed(0)}–${Math.max(...ns['bytes']!).toFixed(0)}]   ${(j / b).toFixed(2)}× faster`);
console.log(`bytes per event: json ${(size['json']! / count['json']!).toFixed(0)}, bytes ${(size['bytes']! / count['bytes']!).toFixed(0)} (the same text)`);
