/**
 * Workload 2, ping-pong: 64-byte round trips, one at a time. Placement moves latency more than
 * protocols do, so each contender runs with client and server pinned to the same CPU and to two
 * different CPUs (taskset -c); without taskset it runs once, unpinned, and says so.
 *
 * Two windows of every run, for every contender alike: the first `trips` round trips after a
 * short warm-up (the figure a new user sees, JIT warm-up included), and the next `steadyTrips`
 * (steady state: reliable-dgram's hot path is compiled by then; native transports pay no warm-up).
 */
import { availableParallelism } from 'node:os';
import type { PingClientResult } from '../contenders/types.js';
import type { ContenderName } from '../contenders/index.js';
import { BenchChild, SkipError, tasksetAvailable } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { quantile, sortNumbers, spread, type Spread } from '../lib/stats.js';
import { HOST, markUnavailable, note, rotation, runTimeout, withinBudget, type BenchContext } from './context.js';

export type Placement = 'same-cpu' | 'cross-cpu' | 'unpinned';

/** Quantiles kept for the latency-distribution chart. */
export const DISTRIBUTION_QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999];

export interface PingSample {
  p50Us: number;
  p99Us: number;
  p999Us: number;
  meanUs: number;
  lost: number;
}

/** Quantiles of one window of trips over the runs. */
export interface PingWindow {
  samples: PingSample[];
  p50Us: Spread;
  p99Us: Spread;
  p999Us: Spread;
}

export interface PingContenderResult extends PingWindow {
  /** The `steadyTrips` after the first window (absent in results saved before it existed). */
  steady?: PingWindow;
  /** Quantiles of all runs' trips pooled: the chart's curve. */
  distribution: { q: number; us: number }[];
  errors: string[];
}

export interface PingResult {
  size: number;
  trips: number;
  warmup: number;
  /** Trips of the steady-state window, measured right after the first `trips` (0: none). */
  steadyTrips?: number;
  runs: number;
  placements: Partial<Record<Placement, Partial<Record<ContenderName, PingContenderResult>>>>;
}

function placementsToRun(ctx: BenchContext): { placement: Placement; server?: string; client?: string }[] {
  if (!tasksetAvailable()) {
    note(ctx, 'taskset not found (util-linux): ping-pong ran unpinned, so same-CPU and cross-CPU are mixed');
    return [{ placement: 'unpinned' }];
  }
  if (availableParallelism() < 2) {
    note(ctx, 'one CPU only: ping-pong ran same-CPU only');
    return [{ placement: 'same-cpu', server: '0', client: '0' }];
  }
  return [
    { placement: 'same-cpu', server: '0', client: '0' },
    { placement: 'cross-cpu', server: '0', client: '1' },
  ];
}

async function oneRun(
  name: ContenderName,
  o: { size: number; trips: number; warmup: number },
  pin: { server?: string; client?: string },
  label: string,
  timeoutMs: number,
): Promise<PingClientResult> {
  const server = new BenchChild(
    { contender: name, role: 'pingServer', options: { host: HOST } },
    { timeoutMs, label: `${label} server`, ...(pin.server !== undefined ? { cpu: pin.server } : {}) },
  );
  try {
    const { port } = await server.ready;
    const client = new BenchChild(
      { contender: name, role: 'pingClient', options: { host: HOST, port, ...o } },
      { timeoutMs, label: `${label} client`, ...(pin.client !== undefined ? { cpu: pin.client } : {}) },
    );
    try {
      return (await client.result) as PingClientResult;
    } finally {
      await client.killAndWait();
    }
  } finally {
    await server.killAndWait();
  }
}

export async function runPingPong(ctx: BenchContext): Promise<PingResult> {
  const o = { size: 64, trips: ctx.quick ? 1000 : 10_000, warmup: ctx.quick ? 100 : 1000 };
  const steadyTrips = o.trips;
  const runs = 3;
  const result: PingResult = { ...o, steadyTrips, runs, placements: {} };
  // One client run measures both windows back to back: warm-up, `trips`, then `steadyTrips`.
  const clientOptions = { ...o, trips: o.trips + steadyTrips };
  for (const { placement, ...pin } of placementsToRun(ctx)) {
    const rtts = new Map<ContenderName, number[][]>();
    const errors = new Map<ContenderName, string[]>();
    for (let run = 0; run < runs; run++) {
      for (const name of rotation(ctx.contenders, run)) {
        if (ctx.unavailable.has(name) || !withinBudget(ctx, 'ping-pong')) continue;
        const label = `ping-pong ${placement} ${name} run ${run + 1}/${runs}`;
        progress(label);
        try {
          const r = await oneRun(name, clientOptions, pin, label, runTimeout(ctx, 60_000));
          rtts.set(name, [...(rtts.get(name) ?? []), r.rttUs]);
          if (r.lost > 0) note(ctx, `${label}: ${r.lost} trips lost (counted after 250 ms)`);
        } catch (err) {
          if (err instanceof SkipError) markUnavailable(ctx, name, err.message);
          else {
            errors.set(name, [...(errors.get(name) ?? []), (err as Error).message]);
            note(ctx, `${label} failed: ${(err as Error).message.slice(0, 300)}`);
          }
        }
      }
    }
    const byContender: Partial<Record<ContenderName, PingContenderResult>> = {};
    for (const [name, perRun] of rtts) {
      // A lost trip (raw dgram) shortens a run's list: the steady window is whatever follows the first.
      const first = perRun.map((list) => list.slice(0, o.trips));
      const steady = perRun.map((list) => list.slice(o.trips));
      const pooled = sortNumbers(first.flat());
      byContender[name] = {
        ...pingWindow(first, o.trips),
        steady: pingWindow(steady, steadyTrips),
        distribution: DISTRIBUTION_QUANTILES.map((q) => ({ q, us: quantile(pooled, q) })),
        errors: errors.get(name) ?? [],
      };
    }
    result.placements[placement] = byContender;
  }
  return result;
}

/** Quantiles of one window of trips (`perRun`: each run's round-trip times in µs). */
export function pingWindow(perRun: number[][], trips: number): PingWindow {
  const samples = perRun
    .filter((list) => list.length > 0)
    .map((list): PingSample => {
      const sorted = sortNumbers(list);
      return {
        p50Us: quantile(sorted, 0.5),
        p99Us: quantile(sorted, 0.99),
        p999Us: quantile(sorted, 0.999),
        meanUs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
        lost: trips - list.length,
      };
    });
  return {
    samples,
    p50Us: spread(samples.map((s) => s.p50Us)),
    p99Us: spread(samples.map((s) => s.p99Us)),
    p999Us: spread(samples.map((s) => s.p999Us)),
  };
}
