/**
 * `npm run bench:sim`: efficiency of the engine in virtual time (deterministic, seeded).
 *
 * A 10 MiB transfer over a 10 Mbit/s bottleneck with 40 ms RTT and a queue of one
 * bandwidth-delay product, at 0, 1, 5, 10 and 20 % random loss in both directions. Reports
 * goodput as a fraction of link capacity (and of the capacity left after loss, (1 − p) ×
 * capacity) and retransmitted bytes / delivered bytes. The last line is one JSON object.
 *
 *   node --import tsx bench/sim.ts [--cc newreno|none] [--seed N] [--size MiB]
 */
import { Pair } from '../test/helpers/pair.js';
import type { CongestionAlgorithm } from '../src/core/types.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const cc = flag('cc', 'newreno') as CongestionAlgorithm;
const seed = Number(flag('seed', '1'));
const totalBytes = Number(flag('size', '10')) * 1024 * 1024;

const RATE = 10_000_000 / 8; // bytes per second
const ONE_WAY = 20; // ms
const BDP = RATE * ((2 * ONE_WAY) / 1000); // bytes
const LOSSES = [0, 0.01, 0.05, 0.1, 0.2];
const MESSAGE = 64 * 1024;

interface Row {
  loss: number;
  seconds: number;
  goodputMbps: number;
  fraction: number;
  fractionOfLossFree: number;
  retransmitRatio: number;
  cpuMs: number;
}

function runOnce(loss: number): Row {
  const pair = new Pair({
    seed,
    link: { delay: ONE_WAY, rate: RATE, queue: BDP, loss },
    config: { congestion: cc, idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
  });
  pair.keepMessages = false;
  const cpu = process.cpuUsage();
  let queued = 0;
  const receiver = pair.sides[1];
  while (queued < totalBytes) {
    const n = Math.min(MESSAGE, totalBytes - queued);
    pair.a.send(new Uint8Array(n));
    queued += n;
  }
  pair.runUntil(() => receiver.deliveredBytes >= totalBytes, 3_600_000);
  const used = process.cpuUsage(cpu);
  const seconds = pair.now / 1000;
  const goodput = totalBytes / seconds; // bytes/s
  const stats = pair.a.stats();
  return {
    loss,
    seconds,
    goodputMbps: (goodput * 8) / 1e6,
    fraction: goodput / RATE,
    fractionOfLossFree: goodput / (RATE * (1 - loss)),
    retransmitRatio: stats.bytesRetransmitted / totalBytes,
    cpuMs: (used.user + used.system) / 1000,
  };
}

const rows: Row[] = [];
console.log(
  `bench:sim — ${totalBytes / 1048576} MiB over 10 Mbit/s, RTT ${2 * ONE_WAY} ms, queue ${BDP} B (1 BDP), cc=${cc}, seed=${seed}`,
);
console.log('loss    time(s)  goodput(Mbit/s)  of capacity  of (1-p)·capacity  retransmitted/delivered  cpu(ms)');
for (const loss of LOSSES) {
  const r = runOnce(loss);
  rows.push(r);
  console.log(
    `${(loss * 100).toFixed(0).padStart(3)} %  ${r.seconds.toFixed(2).padStart(7)}  ${r.goodputMbps.toFixed(2).padStart(15)}  ${r.fraction.toFixed(3).padStart(11)}  ${r.fractionOfLossFree.toFixed(3).padStart(17)}  ${r.retransmitRatio.toFixed(3).padStart(23)}  ${r.cpuMs.toFixed(0).padStart(7)}`,
  );
}
const byLoss = (f: (r: Row) => number): Record<string, number> =>
  Object.fromEntries(rows.map((r) => [String(r.loss), Number(f(r).toFixed(4))]));
console.log(
  JSON.stringify({
    cc,
    seed,
    goodput: byLoss((r) => r.fraction),
    goodputOfLossFree: byLoss((r) => r.fractionOfLossFree),
    retransmitRatio: byLoss((r) => r.retransmitRatio),
    seconds: byLoss((r) => r.seconds),
  }),
);
