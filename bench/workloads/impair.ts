/**
 * Workload 3, under impairment: the sender talks to the impairment proxy, which forwards to the
 * receiver with a fixed one-way delay and seeded random loss in both directions. Only transports
 * that recover from loss over UDP take part (udx-native, reliable-dgram): TCP cannot cross a UDP
 * proxy and raw dgram does not retransmit. Three processes per run: proxy, sender, receiver.
 */
import type { BulkReceiveResult, BulkSendResult } from '../contenders/types.js';
import type { ContenderName } from '../contenders/index.js';
import { BenchChild, SkipError } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { spread, type Spread } from '../lib/stats.js';
import { ProxyProcess, freeUdpPort, proxyAvailable } from '../lib/proxy.js';
import { HOST, markUnavailable, note, rotation, runTimeout, withinBudget, type BenchContext } from './context.js';

const MB = 1e6;
const DELAY_MS = 10;
const CHUNK = 64 * 1024;

export interface ImpairSample {
  goodputMBps: number;
  retransmittedBytes: number | null;
  /** How `retransmittedBytes` was obtained. */
  retransmitSource: string;
  /** The proxy's own counters (its JSON on exit), or its last output if that did not parse. */
  proxy: unknown;
  /**
   * The proxy's CPU during the run, ms (all its threads, from the sender's start to the last byte
   * received and a little beyond; /proc clock ticks, 10 ms resolution; NaN off Linux): the third
   * process on the two cores, which each transport's datagrams and ACKs cost.
   */
  proxyCpuMs?: number;
  /** Each side's CPU and its contender's own counters (reliable-dgram: stats() and event-loop idle ms). */
  sender?: { cpuMs: number; extra: Record<string, number> };
  receiver?: { cpuMs: number; extra: Record<string, number> };
}

export interface ImpairPoint {
  lossPercent: number;
  samples: ImpairSample[];
  goodputMBps: Spread;
  retransmittedBytes: Spread | null;
  errors: string[];
}

export interface ImpairResult {
  available: boolean;
  reason?: string;
  bytes: number;
  delayMs: number;
  runs: number;
  lossPercents: number[];
  contenders: Partial<Record<ContenderName, ImpairPoint[]>>;
}

/** Retransmitted payload bytes, from the contender's own counters. */
function retransmitted(s: BulkSendResult): { bytes: number | null; source: string } {
  const x = s.extra ?? {};
  if (typeof x.bytesRetransmitted === 'number') return { bytes: x.bytesRetransmitted, source: 'stats().bytesRetransmitted' };
  if (typeof x.retransmits === 'number' && x.packetsTransmitted && x.bytesTransmitted) {
    return { bytes: Math.round(x.retransmits * (x.bytesTransmitted / x.packetsTransmitted)), source: 'retransmits × mean packet size' };
  }
  return { bytes: null, source: 'not reported' };
}

/** The proxy prints its counters as a JSON object on exit, after its log lines. */
function parseProxyCounters(output: string): unknown {
  const start = output.search(/^\{/m);
  if (start >= 0) {
    try {
      return JSON.parse(output.slice(start)) as unknown;
    } catch {
      // fall through
    }
  }
  return output.trim().slice(-1000);
}

async function oneRun(name: ContenderName, bytes: number, loss: number, seed: number, label: string, timeoutMs: number): Promise<ImpairSample> {
  const receiver = new BenchChild(
    { contender: name, role: 'bulkReceiver', options: { host: HOST, bytes } },
    { timeoutMs, label: `${label} receiver` },
  );
  let proxy: ProxyProcess | undefined;
  let sender: BenchChild | undefined;
  try {
    const { port: targetPort } = await receiver.ready;
    const listenPort = await freeUdpPort(HOST);
    proxy = new ProxyProcess({ host: HOST, listenPort, targetPort, delayMs: DELAY_MS, loss, seed });
    await proxy.started();
    const proxyCpuBefore = proxy.cpuMs();
    sender = new BenchChild(
      { contender: name, role: 'bulkSender', options: { host: HOST, port: listenPort, bytes, chunk: CHUNK } },
      { timeoutMs, label: `${label} sender` },
    );
    const [r, s] = (await Promise.all([receiver.result, sender.result])) as [BulkReceiveResult, BulkSendResult];
    const proxyCpuMs = proxy.cpuMs() - proxyCpuBefore;
    const re = retransmitted(s);
    const proxyReport = parseProxyCounters(await proxy.stop());
    return {
      goodputMBps: r.bytes / MB / (((r.lastAt - s.startAt) || 1e-3) / 1000),
      retransmittedBytes: re.bytes,
      retransmitSource: re.source,
      proxy: proxyReport,
      proxyCpuMs,
      sender: { cpuMs: s.cpuMs, extra: s.extra ?? {} },
      receiver: { cpuMs: r.cpuMs, extra: r.extra ?? {} },
    };
  } finally {
    await sender?.killAndWait();
    await proxy?.stop();
    await receiver.killAndWait();
  }
}

export async function runImpair(ctx: BenchContext): Promise<ImpairResult> {
  const bytes = ctx.quick ? 2 * MB : 20 * MB;
  const lossPercents = ctx.quick ? [0, 5, 20] : [0, 1, 5, 10, 20];
  const runs = ctx.quick ? 1 : 3;
  const result: ImpairResult = { available: true, bytes, delayMs: DELAY_MS, runs, lossPercents, contenders: {} };
  if (!proxyAvailable()) {
    result.available = false;
    result.reason = 'the impairment proxy (src/bin/impair.ts) is not in this tree yet';
    note(ctx, `impairment workload skipped: ${result.reason}`);
    return result;
  }
  const names = ctx.contenders.filter((n) => n === 'udx' || n === 'reliable-dgram');
  const points = new Map<string, { samples: ImpairSample[]; errors: string[] }>();
  for (const lossPercent of lossPercents) {
    for (let run = 0; run < runs; run++) {
      for (const name of rotation(names, run)) {
        if (ctx.unavailable.has(name) || !withinBudget(ctx, 'impairment')) continue;
        const label = `impaired ${bytes / MB} MB, ${DELAY_MS} ms, ${lossPercent}% loss, ${name} run ${run + 1}/${runs}`;
        progress(label);
        const key = `${name}|${lossPercent}`;
        const point = points.get(key) ?? { samples: [], errors: [] };
        points.set(key, point);
        try {
          point.samples.push(await oneRun(name, bytes, lossPercent / 100, 1000 + run, label, runTimeout(ctx, ctx.quick ? 10_000 : 90_000)));
        } catch (err) {
          if (err instanceof SkipError) markUnavailable(ctx, name, err.message);
          else {
            point.errors.push((err as Error).message);
            note(ctx, `${label} failed: ${(err as Error).message.slice(0, 300)}`);
          }
        }
      }
    }
  }
  for (const name of names) {
    const list: ImpairPoint[] = [];
    for (const lossPercent of lossPercents) {
      const point = points.get(`${name}|${lossPercent}`);
      if (point === undefined) continue;
      const re = point.samples.map((s) => s.retransmittedBytes).filter((v): v is number => v !== null);
      list.push({
        lossPercent,
        samples: point.samples,
        goodputMBps: spread(point.samples.map((s) => s.goodputMBps)),
        retransmittedBytes: re.length > 0 ? spread(re) : null,
        errors: point.errors,
      });
    }
    if (list.length > 0) result.contenders[name] = list;
  }
  return result;
}
