/**
 * `npm run bench:sim`: the engine's efficiency in virtual time (deterministic, seeded, no
 * sockets). Scenarios from test/helpers/scenarios.ts, on a 10 Mbit/s bottleneck with 40 ms RTT
 * and a queue of one bandwidth-delay product:
 *
 *  1. a 10 MiB transfer at 0, 1, 5, 10, 20 % random loss (both directions), per controller:
 *     goodput as a fraction of capacity and of the capacity left after loss, retransmitted /
 *     delivered bytes, and the bottleneck queueing delay;
 *  2. two flows sharing the bottleneck: Jain's fairness index and each flow's share from 10 s
 *     to 20 s, and whether a LEDBAT (scavenger) flow yields.
 *
 * The last line printed is one JSON object with every figure.
 *
 *   node --import tsx bench/sim.ts [--seed N] [--size MiB] [--cc bbr,newreno,ledbat]
 */
import type { CongestionAlgorithm } from '../src/core/types.js';
import { BDP, MIN_RTT, share, transfer, type TransferResult } from '../test/helpers/scenarios.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const seed = Number(flag('seed', '1'));
const totalBytes = Number(flag('size', '10')) * 1024 * 1024;
const controllers = flag('cc', 'bbr,newreno,ledbat').split(',') as CongestionAlgorithm[];
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
  for (const loss of LOSSES) {
    const r = transfer(cc, loss, totalBytes, seed);
    results[cc]![String(loss)] = r;
    const target = TARGETS[String(loss)]!;
    const mark = r.fractionOfLossFree >= target ? 'met' : 'MISSED';
    console.log(
      `  ${pad((loss * 100).toFixed(0), 3)} %  ${pad(r.seconds.toFixed(2), 7)}  ${pad(f3(r.fraction), 11)}  ${pad(f3(r.fractionOfLossFree), 12)}  ${pad(`${target} ${mark}`, 6)}  ${pad(f3(r.retransmitRatio), 14)}  ${pad(`${r.queueDelayMedian.toFixed(1)} / ${r.queueDelayP95.toFixed(1)}`, 21)}`,
    );
  }
  console.log('');
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
const sharing: Record<string, ReturnType<typeof share>> = {};
for (const p of pairs) {
  const r = share(p, 10_000, 20_000, 1000, seed);
  sharing[p.join('+')] = r;
  console.log(
    `  ${p.join(' + ').padEnd(17)} ${f3(r.jain)}  ${pad(f3(r.shares[0]!), 7)}  ${pad(f3(r.shares[1]!), 7)}  ${pad(f3(r.utilisation), 11)}`,
  );
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
  }),
);
