/**
 * Correctness under a perturbed process (the stop 25 "stalled" bulk run): the bulk workload's two
 * processes (bench/child.ts, reliable-dgram) again and again, each run under one perturbation,
 * and whether every run completes: the receiver reports all the bytes and the sender's flush()
 * resolves. A run that does not within `--timeout` seconds prints both sides' status (SIGUSR2:
 * bytes so far, each connection's counters; bench/lib/spawn.ts) and counts as stalled.
 *
 *   node --import tsx bench/bulk-stress.ts [--mb 20] [--runs 2] [--timeout 60] [--only NAME] [--nice 19]
 *
 * Perturbations: none; --jitless; a 1 MB young generation (GC every few hundred datagrams);
 * --stress-opt-style churn (--always-osr, tiny interrupt budget: compile and deoptimise often);
 * both processes on one CPU; one CPU with a busy loop beside them; the receiver reniced (19) once
 * it listens, on one CPU beside a busy loop; the smallest and jumbo datagrams (maxDatagramSize 1,200 / 8,952). Diagnostic
 * only (minutes of CPU), not part of `npm run bench`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { BenchChild, tasksetAvailable } from './lib/spawn.js';
import { numberOption, stringOption } from './lib/script-options.js';
import type { BulkReceiveResult, BulkSendResult } from './contenders/types.js';

const args = process.argv.slice(2);
const MB = 1e6;
const bytes = numberOption(args, 'mb', 20) * MB;
const runs = numberOption(args, 'runs', 2);
const timeoutMs = numberOption(args, 'timeout', 60) * 1000;
const only = stringOption(args, 'only', '');
const nice = numberOption(args, 'nice', 19);

interface Perturbation {
  name: string;
  nodeArgs?: string[];
  /** taskset CPU list for both processes. */
  cpu?: string;
  /** A busy loop pinned to that CPU beside them. */
  busy?: boolean;
  /** The receiver is reniced (`--nice`, default 19) once it listens. */
  niceReceiver?: boolean;
  options?: Record<string, unknown>;
}

const pinned = tasksetAvailable();
const perturbations: Perturbation[] = [
  { name: 'plain' },
  { name: 'jitless', nodeArgs: ['--jitless'] },
  { name: 'semi-space 1 MB', nodeArgs: ['--max-semi-space-size=1'] },
  { name: 'compile churn', nodeArgs: ['--always-osr', '--interrupt-budget=1000'] },
  ...(pinned
    ? [
        { name: 'one CPU', cpu: '0' },
        { name: 'one CPU + busy loop', cpu: '0', busy: true },
        { name: 'receiver reniced, one CPU + busy loop', cpu: '0', busy: true, niceReceiver: true },
      ]
    : []),
  { name: 'maxDatagramSize 1200', options: { maxDatagramSize: 1200 } },
  { name: 'maxDatagramSize 8952', options: { maxDatagramSize: 8952 } },
];

/** A CPU-bound neighbour, pinned like the pair; killed after the run. */
function busyLoop(cpu: string): ChildProcess {
  return spawn('taskset', ['-c', cpu, process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' });
}

async function oneRun(p: Perturbation, label: string): Promise<string> {
  if (p.options !== undefined) process.env.BENCH_RD_OPTIONS = JSON.stringify(p.options);
  else delete process.env.BENCH_RD_OPTIONS;
  const busy = p.busy && p.cpu !== undefined ? busyLoop(p.cpu) : null;
  const base = { timeoutMs, ...(p.cpu !== undefined ? { cpu: p.cpu } : {}), ...(p.nodeArgs ? { nodeArgs: p.nodeArgs } : {}) };
  const receiver = new BenchChild(
    { contender: 'reliable-dgram', role: 'bulkReceiver', options: { host: '127.0.0.1', bytes } },
    { ...base, label: `${label} receiver` },
  );
  let sender: BenchChild | null = null;
  const trail: number[] = [];
  try {
    const { port } = await receiver.ready;
    // Once it listens: its start-up (tsx compiling the sources) is not what is under test.
    if (p.niceReceiver && receiver.pid !== undefined) spawnSync('renice', ['-n', String(nice), '-p', String(receiver.pid)], { stdio: 'ignore' });
    sender = new BenchChild(
      { contender: 'reliable-dgram', role: 'bulkSender', options: { host: '127.0.0.1', port, bytes, chunk: 65536 } },
      { ...base, label: `${label} sender` },
    );
    // Every 10 s, the receiver's bytes so far: a starved run creeps on, a stalled one stands still.
    const watch = setInterval(() => {
      void receiver.status().then((st) => trail.push((st as { bytes?: number } | null)?.bytes ?? -1));
    }, 10_000);
    const [r, s] = (await Promise.all([receiver.result, sender.result]).finally(() => clearInterval(watch))) as [BulkReceiveResult, BulkSendResult];
    const x = s.extra ?? {};
    return `ok${trail.length > 0 ? ` (receiver's bytes every 10 s: ${trail.join(', ')})` : ''}: ${(r.bytes / MB).toFixed(0)} MB in ${((r.lastAt - s.startAt) / 1000).toFixed(2)} s; sender ptoCount ${x['ptoCount'] ?? '?'}, packetsLost ${x['packetsLost'] ?? '?'}, retransmitted ${x['packetsRetransmitted'] ?? '?'}`;
  } catch (err) {
    return `FAILED${trail.length > 0 ? ` (receiver's bytes every 10 s: ${trail.join(', ')})` : ''}: ${(err as Error).message}`;
  } finally {
    await sender?.killAndWait();
    await receiver.killAndWait();
    busy?.kill('SIGKILL');
  }
}

let failed = 0;
for (const p of perturbations) {
  if (only !== '' && !p.name.includes(only)) continue;
  for (let run = 0; run < runs; run++) {
    const label = `${p.name} run ${run + 1}/${runs}`;
    const line = await oneRun(p, label);
    if (line.startsWith('FAILED')) failed += 1;
    console.log(`${label}: ${line}`);
  }
}
console.log(failed === 0 ? 'every run completed' : `${failed} run(s) did not complete`);
process.exitCode = failed === 0 ? 0 : 1;
