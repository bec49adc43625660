import { describe, expect, it } from 'vitest';
import { quantile, ratio, round, sortNumbers, spread } from '../lib/stats.js';
import { parseArgs } from '../lib/args.js';
import { markdownTable, spreadText, textTable } from '../lib/format.js';
import { buildHeadline } from '../lib/headline.js';
import { buildTables } from '../lib/tables.js';
import { renderCharts } from '../lib/charts.js';
import { parseChildLine, LINE_PREFIX } from '../lib/child-protocol.js';
import { rotation } from '../workloads/context.js';
import { parseChatLoadLine } from '../workloads/chat.js';
import { summarise, toSample } from '../workloads/bulk.js';
import { countGcs, HalfMark } from '../lib/measure.js';
import { renderPerformanceMd } from '../lib/report.js';
import type { BenchResults } from '../lib/results.js';
import { numberOption, stringOption } from '../lib/script-options.js';

const s = (median: number, min = median, max = median, n = 3) => ({ median, min, max, n });

function fixture(): BenchResults {
  const bulkEntry = (g: number, cpu: number) => ({
    chunkBytes: 65536,
    samples: [],
    goodputMBps: s(g, g * 0.9, g * 1.1),
    datagramsPerSec: null,
    lossPercent: null,
    senderCpuMsPerMB: s(cpu),
    receiverCpuMsPerMB: s(cpu),
    maxRssMB: s(80),
    errors: [],
  });
  const ping = (p50: number, p99: number, steadyP99 = p99) => ({
    samples: [],
    p50Us: s(p50),
    p99Us: s(p99),
    p999Us: s(p99 * 2),
    steady: { samples: [{ p50Us: p50, p99Us: steadyP99, p999Us: steadyP99 * 2, meanUs: p50, lost: 0 }], p50Us: s(p50), p99Us: s(steadyP99), p999Us: s(steadyP99 * 2) },
    distribution: [
      { q: 0.5, us: p50 },
      { q: 0.99, us: p99 },
    ],
    errors: [],
  });
  const point = (lossPercent: number, g: number) => ({ lossPercent, samples: [], goodputMBps: s(g), retransmittedBytes: null, errors: [] });
  return {
    schema: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    durationSeconds: 600,
    quick: false,
    command: 'node --import tsx bench/run.ts',
    machine: { cpuModel: 'test', cores: 2, memoryGiB: 4, os: 'Linux', node: 'v20', v8: '11', udxNative: '1.21.3', loadAverage: [0, 0, 0], rmemMaxBytes: null },
    contenders: {},
    notes: [],
    workloads: {
      bulk: { bytes: 100e6, runs: 5, contenders: { tcp: bulkEntry(1000, 0.5), udx: bulkEntry(300, 3), 'reliable-dgram': bulkEntry(150, 5) } },
      pingpong: {
        size: 64,
        trips: 10000,
        warmup: 1000,
        steadyTrips: 10000,
        runs: 3,
        placements: { 'same-cpu': { dgram: ping(12, 50), udx: ping(19, 70), 'reliable-dgram': ping(20, 60, 40) } },
      },
      impair: {
        available: true,
        bytes: 20e6,
        delayMs: 10,
        runs: 3,
        lossPercents: [0, 5],
        contenders: { udx: [point(0, 50), point(5, 30)], 'reliable-dgram': [point(0, 60), point(5, 20)] },
      },
      many: {
        count: 10000,
        clientProcesses: 2,
        concurrency: 256,
        runs: 3,
        contenders: { 'reliable-dgram': { samples: [{ established: 10000, failed: 0, establishMs: 1, heapBytesPerConnection: 3000, rssBytesPerConnection: 1 }], establishMs: s(1000), heapBytesPerConnection: s(3000), rssBytesPerConnection: s(9000), errors: [] } },
      },
    },
    headline: {},
  };
}

describe('stats', () => {
  it('spread gives median and range, ignoring non-finite values', () => {
    expect(spread([3, 1, 2, Number.NaN])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, 3, 2]).median).toBe(2.5);
    expect(spread([]).n).toBe(0);
  });
  it('quantile picks the nearest rank', () => {
    const sorted = sortNumbers(Array.from({ length: 1000 }, (_, i) => 1000 - i));
    expect(quantile(sorted, 0.5)).toBe(500);
    expect(quantile(sorted, 0.999)).toBe(999);
    expect(quantile(sorted, 1)).toBe(1000);
  });
  it('ratio is null when a side is missing', () => {
    expect(ratio(1, undefined)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(3, 2)).toBe(1.5);
    expect(round(0.123456)).toBe(0.123);
    expect(round(1234.5)).toBe(1235);
  });
});

