/**
 * The impairment workload (bench/workloads/impair.ts) modelled in virtual time: what the protocol
 * itself achieves through a path like the proxy's, without the CPU of three processes. A core
 * pair (test/helpers/scenarios.ts `impairedPair`, the window-tuning tests' path) with 10 ms each
 * way, random loss both ways, and a bottleneck of `--rate` MB/s with a 4 MB queue (the proxy
 * forwards as fast as its CPU lets it: ~55-60 MB/s on the benchmark machine); 20 MB one way,
 * seeds 1-3. Deterministic.
 *
 * Both sides' datagram ceiling is the endpoint's default (`--mds 1452`), as in the real run: path-MTU
 * discovery moves from 1,200 to 1,452 bytes in the first round trip, and the receiver, which sends
 * only ACKs otherwise, has RTT samples from its own probes (the window tuner judges against them).
 * `--mds 1200` is the test pair's default (no discovery, the receiver has no RTT sample). The
 * outcome of one seed is chaotic (a different loss draws a different Startup); `--seeds 12`
 * prints the mean of seeds 1-12 as well, for comparisons.
 *
 * `--starve MS` models the real run's first round trips, where the three processes' JIT
 * compilers and cold code starve the path (bench/history.md, Stop 24): the bottleneck moves
 * only `--starve-rate` MB/s (default 15) for the first MS ms of virtual time, then `--rate`.
 *
 * `--descheduled MS` models the other half of it: the sender and the receiver are processes that
 * wait for a core. For the first MS ms each side runs `--run` ms (default 10) and is then
 * descheduled for `--wait` ms (default 15; the receiver's phase is offset by half a period);
 * while descheduled, a side sends nothing, and the datagrams that reach it and the timers that
 * fall due wait for it to run again (the real run's main threads wait 310-390 ms for a core in a
 * ~670 ms transfer; its sender's 10 ms sampling ticks came 25-41 ms apart). With `--starve` as
 * well (the proxy's share) it is the real run's warm-up in virtual time.
 *
 * `--reorder P [--reorder-delay 2]` holds back that fraction of the sender's datagrams by that many
 * ms, so later ones overtake them: the real proxy does this when it waits for a core (a datagram
 * overtakes the ~100 read before it; bench/analysis.md, Stop 29, "Impaired paths"), and the packet
 * threshold (RFC 9002 §6.1.1) then declares lost what only came late. The per-seed figures then
 * also give the receiver's duplicates (each a retransmission of a datagram that had arrived).
 *
 * `--trace MS` prints, for seed 1 only, the sender's congestion state every MS ms of virtual time
 * (controller state, pacing rate, window, bytes in flight, and what the receiver got in that
 * interval), to read how a start or a loss rate plays out; `--trace 0` (default) prints none.
 *
 *   node --import tsx bench/impair-sim.ts [--rate 60] [--mb 20] [--mds 1452] [--seeds 3] [--starve 0] [--starve-rate 15]
 *     [--descheduled 0] [--run 10] [--wait 15] [--reorder 0] [--reorder-delay 2] [--trace 0]
 */
import type { ConnectionCore } from '../src/core/connection.js';
import type { Side } from '../test/helpers/pair.js';
import { impairedPair } from '../test/helpers/scenarios.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => numberOption(args, name, fallback);
const rate = flag('rate', 60) * 1e6;
const bytes = flag('mb', 20) * 1e6;
const maxDatagramSize = flag('mds', 1452);
const seeds = flag('seeds', 3);
const starveMs = flag('starve', 0);
const starveRate = flag('starve-rate', 15) * 1e6;
const traceMs = flag('trace', 0);
const descheduledMs = flag('descheduled', 0);
const runMs = flag('run', 10);
const waitMs = flag('wait', 15);
const reorder = flag('reorder', 0);
const reorderDelay = flag('reorder-delay', 2);
const chunk = new Uint8Array(64 * 1024);

/** One line of `--trace`: the sender's controller as the stats and the controller's public fields show it. */
function traceLine(pair: ReturnType<typeof impairedPair>, deliveredInInterval: number): string {
  const s = pair.a.stats(pair.now);
  const cc = (pair.a as unknown as { recovery: { cc: { state?: string; pacingRate: number; window: number } } }).recovery.cc;
  const kB = (n: number): string => `${(n / 1e3).toFixed(0)} kB`;
  return `    ${pair.now.toFixed(0).padStart(6)} ms  ${(cc.state ?? '').padEnd(9)} pacing ${(cc.pacingRate / 1e3).toFixed(1).padStart(6)} MB/s  window ${kB(cc.window).padStart(8)}  in flight ${kB(s.bytesInFlight).padStart(8)}  delivered ${((deliveredInInterval / 1e3) / traceMs).toFixed(1).padStart(6)} MB/s`;
}

/**
 * Make `side` a process that waits for a core: until `until` ms it runs `runMs` of every
 * `runMs + waitMs` (starting `phase` ms into the period) and is descheduled for the rest. Its
 * engine is wrapped: while descheduled it sends nothing, datagrams that arrive queue (the socket
 * buffer) and are read, in order, when it runs again, before its timers (the shell reads the
 * socket first after a late timer, src/node/endpoint.ts `onTimer`), and its deadlines move to that
 * instant too.
 */
