/** The result tables, as header + rows, rendered both on the terminal and in the docs. */
import type { BenchResults } from './results.js';
import { num, ratioText, spreadText } from './format.js';
import { ratio } from './stats.js';
import type { PingContenderResult, PingWindow } from '../workloads/pingpong.js';

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

/** udx-native through a user-space proxy at 10 ms, 20 MB (docs/reference §7): the earlier anchor. */
export const REFERENCE_UDX_IMPAIRED: Record<number, number> = { 0: 55, 1: 45, 5: 33, 10: 21, 20: 9.6 };

const LABEL: Record<string, string> = {
  dgram: 'raw node:dgram',
  tcp: 'TCP (node:net)',
  udx: 'udx-native',
  'reliable-dgram': 'reliable-dgram',
};
export const label = (name: string): string => LABEL[name] ?? name;

export function buildTables(r: BenchResults): Table[] {
  const tables: Table[] = [];
  const { bulk, pingpong, impair, many, chat } = r.workloads;

  if (bulk) {
    const med = (n: string): number | undefined => bulk.contenders[n as keyof typeof bulk.contenders]?.goodputMBps.median;
    tables.push({
      title: `Bulk: ${num(bulk.bytes / 1e6)} MB one way, median (min–max) of ${bulk.runs} runs`,
      header: ['contender', 'goodput MB/s', 'datagrams/s', 'loss %', 'CPU ms/MB send', 'CPU ms/MB recv', 'scavenges /100 MB send', 'scavenges /100 MB recv', 'major GCs /100 MB send', 'major GCs /100 MB recv', 'GC ms /100 MB send', 'GC ms /100 MB recv', 'GC ms /100 MB (both)', 'peak RSS MB', 'vs dgram', 'vs TCP', 'vs udx'],
      rows: Object.entries(bulk.contenders).map(([name, c]) => [
        label(name),
        spreadText(c.goodputMBps),
        spreadText(c.datagramsPerSec),
        spreadText(c.lossPercent),
        spreadText(c.senderCpuMsPerMB),
        spreadText(c.receiverCpuMsPerMB),
        spreadText(c.senderScavengesPer100MB),
        spreadText(c.receiverScavengesPer100MB),
        spreadText(c.senderMajorGcsPer100MB),
        spreadText(c.receiverMajorGcsPer100MB),
        spreadText(c.senderGcMsPer100MB),
        spreadText(c.receiverGcMsPer100MB),
        spreadText(c.gcMsPer100MB),
        spreadText(c.maxRssMB),
        name === 'dgram' ? '' : ratioText(ratio(c.goodputMBps.median, med('dgram'))),
        name === 'tcp' ? '' : ratioText(ratio(c.goodputMBps.median, med('tcp'))),
        name === 'udx' ? '' : ratioText(ratio(c.goodputMBps.median, med('udx'))),
      ]),
    });

    // The second half of the same transfers (each side from its own half mark): the JIT warm-up
    // a JavaScript transport pays in the first half is left out; results saved before it render without it.
    const second = Object.entries(bulk.contenders).filter(
      ([, c]) => c.secondHalfGoodputMBps || c.secondHalfSenderCpuMsPerMB || c.secondHalfReceiverCpuMsPerMB,
    );
    if (second.length > 0) {
      const udx = bulk.contenders.udx;
      tables.push({
        title: `Bulk, second half of the same runs (MB ${num(bulk.bytes / 2e6)}–${num(bulk.bytes / 1e6)}: after the JIT has compiled the hot path; native contenders pay no warm-up), median (min–max) of ${bulk.runs} runs`,
        header: ['contender', 'goodput MB/s', 'CPU ms/MB send', 'CPU ms/MB recv', 'vs udx', 'CPU vs udx send', 'CPU vs udx recv'],
        rows: second.map(([name, c]) => [
          label(name),
          spreadText(c.secondHalfGoodputMBps),
          spreadText(c.secondHalfSenderCpuMsPerMB),
          spreadText(c.secondHalfReceiverCpuMsPerMB),
          name === 'udx' ? '' : ratioText(ratio(c.secondHalfGoodputMBps?.median, udx?.secondHalfGoodputMBps?.median)),
          name === 'udx' ? '' : ratioText(ratio(c.secondHalfSenderCpuMsPerMB?.median, udx?.secondHalfSenderCpuMsPerMB?.median)),
          name === 'udx' ? '' : ratioText(ratio(c.secondHalfReceiverCpuMsPerMB?.median, udx?.secondHalfReceiverCpuMsPerMB?.median)),
        ]),
      });
    }
  }

  if (pingpong) {
    // The first window (after a short warm-up) and, where measured, the steady state right after it.
    const windows: { suffix: string; trips: string; pick: (c: PingContenderResult) => PingWindow | undefined }[] = [
      {
        suffix: '',
        trips: `${num(pingpong.trips)} trips × ${pingpong.runs} runs after ${num(pingpong.warmup)} trips of warm-up`,
        pick: (c) => c,
      },
    ];
    if (pingpong.steadyTrips) {
      const before = pingpong.warmup + pingpong.trips;
      windows.push({
        suffix: ', steady state',
        trips: `trips ${num(before + 1)}–${num(before + pingpong.steadyTrips)} of the same runs (after ${num(before)} trips of warm-up) × ${pingpong.runs} runs`,
        pick: (c) => c.steady,
      });
    }
    for (const w of windows) {
      for (const [placement, byName] of Object.entries(pingpong.placements)) {
        const win = (n: string): PingWindow | undefined => {
          const c = byName[n as keyof typeof byName];
          return c ? w.pick(c) : undefined;
        };
        const entries = Object.keys(byName)
          .map((name) => [name, win(name)] as const)
          .filter((e): e is readonly [string, PingWindow] => e[1] !== undefined);
        if (entries.length === 0) continue;
        tables.push({
          title: `Ping-pong (${placement})${w.suffix}: ${pingpong.size} B round trips, µs, ${w.trips}, median (min–max)`,
          header: ['contender', 'p50 µs', 'p99 µs', 'p99.9 µs', 'p50 − dgram p50', 'p50 vs udx', 'p99 vs udx'],
          rows: entries.map(([name, c]) => {
            const d = win('dgram')?.p50Us.median;
            return [
              label(name),
              spreadText(c.p50Us),
              spreadText(c.p99Us),
              spreadText(c.p999Us),
              name === 'dgram' || d === undefined ? '' : `${c.p50Us.median - d >= 0 ? '+' : ''}${num(c.p50Us.median - d)} µs`,
              name === 'udx' ? '' : ratioText(ratio(c.p50Us.median, win('udx')?.p50Us.median)),
              name === 'udx' ? '' : ratioText(ratio(c.p99Us.median, win('udx')?.p99Us.median)),
            ];
          }),
        });
      }
    }
  }

  if (impair?.available) {
    const point = (name: string, loss: number) =>
      impair.contenders[name as keyof typeof impair.contenders]?.find((p) => p.lossPercent === loss);
    tables.push({
      title: `Through the impairment proxy: ${num(impair.bytes / 1e6)} MB, ${impair.delayMs} ms one-way delay, random loss both ways, MB/s, median (min–max) of ${impair.runs} run(s)`,
      header: ['loss %', 'udx-native MB/s', 'reliable-dgram MB/s', 'reliable-dgram / udx', 'udx retransmitted MB', 'reliable-dgram retransmitted MB', 'udx earlier anchor MB/s'],
      rows: impair.lossPercents.map((loss) => {
        const u = point('udx', loss);
        const rd = point('reliable-dgram', loss);
        const mb = (v: number | undefined): string => (v === undefined ? '–' : num(v / 1e6));
        return [
          String(loss),
          u ? spreadText(u.goodputMBps) + (u.errors.length ? ` (${u.errors.length} failed)` : '') : '–',
          rd ? spreadText(rd.goodputMBps) + (rd.errors.length ? ` (${rd.errors.length} failed)` : '') : '–',
          ratioText(ratio(rd?.goodputMBps.median, u?.goodputMBps.median)),
          mb(u?.retransmittedBytes?.median),
          mb(rd?.retransmittedBytes?.median),
          num(REFERENCE_UDX_IMPAIRED[loss]),
        ];
      }),
    });
  }

  if (many) {
    tables.push({
      title: `Many connections: ${num(many.count)} clients over ${many.clientProcesses} processes → one server, median (min–max) of ${many.runs} run(s)`,
      header: ['contender', 'established', 'time to establish all, ms', 'server heap B / idle connection', 'server RSS B / connection'],
      rows: Object.entries(many.contenders).map(([name, c]) => [
        label(name),
        c.samples.length ? num(Math.min(...c.samples.map((s) => s.established))) : `failed: ${c.errors[0]?.slice(0, 80) ?? ''}`,
        spreadText(c.establishMs),
        spreadText(c.heapBytesPerConnection),
        spreadText(c.rssBytesPerConnection),
      ]),
    });
  }

  if (chat?.available) {
    tables.push({
      title: `Chat fan-out: ${chat.clients} clients in ${chat.groups} groups (${chat.harness ?? ''}), median (min–max) of ${chat.samples.length} run(s)`,
      header: ['messages/s stored', 'deliveries/s', 'p50 delivery ms', 'p99 delivery ms', 'p99, sent in the 1st s', 'p99, sent after it'],
      rows: [[spreadText(chat.messagesPerSec), spreadText(chat.deliveriesPerSec), spreadText(chat.p50Ms), spreadText(chat.p99Ms), spreadText(chat.firstSecondP99Ms), spreadText(chat.steadyP99Ms)]],
    });
  }
  return tables;
}