describe('args', () => {
  it('writes docs only for a full run of everything', () => {
    expect(parseArgs([]).docs).toBe(true);
    expect(parseArgs(['--quick']).docs).toBe(false);
    expect(parseArgs(['--only', 'bulk']).docs).toBe(false);
    expect(parseArgs(['--only=bulk,many', '--docs']).only).toEqual(['bulk', 'many']);
    expect(parseArgs(['--contenders', 'udx']).contenders).toEqual(['udx']);
  });
  it('runs the children from the bundle unless --children tsx', () => {
    if (!process.env.BENCH_CHILDREN) expect(parseArgs([]).children).toBe('bundle');
    expect(parseArgs(['--children', 'tsx']).children).toBe('tsx');
    expect(parseArgs(['--children=bundle']).children).toBe('bundle');
    expect(() => parseArgs(['--children', 'ts'])).toThrow(/--children: unknown 'ts'/);
    expect(() => parseArgs(['--children'])).toThrow(/needs a value/);
  });
  it('rejects unknown workloads and options', () => {
    expect(() => parseArgs(['--only', 'bulkk'])).toThrow(RangeError);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option/);
  });
});

describe('script options', () => {
  it('reads --name value, falls back to the default, and refuses a number that is not one', () => {
    const argv = ['--mb', '3', '--name', 'x', '--bad', 'seven'];
    expect(stringOption(argv, 'name', 'd')).toBe('x');
    expect(stringOption(argv, 'other', 'd')).toBe('d');
    expect(stringOption(['--name'], 'name', 'd')).toBe('d');
    expect(numberOption(argv, 'mb', 20)).toBe(3);
    expect(numberOption(argv, 'seeds', 3)).toBe(3);
    expect(() => numberOption(argv, 'bad', 1)).toThrow(RangeError);
  });
});

