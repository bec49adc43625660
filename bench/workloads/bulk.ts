/**
 * Workload 1, bulk: `bytes` one way, sender and receiver in two processes (not pinned: the OS
 * spreads them over the cores, as it would for a user). Goodput is payload bytes over the time
 * from the sender's first write to the receiver's last byte. Raw dgram is unreliable and unpaced,
 * so its figure is the receiver's rate (first to last datagram) and its loss is reported beside it.
 *
 * The same runs also give the second half of each transfer (from when each side first passed half
 * the bytes to its end), apart from the V8 JIT warm-up paid in the first half: goodput from the
 * receiver's view (bytes after its half mark over the time from it to the last byte, every contender),
 * and each side's CPU per MB over its own second half.
 */
import type { BulkReceiveResult, BulkSendResult } from '../contenders/types.js';
import type { ContenderName } from '../contenders/index.js';
import { BenchChild, SkipError } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { spread, type Spread } from '../lib/stats.js';
import { HOST, markUnavailable, note, rotation, runTimeout, withinBudget, type BenchContext } from './context.js';

const MB = 1e6;

export interface BulkSample {
  goodputMBps: number;
  datagramsPerSec: number | null;
  lossPercent: number | null;
  senderCpuMsPerMB: number;
  receiverCpuMsPerMB: number;
  senderMaxRssMB: number;
  receiverMaxRssMB: number;
  /** Scavenges (minor GCs) and total GC pause per 100 MB moved, each side; null when not measured. */
  senderScavengesPer100MB: number | null;
  receiverScavengesPer100MB: number | null;
  gcMsPer100MB: number | null;
  /** Mark-Compacts (major GCs) and each side's total GC ms per 100 MB; absent in samples saved before they were counted. */
  senderMajorGcsPer100MB?: number | null;
  receiverMajorGcsPer100MB?: number | null;
  senderGcMsPer100MB?: number | null;
  receiverGcMsPer100MB?: number | null;
  /** The second half of the same transfer; null when a side did not report its half mark. */
  secondHalfGoodputMBps: number | null;
  secondHalfSenderCpuMsPerMB: number | null;
  secondHalfReceiverCpuMsPerMB: number | null;
  extra: Record<string, number>;
}

export interface BulkContenderResult {
  chunkBytes: number;
  samples: BulkSample[];
  goodputMBps: Spread;
  datagramsPerSec: Spread | null;
  lossPercent: Spread | null;
  senderCpuMsPerMB: Spread;
  receiverCpuMsPerMB: Spread;
  maxRssMB: Spread;
  /** Absent in results saved before the GC columns existed. */
  senderScavengesPer100MB?: Spread | null;
  receiverScavengesPer100MB?: Spread | null;
  gcMsPer100MB?: Spread | null;
  /** Absent in results saved before major GCs and GC ms per side were counted. */
  senderMajorGcsPer100MB?: Spread | null;
  receiverMajorGcsPer100MB?: Spread | null;
  senderGcMsPer100MB?: Spread | null;
  receiverGcMsPer100MB?: Spread | null;
  /** Absent in results saved before the second-half columns existed. */
  secondHalfGoodputMBps?: Spread | null;
  secondHalfSenderCpuMsPerMB?: Spread | null;
  secondHalfReceiverCpuMsPerMB?: Spread | null;
  errors: string[];
}

export interface BulkResult {
  bytes: number;
  runs: number;
  contenders: Partial<Record<ContenderName, BulkContenderResult>>;
}

/** Raw dgram must send MTU-sized datagrams; streams and reliable-dgram get 64 KiB writes, like a file copy. */
function chunkFor(name: ContenderName): number {
  return name === 'dgram' ? 1200 : 64 * 1024;
}

/** CPU ms per MB over the bytes after the half mark; null when the mark is missing or nothing came after it. */
function secondHalfCpuPerMB(side: BulkReceiveResult | BulkSendResult): number | null {
  if (side.halfBytes === undefined || side.secondHalfCpuMs === undefined) return null;
  const mb = (side.bytes - side.halfBytes) / MB;
  return mb > 0 ? side.secondHalfCpuMs / mb : null;
}

/** Receiver's view: bytes after its half mark over the time from the mark to the last byte. */
function secondHalfGoodput(r: BulkReceiveResult): number | null {
  if (r.halfBytes === undefined || r.halfAt === undefined) return null;
  const mb = (r.bytes - r.halfBytes) / MB;
  const seconds = (r.lastAt - r.halfAt) / 1000;
  return mb > 0 && seconds > 0 ? mb / seconds : null;
}

