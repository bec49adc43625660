/**
 * Where the CPU goes in the impaired workload (bench/workloads/impair.ts): the same three
 * processes (receiver, the src/bin/impair.ts proxy at 10 ms, sender) for each contender in turn,
 * sampling every process's CPU every 5 ms from /proc/<pid>/task/<tid>/schedstat (Linux only):
 * all threads (the main thread plus V8's compiler and GC threads) and the main thread alone, and
 * the main thread's run-queue wait (runnable, but the two cores were taken: by the other two
 * processes, V8's background threads, or other load on the machine).
 * Prints, per run, goodput, each process's CPU during the transfer (sender's first write to the
 * receiver's last byte), the proxy's datagrams each way, and a timeline of the cores each process
 * used (`--window` ms per line; `--quiet` leaves it out). Direction only on a shared machine.
 *
 *   node --import tsx bench/impair-cpu.ts [--loss 0.01] [--runs 1] [--mb 20] [--window 40]
 *     [--contenders reliable-dgram,udx] [--quiet]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BulkReceiveResult, BulkSendResult } from './contenders/types.js';
import type { ContenderName } from './contenders/index.js';
import { BenchChild } from './lib/spawn.js';
import { ProxyProcess, freeUdpPort } from './lib/proxy.js';
import { numberOption } from './lib/script-options.js';

const HOST = '127.0.0.1';
const args = process.argv.slice(2);
const loss = numberOption(args, 'loss', 0);
const runs = numberOption(args, 'runs', 1);
const bytes = numberOption(args, 'mb', 20) * 1e6;
const windowMs = numberOption(args, 'window', 40);
const quiet = args.includes('--quiet');
const listAt = args.indexOf('--contenders');
const names = (listAt >= 0 ? args[listAt + 1]! : 'reliable-dgram,udx').split(',') as ContenderName[];

/**
 * CPU ms of one process so far: [all threads, main thread, main thread's time runnable but not
 * running (schedstat's run-queue wait: the cores were busy with other threads)]; NaNs once it has gone.
 */
function cpuOf(pid: number | undefined): [number, number, number] {
  if (pid === undefined) return [NaN, NaN, NaN];
  let all = 0;
  let main = 0;
  let wait = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      const ns = Number(fields[0]);
      all += ns;
      if (Number(tid) === pid) {
        main = ns;
        wait = Number(fields[1]);
      }
    }
  } catch {
    return [NaN, NaN, NaN];
  }
  return [all / 1e6, main / 1e6, wait / 1e6];
}

const wall = (): number => performance.timeOrigin + performance.now();
const pidOf = (x: unknown): number | undefined => (x as { child?: { pid?: number } }).child?.pid;
const ROLES = ['receiver', 'proxy', 'sender'] as const;

/** A sample: wall time, then [all, main, main's run-queue wait] ms of receiver, proxy, sender. */
type Sample = [number, ...number[]];

/** The last sample taken at or before `t`. */
function sampleAt(samples: Sample[], t: number): Sample | undefined {
  let best: Sample | undefined;
  for (const s of samples) if (s[0] <= t) best = s;
  return best;
}

for (let run = 0; run < runs; run++) {
  for (const name of names) {
    const receiver = new BenchChild({ contender: name, role: 'bulkReceiver', options: { host: HOST, bytes } }, { timeoutMs: 90_000, label: `${name} receiver` });
    let proxy: ProxyProcess | undefined;
    let sender: BenchChild | undefined;
    const samples: Sample[] = [];
    const pids: (number | undefined)[] = [pidOf(receiver), undefined, undefined];
    const timer = setInterval(() => {
      const row: Sample = [wall()];
      for (const pid of pids) row.push(...cpuOf(pid));
      samples.push(row);
    }, 5);
    try {
      const { port } = await receiver.ready;
      const listenPort = await freeUdpPort(HOST);
      proxy = new ProxyProcess({ host: HOST, listenPort, targetPort: port, delayMs: 10, loss, seed: 1000 + run });
      await proxy.started();
      pids[1] = pidOf(proxy);
      sender = new BenchChild({ contender: name, role: 'bulkSender', options: { host: HOST, port: listenPort, bytes, chunk: 64 * 1024 } }, { timeoutMs: 90_000, label: `${name} sender` });
      pids[2] = pidOf(sender);
      const [r, s] = (await Promise.all([receiver.result, sender.result])) as [BulkReceiveResult, BulkSendResult];
      await new Promise((resolve) => setTimeout(resolve, 10));
      clearInterval(timer);
      const output = await proxy.stop();
      const counters = JSON.parse(output.slice(Math.max(0, output.search(/^\{/m)))) as { up: { sent: number }; down: { sent: number } };
      const from = sampleAt(samples, s.startAt);
      const to = sampleAt(samples, r.lastAt);
      const ms = r.lastAt - s.startAt;
      const at = (x: Sample, i: number, k: number): number => x[1 + 3 * i + k]!;
      const cpu = ROLES.map((role, i) =>
        from && to
          ? `${role} ${(at(to, i, 0) - at(from, i, 0)).toFixed(0)} (main ${(at(to, i, 1) - at(from, i, 1)).toFixed(0)}, main waiting for a core ${(at(to, i, 2) - at(from, i, 2)).toFixed(0)})`
          : `${role} ?`,
      );
      console.log(
        `${name}, ${loss * 100} % loss, run ${run + 1}: ${(bytes / 1e3 / ms).toFixed(1)} MB/s in ${ms.toFixed(0)} ms; CPU ms ${cpu.join(', ')}; ` +
          `proxy datagrams up ${counters.up.sent}, down ${counters.down.sent}`,
      );
      if (!quiet) {
        console.log('   ms   cores used, all threads / main thread / main thread waiting for a core: receiver, proxy, sender');
        for (let t = s.startAt; t < r.lastAt; t += windowMs) {
          const a = sampleAt(samples, t);
          const b = sampleAt(samples, Math.min(t + windowMs, r.lastAt));
          if (a === undefined || b === undefined || b[0] <= a[0]) continue;
          const use = (i: number): string => `${((b[i]! - a[i]!) / (b[0] - a[0])).toFixed(2)}`;
          console.log(`${(t - s.startAt).toFixed(0).padStart(5)}   R ${use(1)}/${use(2)}/${use(3)}  P ${use(4)}/${use(5)}/${use(6)}  S ${use(7)}/${use(8)}/${use(9)}`);
        }
      }
    } finally {
      clearInterval(timer);
      await sender?.killAndWait();
      await proxy?.stop();
      await receiver.killAndWait();
    }
  }
}