describe('formatting', () => {
  it('renders spreads, text tables and escaped markdown', () => {
    expect(spreadText(s(10, 9, 11))).toBe('10 (9–11)');
    expect(spreadText(s(10, 10, 10, 1))).toBe('10');
    expect(textTable('T', ['a', 'bb'], [['xxx', 'y']]).split('\n')[1]).toBe('a    bb');
    expect(markdownTable(['a|b'], [['c']])).toContain('a\\|b');
  });
  it('child lines need the prefix and valid JSON', () => {
    expect(parseChildLine(`${LINE_PREFIX}{"type":"ready","port":5}`)).toEqual({ type: 'ready', port: 5 });
    expect(parseChildLine('{"type":"ready","port":5}')).toBeNull();
    expect(parseChildLine(`${LINE_PREFIX}{oops`)).toBeNull();
    // Glued to half a V8 trace line (stdout shared with --trace-deopt-verbose): still a report.
    expect(parseChildLine(`    0x7ffd72890ea0: [top +  24] <- 0x13020d000d39${LINE_PREFIX}{"type":"result","result":{"bytes":1}}`)).toEqual({ type: 'result', result: { bytes: 1 } });
  });
  it("parses the chat load test's summary line", () => {
    const line =
      'chat load: 200 clients in 20 groups, 1427 messages stored in 3.5 s (411 msg/s), 12843 deliveries (3702 deliveries/s overall), latency p50 208.4 ms, p99 402.0 ms';
    expect(parseChatLoadLine(`noise\n${line}\n`)).toEqual({ messagesPerSec: 411, deliveriesPerSec: 3702, p50Ms: 208.4, p99Ms: 402 });
    expect(parseChatLoadLine('chat load: nothing useful')).toBeNull();
    // Newer load tests add the p99 split by send time (and by stage) after the fields above.
    const split = `${line}, "stored" reply p50 1.0 ms, p99 90.2 ms; CPU per stored message: server 0.600 ms, load generator 0.550 ms; p99 by send time: first second 95.5 ms, after it 8.1 ms; p99 by stage: sent -> stored 80 ms, stored -> received 12 ms (the server's ms clock)`;
    expect(parseChatLoadLine(split)).toEqual({ messagesPerSec: 411, deliveriesPerSec: 3702, p50Ms: 208.4, p99Ms: 402, firstSecondP99Ms: 95.5, steadyP99Ms: 8.1 });
  });
  it('rotation changes who goes first each run', () => {
    expect(rotation(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotation(['a', 'b', 'c'], 3)).toEqual(['a', 'b', 'c']);
  });
});

describe('headline and targets', () => {
  it('computes ratios to each reference and judges the targets', () => {
    const h = buildHeadline(fixture());
    expect(h['bulk.goodput.reliable-dgram/udx']).toBe(0.5);
    expect(h['bulk.goodput.reliable-dgram/tcp']).toBe(0.15);
    expect(h['target.bulk ≥ 1.0× udx']).toBe('missed');
    expect(h['target.bulk ≥ 0.8× udx (floor)']).toBe('missed');
    expect(h['target.bulk CPU ≤ 1.25× udx each side']).toBe('missed');
    expect(h['target.ping p50 ≤ dgram + 15 µs']).toBe('met');
    expect(h['target.ping p99 ≤ udx']).toBe('met');
    expect(h['target.ping p99.9 ≤ udx']).toBe('met');
    expect(h['target.ping p99 ≤ udx, steady state']).toBe('met');
    expect(h['ping.same-cpu.steady.reliable-dgram.p99Us']).toBe(40);
    expect(h['ping.same-cpu.steady.p99.reliable-dgram/udx']).toBe(0.571);
    expect(h['target.impaired goodput ≥ udx at every loss']).toBe('missed');
    // Judged beside udx-native, which the fixture's many-connections run lacks; scavenges likewise.
    expect(h['target.heap per idle connection ≤ udx']).toBe('not measured');
    expect(h['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('not measured');
    expect(h['impair.loss0.reliable-dgram/udx']).toBe(1.2);
  });
  it("judges issue 11's relative targets against udx-native and the ee1a2a9 baseline", () => {
    const r = fixture();
    const rd = r.workloads.bulk!.contenders['reliable-dgram']!;
    const udx = r.workloads.bulk!.contenders.udx!;
    rd.senderCpuMsPerMB = s(3.7);
    rd.receiverCpuMsPerMB = s(3.7);
    expect(buildHeadline(r)['target.bulk CPU ≤ 1.25× udx each side']).toBe('met');
    udx.receiverCpuMsPerMB = s(2.9);
    expect(buildHeadline(r)['target.bulk CPU ≤ 1.25× udx each side']).toBe('missed');
    rd.senderScavengesPer100MB = s(4);
    rd.receiverScavengesPer100MB = s(3);
    expect(buildHeadline(r)['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('met');
    rd.receiverScavengesPer100MB = s(12);
    expect(buildHeadline(r)['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('missed');
    // The baseline is ee1a2a9 measured the same way as the run: children under tsx (the fixture,
    // as every result before stop 32) ≤ 4.4 / ≤ 3.2, from the bundle ≤ 4.1 / ≤ 6.7.
    rd.receiverScavengesPer100MB = s(5);
    expect(buildHeadline(r)['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('missed');
    expect(buildHeadline(r)['target.scavenges per 100 MB, thresholds send / receive']).toBe('≤ 4.4 / ≤ 3.2');
    r.children = 'bundle';
    expect(buildHeadline(r)['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('met');
    expect(buildHeadline(r)['target.scavenges per 100 MB, thresholds send / receive']).toBe('≤ 4.1 / ≤ 6.7');
    rd.senderScavengesPer100MB = s(4.2);
    expect(buildHeadline(r)['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9']).toBe('missed');
    delete r.children;
    const many = r.workloads.many!;
    const entry = many.contenders['reliable-dgram']!;
    many.contenders.udx = { ...entry, heapBytesPerConnection: s(3100) };
    expect(buildHeadline(r)['target.heap per idle connection ≤ udx']).toBe('met');
    many.contenders.udx = { ...entry, heapBytesPerConnection: s(2900) };
    expect(buildHeadline(r)['target.heap per idle connection ≤ udx']).toBe('missed');
    r.workloads.bulk!.contenders['reliable-dgram']!.goodputMBps = s(250);
    expect(buildHeadline(r)['target.bulk ≥ 0.8× udx (floor)']).toBe('met');
  });
  it('judges the encryption targets of issue 13 when the encrypted contenders ran', () => {
    const r = fixture();
    expect(buildHeadline(r)['target.encrypted bulk ≥ 0.6× plaintext (issue 13)']).toBe('not measured');
    const rd = r.workloads.bulk!.contenders['reliable-dgram']!;
    r.workloads.bulk!.contenders['reliable-dgram-encrypted'] = { ...rd, goodputMBps: s(120) };
    r.workloads.bulk!.contenders['udx-secret-stream'] = { ...rd, goodputMBps: s(150) };
    const h = buildHeadline(r);
    expect(h['bulk.goodput.reliable-dgram-encrypted/reliable-dgram']).toBe(0.8);
    expect(h['target.encrypted bulk ≥ 0.6× plaintext (issue 13)']).toBe('met');
    expect(h['target.encrypted bulk ≥ 1.0× udx + secret-stream (issue 13)']).toBe('missed');
    expect(h['target.encrypted bulk ≥ 0.7× udx + secret-stream (floor, issue 13)']).toBe('met');
  });
  it('says "not measured" when reliable-dgram did not run', () => {
    const r = fixture();
    delete r.workloads.bulk!.contenders['reliable-dgram'];
    expect(buildHeadline(r)['target.bulk ≥ 1.0× udx']).toBe('not measured');
  });
});

describe('tables and charts', () => {
  it('builds one table per workload and placement', () => {
    const titles = buildTables(fixture()).map((t) => t.title.split(':')[0]);
    expect(titles).toEqual(['Bulk', 'Ping-pong (same-cpu)', 'Ping-pong (same-cpu), steady state', 'Through the impairment proxy', 'Many connections']);
  });
  it('states both ping-pong windows in their titles, and shows the steady state only when it was measured', () => {
    const r = fixture();
    const ping = buildTables(r).filter((t) => t.title.startsWith('Ping-pong'));
    expect(ping[0]!.title).toContain('10,000 trips × 3 runs after 1,000 trips of warm-up');
    expect(ping[1]!.title).toContain('trips 11,001–21,000 of the same runs (after 11,000 trips of warm-up)');
    const rd = ping[1]!.rows.find((x) => x[0] === 'reliable-dgram')!;
    expect(rd[2]).toBe('40 (40–40)');
    expect(rd[6]).toBe('0.571×');
    // Results saved before the steady window existed render as before.
    delete r.workloads.pingpong!.steadyTrips;
    for (const c of Object.values(r.workloads.pingpong!.placements['same-cpu']!)) delete c!.steady;
    expect(buildTables(r).filter((t) => t.title.startsWith('Ping-pong')).length).toBe(1);
    expect(buildHeadline(r)['target.ping p99 ≤ udx, steady state']).toBeUndefined();
  });
  it('shows GC per 100 MB in the bulk table, and a dash for results saved without it', () => {
    const r = fixture();
    const rd = r.workloads.bulk!.contenders['reliable-dgram']!;
    rd.senderScavengesPer100MB = s(12);
    rd.receiverScavengesPer100MB = s(30);
    rd.gcMsPer100MB = s(41);
    const bulk = buildTables(r)[0]!;
    const col = (name: string) => bulk.header.indexOf(name);
    const row = bulk.rows.find((x) => x[0] === 'reliable-dgram')!;
    expect(row[col('scavenges /100 MB send')]).toBe('12 (12–12)');
    expect(row[col('scavenges /100 MB recv')]).toBe('30 (30–30)');
    expect(row[col('GC ms /100 MB (both)')]).toBe('41 (41–41)');
    expect(row[col('major GCs /100 MB send')]).toBe('–');
    rd.senderMajorGcsPer100MB = s(1);
    rd.receiverMajorGcsPer100MB = s(9);
    rd.senderGcMsPer100MB = s(11);
    rd.receiverGcMsPer100MB = s(30);
    const again = buildTables(r)[0]!.rows.find((x) => x[0] === 'reliable-dgram')!;
    expect([col('major GCs /100 MB send'), col('major GCs /100 MB recv'), col('GC ms /100 MB send'), col('GC ms /100 MB recv')].map((i) => again[i])).toEqual(['1 (1–1)', '9 (9–9)', '11 (11–11)', '30 (30–30)']);
    expect(buildHeadline(r)['bulk.reliable-dgram.receiverMajorGcsPer100MB']).toBe(9);
    expect(buildHeadline(r)['bulk.reliable-dgram.senderGcMsPer100MB']).toBe(11);
    expect(bulk.rows.find((x) => x[0] === 'udx-native')![col('scavenges /100 MB send')]).toBe('–');
    expect(buildHeadline(r)['bulk.reliable-dgram.receiverScavengesPer100MB']).toBe(30);
  });
  it('counts GC events by kind within the window, with their time', () => {
    // [start ms, duration ms, kind]: 1 scavenge, 4 Mark-Compact, 8 incremental marking, 16 weak callbacks.
    const log: [number, number, number][] = [[5, 9, 4], [10, 1, 1], [11, 2, 1], [12, 0.5, 8], [13, 7, 4], [14, 0.25, 16], [20, 3, 1], [21, 99, 4]];
    expect(countGcs(log, 10, 20)).toEqual({ count: 6, scavenges: 3, majors: 1, incrementals: 1, weakcbs: 1, ms: 13.75, scavengeMs: 6, majorMs: 7 });
  });
  it('gives major GCs and GC ms per 100 MB for each side of a bulk run, null where a side has no GC figures', () => {
    const r = { bytes: 50e6, firstAt: 0, lastAt: 1000, cpuMs: 500, maxRssBytes: 80e6, gc: { count: 9, scavenges: 6, majors: 2, ms: 40 } };
    const snd = { bytes: 50e6, startAt: 0, doneAt: 1000, cpuMs: 400, maxRssBytes: 70e6, gc: { count: 3, scavenges: 3, majors: 0, ms: 5 } };
    const sample = toSample('reliable-dgram', 50e6, r, snd);
    expect(sample).toMatchObject({
      receiverScavengesPer100MB: 12,
      receiverMajorGcsPer100MB: 4,
      receiverGcMsPer100MB: 80,
      senderScavengesPer100MB: 6,
      senderMajorGcsPer100MB: 0,
      senderGcMsPer100MB: 10,
      gcMsPer100MB: 90,
    });
    // A child from before the kinds were counted (no majors), and a side without GC figures.
    const old = toSample('reliable-dgram', 50e6, { ...r, gc: { count: 9, scavenges: 6, ms: 40 } }, { bytes: snd.bytes, startAt: 0, doneAt: 1000, cpuMs: 400, maxRssBytes: 70e6 });
    expect(old).toMatchObject({ receiverMajorGcsPer100MB: null, receiverGcMsPer100MB: 80, senderMajorGcsPer100MB: null, senderGcMsPer100MB: null, gcMsPer100MB: null });
    const summary = summarise(65536, [sample, old], []);
    expect(summary.receiverMajorGcsPer100MB).toEqual({ median: 4, min: 4, max: 4, n: 1 });
    expect(summary.senderGcMsPer100MB).toEqual({ median: 10, min: 10, max: 10, n: 1 });
  });
  it('computes the second half of a bulk run from each side\'s half mark, and renders it as its own table', () => {
    // 100 MB; the receiver passed half at 50 MB (t = 1,000 ms) and got the last byte at 1,200 ms;
    // the sender passed half at 50.0 MB exactly and spent 150 ms of CPU after it; the receiver 200 ms.
    const r = { bytes: 100e6, firstAt: 500, lastAt: 1200, cpuMs: 900, maxRssBytes: 80e6, halfAt: 1000, halfBytes: 50e6, secondHalfCpuMs: 200 };
    const snd = { bytes: 100e6, startAt: 400, doneAt: 1210, cpuMs: 700, maxRssBytes: 70e6, halfAt: 990, halfBytes: 50e6, secondHalfCpuMs: 150 };
    const sample = toSample('reliable-dgram', 100e6, r, snd);
    expect(sample.secondHalfGoodputMBps).toBe(250); // 50 MB in 0.2 s
    expect(sample.secondHalfSenderCpuMsPerMB).toBe(3); // 150 ms / 50 MB
    expect(sample.secondHalfReceiverCpuMsPerMB).toBe(4); // 200 ms / 50 MB
    // The whole-run columns are untouched: 100 MB in 0.8 s from the first write, 7 and 9 ms/MB.
    expect(sample.goodputMBps).toBe(125);
    expect(sample.senderCpuMsPerMB).toBe(7);
    expect(sample.receiverCpuMsPerMB).toBe(9);
    // Raw dgram: the same second-half formula, from the receiver's view (its half mark may land past 50 MB).
    const dg = toSample('dgram', 100e6, { ...r, halfBytes: 60e6, secondHalfCpuMs: 80 }, { ...snd, halfBytes: 50e6 });
    expect(dg.secondHalfGoodputMBps).toBe(200); // 40 MB in 0.2 s
    expect(dg.secondHalfReceiverCpuMsPerMB).toBe(2); // 80 ms / 40 MB
    // A side that did not report its mark gives null, not NaN.
    const { halfAt: _a, halfBytes: _b, secondHalfCpuMs: _c, ...oldReceiver } = r;
    const old = toSample('udx', 100e6, oldReceiver, snd);
    expect(old.secondHalfGoodputMBps).toBeNull();
    expect(old.secondHalfReceiverCpuMsPerMB).toBeNull();
    expect(old.secondHalfSenderCpuMsPerMB).toBe(3);

    const res = fixture();
    const bulk = res.workloads.bulk!;
    bulk.contenders['reliable-dgram'] = summarise(65536, [sample, sample], []);
    const udx = bulk.contenders.udx!;
    udx.secondHalfGoodputMBps = s(500);
    udx.secondHalfSenderCpuMsPerMB = s(2);
    udx.secondHalfReceiverCpuMsPerMB = s(2.5);
    const tables = buildTables(res);
    expect(tables[1]!.title).toBe(
      'Bulk, second half of the same runs (MB 50–100: after the JIT has compiled the hot path; native contenders pay no warm-up), median (min–max) of 5 runs',
    );
    const table = tables[1]!;
    expect(table.header).toEqual(['contender', 'goodput MB/s', 'CPU ms/MB send', 'CPU ms/MB recv', 'vs udx', 'CPU vs udx send', 'CPU vs udx recv']);
    expect(table.rows.map((x) => x[0])).toEqual(['udx-native', 'reliable-dgram']); // TCP reported no half marks
    expect(table.rows[1]).toEqual(['reliable-dgram', '250 (250–250)', '3 (3–3)', '4 (4–4)', '0.5×', '1.5×', '1.6×']);
    const h = buildHeadline(res);
    expect(h['bulk.reliable-dgram.secondHalfGoodputMBps']).toBe(250);
    expect(h['bulk.reliable-dgram.secondHalfSenderCpuMsPerMB']).toBe(3);
    expect(h['bulk.reliable-dgram.secondHalfReceiverCpuMsPerMB']).toBe(4);
    expect(h['bulk.secondHalf.goodput.reliable-dgram/udx']).toBe(0.5);
    expect(h['bulk.secondHalf.senderCpu.reliable-dgram/udx']).toBe(1.5);
    expect(h['bulk.secondHalf.receiverCpu.reliable-dgram/udx']).toBe(1.6);
  });
  it('HalfMark marks the first count at or past half, once', () => {
    const half = new HalfMark(100);
    half.update(49);
    expect(half.result()).toEqual({});
    half.update(64);
    half.update(100);
    const marked = half.result();
    expect(marked.halfBytes).toBe(64);
    expect(marked.halfAt).toBeGreaterThan(0);
    expect(marked.secondHalfCpuMs).toBeGreaterThanOrEqual(0);
  });
  it("states in the method how the children ran; results saved before it say tsx", () => {
    const r = fixture();
    expect(renderPerformanceMd(r, [], [])).toContain('spawned as `node --import tsx bench/child.ts <spec>`');
    r.children = 'node <esbuild bundle of bench/child.ts>';
    const md = renderPerformanceMd(r, [], []);
    expect(md).toContain('spawned as plain `node <bundle> <spec>`');
    expect(md).not.toContain('--import tsx bench/child.ts <spec>');
  });
  it('renders results saved before the second-half figures as before', () => {
    const tables = buildTables(fixture());
    expect(tables.filter((t) => t.title.startsWith('Bulk')).length).toBe(1);
    expect(Object.keys(buildHeadline(fixture())).filter((k) => k.includes('secondHalf'))).toEqual([]);
  });
  it('renders the three charts to SVG headless', async () => {
    const charts = await renderCharts(fixture());
    expect([...charts.keys()].sort()).toEqual(['bulk-goodput.svg', 'goodput-vs-loss.svg', 'latency-distribution.svg']);
    for (const svg of charts.values()) expect(svg.startsWith('<svg')).toBe(true);
    expect(charts.get('goodput-vs-loss.svg')).toContain('reliable-dgram');
  });
});