/** One run as figures: first the whole transfer, then its second half (each side from its own half mark). */
export function toSample(name: ContenderName, bytes: number, r: BulkReceiveResult, s: BulkSendResult): BulkSample {
  const mb = r.bytes / MB;
  const oneWay = name === 'dgram';
  const seconds = ((oneWay ? r.lastAt - r.firstAt : r.lastAt - s.startAt) || 1e-3) / 1000;
  const extra: Record<string, number> = { ...(s.extra ?? {}) };
  for (const [k, v] of Object.entries(r.extra ?? {})) extra[`receiver.${k}`] = v;
  const per100 = (100 * MB) / Math.max(r.bytes, 1);
  return {
    goodputMBps: mb / seconds,
    datagramsPerSec: r.datagrams !== undefined ? r.datagrams / seconds : null,
    lossPercent: oneWay && s.datagrams ? (100 * (s.datagrams - (r.datagrams ?? 0))) / s.datagrams : null,
    senderCpuMsPerMB: s.cpuMs / (bytes / MB),
    receiverCpuMsPerMB: r.cpuMs / Math.max(mb, 1e-9),
    senderMaxRssMB: s.maxRssBytes / MB,
    receiverMaxRssMB: r.maxRssBytes / MB,
    senderScavengesPer100MB: s.gc ? s.gc.scavenges * per100 : null,
    receiverScavengesPer100MB: r.gc ? r.gc.scavenges * per100 : null,
    gcMsPer100MB: s.gc && r.gc ? (s.gc.ms + r.gc.ms) * per100 : null,
    senderMajorGcsPer100MB: s.gc?.majors !== undefined ? s.gc.majors * per100 : null,
    receiverMajorGcsPer100MB: r.gc?.majors !== undefined ? r.gc.majors * per100 : null,
    senderGcMsPer100MB: s.gc ? s.gc.ms * per100 : null,
    receiverGcMsPer100MB: r.gc ? r.gc.ms * per100 : null,
    secondHalfGoodputMBps: secondHalfGoodput(r),
    secondHalfSenderCpuMsPerMB: secondHalfCpuPerMB(s),
    secondHalfReceiverCpuMsPerMB: secondHalfCpuPerMB(r),
    extra,
  };
}

async function oneRun(name: ContenderName, bytes: number, label: string, timeoutMs: number): Promise<BulkSample> {
  const receiver = new BenchChild(
    { contender: name, role: 'bulkReceiver', options: { host: HOST, bytes } },
    { timeoutMs, label: `${label} receiver` },
  );
  try {
    const { port } = await receiver.ready;
    const sender = new BenchChild(
      { contender: name, role: 'bulkSender', options: { host: HOST, port, bytes, chunk: chunkFor(name) } },
      { timeoutMs, label: `${label} sender` },
    );
    try {
      const [r, s] = (await Promise.all([receiver.result, sender.result])) as [BulkReceiveResult, BulkSendResult];
      return toSample(name, bytes, r, s);
    } finally {
      await sender.killAndWait();
    }
  } finally {
    await receiver.killAndWait();
  }
}

export async function runBulk(ctx: BenchContext): Promise<BulkResult> {
  const bytes = ctx.quick ? 10 * MB : 100 * MB;
  const runs = ctx.quick ? 3 : 5;
  const samples = new Map<ContenderName, BulkSample[]>();
  const errors = new Map<ContenderName, string[]>();
  for (let run = 0; run < runs; run++) {
    for (const name of rotation(ctx.contenders, run)) {
      if (ctx.unavailable.has(name) || !withinBudget(ctx, 'bulk')) continue;
      const label = `bulk ${bytes / MB} MB ${name} run ${run + 1}/${runs}`;
      progress(label);
      try {
        const sample = await oneRun(name, bytes, label, runTimeout(ctx, 60_000));
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      } catch (err) {
        if (err instanceof SkipError) markUnavailable(ctx, name, err.message);
        else {
          errors.set(name, [...(errors.get(name) ?? []), (err as Error).message]);
          note(ctx, `${label} failed: ${(err as Error).message.slice(0, 300)}`);
        }
      }
    }
  }
  const result: BulkResult = { bytes, runs, contenders: {} };
  for (const name of ctx.contenders) {
    const list = samples.get(name);
    if (list === undefined) continue;
    result.contenders[name] = summarise(chunkFor(name), list, errors.get(name) ?? []);
  }
  return result;
}

/** One contender's samples as medians and ranges. */
export function summarise(chunkBytes: number, list: BulkSample[], errors: string[]): BulkContenderResult {
  const optional = (pick: (s: BulkSample) => number | null | undefined): Spread | null => {
    const values = list.map(pick).filter((v): v is number => typeof v === 'number');
    return values.length > 0 ? spread(values) : null;
  };
  return {
    chunkBytes,
    samples: list,
    goodputMBps: spread(list.map((s) => s.goodputMBps)),
    datagramsPerSec: optional((s) => s.datagramsPerSec),
    lossPercent: optional((s) => s.lossPercent),
    senderCpuMsPerMB: spread(list.map((s) => s.senderCpuMsPerMB)),
    receiverCpuMsPerMB: spread(list.map((s) => s.receiverCpuMsPerMB)),
    maxRssMB: spread(list.map((s) => Math.max(s.senderMaxRssMB, s.receiverMaxRssMB))),
    senderScavengesPer100MB: optional((s) => s.senderScavengesPer100MB),
    receiverScavengesPer100MB: optional((s) => s.receiverScavengesPer100MB),
    gcMsPer100MB: optional((s) => s.gcMsPer100MB),
    senderMajorGcsPer100MB: optional((s) => s.senderMajorGcsPer100MB),
    receiverMajorGcsPer100MB: optional((s) => s.receiverMajorGcsPer100MB),
    senderGcMsPer100MB: optional((s) => s.senderGcMsPer100MB),
    receiverGcMsPer100MB: optional((s) => s.receiverGcMsPer100MB),
    secondHalfGoodputMBps: optional((s) => s.secondHalfGoodputMBps),
    secondHalfSenderCpuMsPerMB: optional((s) => s.secondHalfSenderCpuMsPerMB),
    secondHalfReceiverCpuMsPerMB: optional((s) => s.secondHalfReceiverCpuMsPerMB),
    errors,
  };
}
