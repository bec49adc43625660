/**
 * Micro benchmark for issue 16: what writing one `transport:packet_received` record costs the
 * receiver of a bulk transfer (one DATA frame of 1,150 bytes per packet), the two ways
 * QlogTracer can get the frames:
 *
 *   reread  reading the datagram a second time with the trace's own DataPacketReader (checks
 *           the frames again, makes a payload view per frame: what it did before)
 *   skim    skimming the connection's reader, already opened on the datagram, then rewinding
 *           it (what the connection does now)
 *
 * ns per record (median of the rounds, interleaved) and the young-generation collections each
 * variant caused: a count, which a busy machine does not blur.
 *
 *   node --import tsx bench/micro/qlog-received.ts [rounds=7] [packetsPerRound=200000]
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { QlogTracer } from '../../src/core/qlog-tracer.js';
import { DataPacketReader } from '../../src/wire/data-packet-reader.js';
import { chunkSink, dataPacket as datagram, median, packets, rounds } from './qlog-fixtures.js';

let scavenges = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
}).observe({ entryTypes: ['gc'] });

const tracer = new QlogTracer(chunkSink());
const reader = new DataPacketReader();
reader.open(datagram);

function round(skim: boolean): number {
  let now = 1000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < packets; i++) {
    now += 0.0123;
    if (skim) tracer.packetReceived(now, 4_000_000_000 + i, datagram, 3_000_000_000, reader);
    else tracer.packetReceived(now, 4_000_000_000 + i, datagram, 3_000_000_000);
  }
  return Number(process.hrtime.bigint() - t0) / packets;
}

const ns: Record<string, number[]> = { reread: [], skim: [] };
const gcs: Record<string, number> = { reread: 0, skim: 0 };
round(false);
round(true); // warm up the JIT
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
for (let r = 0; r < rounds; r++) {
  for (const name of ['reread', 'skim'] as const) {
    await settle();
    const before = scavenges;
    ns[name]!.push(round(name === 'skim'));
    await settle(); // the observer reports on a later turn
    gcs[name]! += scavenges - before;
  }
}
console.log(`qlog packet_received of a DATA packet, ${packets} per round, median of ${rounds} rounds`);
for (const name of ['reread', 'skim'] as const) {
  console.log(`${name.padEnd(7)} ${median(ns[name]!).toFixed(0).padStart(5)} ns/record  scavenges ${gcs[name]} over ${rounds * packets} records`);
}
