/**
 * `npm run bench:sim`: the engine's efficiency in virtual time (deterministic, seeded, no
 * sockets). Scenarios from test/helpers/scenarios.ts, on a 10 Mbit/s bottleneck with 40 ms RTT
 * and a queue of one bandwidth-delay product:
 *
 *  1. a 10 MiB transfer at 0, 1, 5, 10, 20 % random loss (both directions), per controller:
 *     goodput as a fraction of capacity and of the capacity left after loss, retransmitted /
 *     delivered bytes, and the bottleneck queueing delay;
 *  2. two flows sharing the bottleneck: Jain's fairness index and each flow's share from 10 s
 *     to 20 s, and whether a LEDBAT (scavenger) flow yields;
 *  3. channels (issue #12): head-of-line — a `--hol-size` MiB upload on channel 1 (priority 1)
 *     while 100-byte messages go every 50 ms on channel 0, at 2 % loss: their one-way latency,
 *     with channel 0's `redundancy` 0, 1 and 2, and the same with everything on one channel; weights — two bulk channels of weights 1 and
 *     3, each one's share from 3 s to 10 s.
 *
 * The last line printed is one JSON object with every figure.
 *
 *   node --import tsx bench/sim.ts [--seed N] [--size MiB] [--cc bbr,newreno,ledbat] [--docs]
 *
 * --docs also writes the tables as markdown to docs/perf/sim.md, which docs/performance.md
 * includes (bench/run.ts renders it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CongestionAlgorithm } from '../src/core/types.js';
import { BDP, headOfLine, MIN_RTT, share, transfer, weightedShare, type HeadOfLineResult, type TransferResult } from '../test/helpers/scenarios.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const seed = Number(flag('seed', '1'));
const totalBytes = Number(flag('size', '10')) * 1024 * 1024;
const controllers = flag('cc', 'bbr,newreno,ledbat').split(',') as CongestionAlgorithm[];
const writeDocs = args.includes('--docs');
const holBytes = Number(flag('hol-size', '50')) * 1024 * 1024;
const md: string[] = [];
const LOSSES = [0, 0.01, 0.05, 0.1, 0.2];
const TARGETS: Record<string, number> = { '0': 0.9, '0.01': 0.85, '0.05': 0.8, '0.1': 0.7, '0.2': 0.5 };

const f3 = (x: number): string => x.toFixed(3);
const pad = (s: string, n: number): string => s.padStart(n);

console.log(
  `bench:sim: ${totalBytes / 1048576} MiB over 10 Mbit/s, RTT ${MIN_RTT} ms, queue ${BDP} B (1 BDP), seed ${seed}, virtual time\n`,
);
const results: Record<string, Record<string, TransferResult>> = {};
for (const cc of controllers) {
  results[cc] = {};
  console.log(`${cc}`);
  console.log('   loss   time(s)  of capacity  of (1-p)·cap  target  retx/delivered  queue median/p95 (ms)');
  md.push(
    `**${cc}**${cc === 'bbr' ? ' (the default)' : ''}`,
    '',
    '| random loss | time s | goodput / capacity | goodput / ((1 − p) × capacity) | issue 7 target (default controller) | retransmitted / delivered | queueing delay median / p95 ms |',
    '| ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  );
  for (const loss of LOSSES) {
    const r = transfer(cc, loss, totalBytes, seed);
    results[cc]![String(loss)] = r;
    const target = TARGETS[String(loss)]!;
    const mark = r.fractionOfLossFree >= target ? 'met' : 'MISSED';
    console.log(
      `  ${pad((loss * 100).toFixed(0), 3)} %  ${pad(r.seconds.toFixed(2), 7)}  ${pad(f3(r.fraction), 11)}  ${pad(f3(r.fractionOfLossFree), 12)}  ${pad(`${target} ${mark}`, 6)}  ${pad(f3(r.retransmitRatio), 14)}  ${pad(`${r.queueDelayMedian.toFixed(1)} / ${r.queueDelayP95.toFixed(1)}`, 21)}`,
    );
    md.push(
      `| ${(loss * 100).toFixed(0)} % | ${r.seconds.toFixed(2)} | ${f3(r.fraction)} | ${f3(r.fractionOfLossFree)} | ≥ ${target} ${mark === 'met' ? 'met' : '**missed**'} | ${f3(r.retransmitRatio)} | ${r.queueDelayMedian.toFixed(1)} / ${r.queueDelayP95.toFixed(1)} |`,
    );
  }
  console.log('');
  md.push('');
}

const pairs: CongestionAlgorithm[][] = [
  ['bbr', 'bbr'],
  ['newreno', 'newreno'],
  ['bbr', 'newreno'],
  ['bbr', 'ledbat'],
  ['newreno', 'ledbat'],
];
console.log('two flows on the bottleneck (second starts 1 s later), measured from 10 s to 20 s');
console.log('  flows              Jain   share 1  share 2  utilisation');
md.push(
  'Two flows on the same bottleneck (the second starts 1 s later), measured from 10 s to 20 s:',
  '',
  '| flows | Jain index | share of flow 1 | share of flow 2 | utilisation |',
  '| --- | ---: | ---: | ---: | ---: |',
);
const sharing: Record<string, ReturnType<typeof share>> = {};
for (const p of pairs) {
  const r = share(p, 10_000, 20_000, 1000, seed);
  sharing[p.join('+')] = r;
  console.log(
    `  ${p.join(' + ').padEnd(17)} ${f3(r.jain)}  ${pad(f3(r.shares[0]!), 7)}  ${pad(f3(r.shares[1]!), 7)}  ${pad(f3(r.utilisation), 11)}`,
  );
  md.push(`| ${p.join(' + ')} | ${f3(r.jain)} | ${f3(r.shares[0]!)} | ${f3(r.shares[1]!)} | ${f3(r.utilisation)} |`);
}

console.log('');
console.log(`channels: ${holBytes / 1048576} MiB upload + a 100-byte message every 50 ms, 2 % loss both ways`);
console.log('  layout                                   p50     p95     p99     max (ms)  ≤ RTT+10 ms  bulk goodput');
md.push(
  '',
  `Channels (issue #12): a ${holBytes / 1048576} MiB upload while a 100-byte message is sent every 50 ms, 2 % random loss in both`,
  'directions; one-way latency of the small messages sent from 1 s on while the upload lasts:',
  '',
  '| layout | p50 ms | p95 ms | p99 ms | max ms | within 1 RTT + 10 ms | upload goodput / capacity |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
);
const hol: Record<string, HeadOfLineResult> = {};
for (const [key, name, short, separate, redundancy] of [
  ['separate', 'small on channel 0 (priority 0), upload on channel 1 (priority 1)', 'channels 0 (high) + 1 (low)', true, 0],
  ['redundancy1', 'the same, channel 0 with `redundancy: 1`', '  + channel 0 redundancy 1', true, 1],
  ['redundancy2', 'the same, channel 0 with `redundancy: 2`', '  + channel 0 redundancy 2', true, 2],
  ['shared', 'everything on channel 0', 'one channel', false, 0],
] as const) {
  const r = headOfLine(separate, holBytes, 0.02, seed, redundancy);
  hol[key] = r;
  const ms = (x: number): string => x.toFixed(1);
  console.log(
    `  ${short.padEnd(38)} ${pad(ms(r.p50), 6)}  ${pad(ms(r.p95), 6)}  ${pad(ms(r.p99), 6)}  ${pad(ms(r.max), 8)}  ${pad(f3(r.withinTarget), 11)}  ${pad(f3(r.bulkFraction), 12)}`,
  );
  md.push(`| ${name} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${ms(r.max)} | ${(r.withinTarget * 100).toFixed(1)} % | ${f3(r.bulkFraction)} |`);
}
const weights = weightedShare([1, 3], 3000, 10_000, seed);
console.log(`  weights 1 : 3 on one priority: shares ${f3(weights[0]!)} / ${f3(weights[1]!)} (target 0.25 / 0.75 ± 0.05)`);
md.push(
  '',
  `Two bulk channels of one priority with weights 1 and 3 share the link ${f3(weights[0]!)} / ${f3(weights[1]!)} (from 3 s to 10 s; target 0.25 / 0.75 ± 0.05).`,
);

if (writeDocs) {
  const file = path.join(import.meta.dirname, '..', 'docs', 'perf', 'sim.md');
  mkdirSync(path.dirname(file), { recursive: true });
  const header = [
    `<!-- Generated by \`npm run bench:sim -- --docs\` (bench/sim.ts); seed ${seed}. -->`,
    '',
    `A ${totalBytes / 1048576} MiB transfer over a simulated 10 Mbit/s bottleneck with ${MIN_RTT} ms RTT and a queue of one`,
    `bandwidth-delay product (${BDP} B), random loss in both directions, in virtual time (deterministic: the`,
    'same seed gives the same table on any machine). Command: `npm run bench:sim`.',
    '',
  ];
  writeFileSync(file, [...header, ...md, ''].join('\n'));
}

const round = (x: number): number => Number(x.toFixed(4));
const perCc = (pick: (r: TransferResult) => number): Record<string, Record<string, number>> =>
  Object.fromEntries(
    Object.entries(results).map(([cc, byLoss]) => [
      cc,
      Object.fromEntries(Object.entries(byLoss).map(([loss, r]) => [loss, round(pick(r))])),
    ]),
  );
console.log(
  JSON.stringify({
    seed,
    sizeMiB: totalBytes / 1048576,
    goodput: perCc((r) => r.fraction),
    goodputOfLossFree: perCc((r) => r.fractionOfLossFree),
    retransmitRatio: perCc((r) => r.retransmitRatio),
    queueDelayMedianMs: perCc((r) => r.queueDelayMedian),
    fairness: Object.fromEntries(
      Object.entries(sharing).map(([k, r]) => [k, { jain: round(r.jain), shares: r.shares.map(round) }]),
    ),
    channels: {
      headOfLine: Object.fromEntries(
        Object.entries(hol).map(([k, r]) => [k, { p50: round(r.p50), p95: round(r.p95), p99: round(r.p99), max: round(r.max), withinTarget: round(r.withinTarget) }]),
      ),
      weights13: weights.map(round),
    },
  }),
);