function deschedule(pair: ReturnType<typeof impairedPair>, side: Side, until: number, phase: number): void {
  const core = side.core;
  const period = runMs + waitMs;
  /** The first instant at or after `t` at which the side runs. */
  const runsAt = (t: number): number => {
    if (t >= until) return t;
    const into = (t + phase) % period;
    return into < runMs ? t : t + (period - into);
  };
  const queued: { data: Uint8Array; address: string | undefined; port: number | undefined }[] = [];
  const drain = (now: number): void => {
    for (const d of queued.splice(0)) {
      if (d.address === undefined) core.handleDatagram(now, d.data);
      else core.handleDatagram(now, d.data, false, d.address, d.port);
    }
  };
  const overrides: Record<string, unknown> = {
    handleDatagram(now: number, data: Uint8Array, _mark?: boolean, address?: string, port?: number): void {
      if (runsAt(now) > now || queued.length > 0) queued.push({ data, address, port });
      else if (address === undefined) core.handleDatagram(now, data);
      else core.handleDatagram(now, data, false, address, port);
    },
    pollTimeout(): number | null {
      const wake = queued.length > 0 ? runsAt(pair.now) : Infinity;
      const t = core.pollTimeout();
      const due = t === null ? Infinity : runsAt(Math.max(t, pair.now));
      const next = Math.min(wake, due);
      return next === Infinity ? null : next;
    },
    handleTimeout(now: number): void {
      if (runsAt(now) > now) return;
      drain(now);
      const t = core.pollTimeout();
      if (t !== null && t <= now) core.handleTimeout(now);
    },
    pollTransmit(now: number, batch?: boolean): Uint8Array | null {
      return runsAt(now) > now ? null : core.pollTransmit(now, batch);
    },
  };
  // Everything else is the engine's own, called on the engine (never on the proxy: a method's
  // writes must land on the engine).
  side.core = new Proxy(core, {
    get(target, key): unknown {
      if (typeof key === 'string' && key in overrides) return overrides[key];
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const starved = starveMs > 0 ? ` (${starveRate / 1e6} MB/s for the first ${starveMs} ms)` : '';
const reordering = reorder > 0 ? `, ${reorder * 100} % of datagrams held back ${reorderDelay} ms` : '';
const waiting = descheduledMs > 0 ? `, both ends descheduled ${waitMs} of every ${runMs + waitMs} ms for the first ${descheduledMs} ms` : '';
console.log(`impair-sim: ${bytes / 1e6} MB, 10 ms each way, ${rate / 1e6} MB/s bottleneck${starved}${waiting}${reordering}, 4 MB queue, maxDatagramSize ${maxDatagramSize}, virtual time`);
for (const loss of [0, 0.01, 0.05, 0.1, 0.2]) {
  const figures: string[] = [];
  let sum = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const pair = impairedPair(seed, loss, { maxDatagramSize, rate: starveMs > 0 ? starveRate : rate });
    /** The forward link at `linkRate`, with `--reorder` when given. */
    const forward = (linkRate: number): void =>
      pair.flows[0]!.links.forward.configure({ delay: 10, rate: linkRate, queue: 4e6, loss, ...(reorder > 0 ? { reorder, reorderDelay } : {}) });
    if (reorder > 0) forward(starveMs > 0 ? starveRate : rate);
    if (descheduledMs > 0) {
      deschedule(pair, pair.sides[0], descheduledMs, 0);
      deschedule(pair, pair.sides[1], descheduledMs, (runMs + waitMs) / 2);
    }
    for (let left = bytes; left > 0; left -= chunk.length) pair.a.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
    let starving = starveMs > 0;
    const tracing = traceMs > 0 && seed === 1;
    let nextTrace = 0;
    let tracedBytes = 0;
    const trace: string[] = [];
    pair.runUntil(() => {
      if (tracing && pair.now >= nextTrace) {
        trace.push(traceLine(pair, pair.sides[1].deliveredBytes - tracedBytes));
        tracedBytes = pair.sides[1].deliveredBytes;
        nextTrace += traceMs;
      }
      if (starving && pair.now >= starveMs) {
        starving = false;
        forward(rate);
      }
      return pair.sides[1].deliveredBytes >= bytes;
    }, 600_000);
    if (tracing) console.log(`  trace, ${loss * 100} % loss, seed 1:\n${trace.join('\n')}`);
    const s = pair.a.stats(pair.now);
    sum += bytes / 1e3 / pair.now;
    const duplicates = reorder > 0 ? `, ${pair.b.stats(pair.now).duplicatesDropped} duplicates` : '';
    if (seed <= 3) figures.push(`${(bytes / 1e3 / pair.now).toFixed(1)} MB/s (flow-control blocked ${s.timeBlockedByFlowControl.toFixed(0)} of ${pair.now.toFixed(0)} ms${duplicates})`);
  }
  const mean = seeds > 3 ? `  mean of ${seeds}: ${(sum / seeds).toFixed(1)} MB/s` : '';
  console.log(`  ${String(loss * 100).padStart(2)} %  ${figures.join('  ')}${mean}`);
}
