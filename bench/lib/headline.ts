/**
 * The headline: every figure a reader compares, and the ratios of reliable-dgram (and udx-native)
 * to each reference, as one flat object. Ratios are subject / reference, so for goodput higher is
 * better and for latency, CPU and memory lower is better. A ratio is null when either side is missing.
 */
import type { BenchResults } from './results.js';
import { ratio, round } from './stats.js';

type Headline = BenchResults['headline'];

const SUBJECTS = ['reliable-dgram', 'udx'] as const;
const REFERENCES = ['dgram', 'tcp', 'udx'] as const;

function put(h: Headline, key: string, v: number | null | undefined): void {
  h[key] = v === undefined || v === null || !Number.isFinite(v) ? null : round(v);
}

function ratios(h: Headline, prefix: string, values: Record<string, number | undefined>): void {
  for (const subject of SUBJECTS) {
    if (values[subject] === undefined) continue;
    for (const ref of REFERENCES) {
      if (ref === subject || !(ref in values)) continue;
      put(h, `${prefix}.${subject}/${ref}`, ratio(values[subject], values[ref]));
    }
  }
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? 'met' : 'missed';
}

export function buildHeadline(r: BenchResults): Headline {
  const h: Headline = { quick: r.quick };
  const { bulk, pingpong, impair, many, chat } = r.workloads;

  const goodput: Record<string, number | undefined> = {};
  const secondGoodput: Record<string, number | undefined> = {};
  const secondSendCpu: Record<string, number | undefined> = {};
  const secondRecvCpu: Record<string, number | undefined> = {};
  if (bulk) {
    h['bulk.MB'] = bulk.bytes / 1e6;
    for (const [name, c] of Object.entries(bulk.contenders)) {
      goodput[name] = c.goodputMBps.median;
      put(h, `bulk.${name}.goodputMBps`, c.goodputMBps.median);
      put(h, `bulk.${name}.senderCpuMsPerMB`, c.senderCpuMsPerMB.median);
      put(h, `bulk.${name}.receiverCpuMsPerMB`, c.receiverCpuMsPerMB.median);
      put(h, `bulk.${name}.maxRssMB`, c.maxRssMB.median);
      if (c.senderScavengesPer100MB) put(h, `bulk.${name}.senderScavengesPer100MB`, c.senderScavengesPer100MB.median);
      if (c.receiverScavengesPer100MB) put(h, `bulk.${name}.receiverScavengesPer100MB`, c.receiverScavengesPer100MB.median);
      if (c.gcMsPer100MB) put(h, `bulk.${name}.gcMsPer100MB`, c.gcMsPer100MB.median);
      if (c.senderMajorGcsPer100MB) put(h, `bulk.${name}.senderMajorGcsPer100MB`, c.senderMajorGcsPer100MB.median);
      if (c.receiverMajorGcsPer100MB) put(h, `bulk.${name}.receiverMajorGcsPer100MB`, c.receiverMajorGcsPer100MB.median);
      if (c.senderGcMsPer100MB) put(h, `bulk.${name}.senderGcMsPer100MB`, c.senderGcMsPer100MB.median);
      if (c.receiverGcMsPer100MB) put(h, `bulk.${name}.receiverGcMsPer100MB`, c.receiverGcMsPer100MB.median);
      if (c.datagramsPerSec) put(h, `bulk.${name}.datagramsPerSec`, c.datagramsPerSec.median);
      if (c.lossPercent) put(h, `bulk.${name}.lossPercent`, c.lossPercent.median);
      // The second half of the same runs (after the JIT warm-up); absent in older results.
      if (c.secondHalfGoodputMBps) {
        secondGoodput[name] = c.secondHalfGoodputMBps.median;
        put(h, `bulk.${name}.secondHalfGoodputMBps`, c.secondHalfGoodputMBps.median);
      }
      if (c.secondHalfSenderCpuMsPerMB) {
        secondSendCpu[name] = c.secondHalfSenderCpuMsPerMB.median;
        put(h, `bulk.${name}.secondHalfSenderCpuMsPerMB`, c.secondHalfSenderCpuMsPerMB.median);
      }
      if (c.secondHalfReceiverCpuMsPerMB) {
        secondRecvCpu[name] = c.secondHalfReceiverCpuMsPerMB.median;
        put(h, `bulk.${name}.secondHalfReceiverCpuMsPerMB`, c.secondHalfReceiverCpuMsPerMB.median);
      }
    }
    ratios(h, 'bulk.goodput', goodput);
    if (Object.keys(secondGoodput).length > 0) ratios(h, 'bulk.secondHalf.goodput', secondGoodput);
    if (Object.keys(secondSendCpu).length > 0) ratios(h, 'bulk.secondHalf.senderCpu', secondSendCpu);
    if (Object.keys(secondRecvCpu).length > 0) ratios(h, 'bulk.secondHalf.receiverCpu', secondRecvCpu);
  }

  const p50: Record<string, Record<string, number | undefined>> = {};
  const p99: Record<string, Record<string, number | undefined>> = {};
  const p999: Record<string, Record<string, number | undefined>> = {};
  const steadyP50: Record<string, Record<string, number | undefined>> = {};
  const steadyP99: Record<string, Record<string, number | undefined>> = {};
  if (pingpong) {
    for (const [placement, byName] of Object.entries(pingpong.placements)) {
      p50[placement] = {};
      p99[placement] = {};
      p999[placement] = {};
      for (const [name, c] of Object.entries(byName)) {
        p50[placement]![name] = c.p50Us.median;
        p99[placement]![name] = c.p99Us.median;
        p999[placement]![name] = c.p999Us.median;
        put(h, `ping.${placement}.${name}.p50Us`, c.p50Us.median);
        put(h, `ping.${placement}.${name}.p99Us`, c.p99Us.median);
        put(h, `ping.${placement}.${name}.p999Us`, c.p999Us.median);
      }
      ratios(h, `ping.${placement}.p50`, p50[placement]!);
      ratios(h, `ping.${placement}.p99`, p99[placement]!);
      // The steady-state window (the trips after the first window), same keys under `.steady`.
      const sp50: Record<string, number | undefined> = {};
      const sp99: Record<string, number | undefined> = {};
      for (const [name, c] of Object.entries(byName)) {
        if (!c.steady || c.steady.samples.length === 0) continue;
        sp50[name] = c.steady.p50Us.median;
        sp99[name] = c.steady.p99Us.median;
        put(h, `ping.${placement}.steady.${name}.p50Us`, c.steady.p50Us.median);
        put(h, `ping.${placement}.steady.${name}.p99Us`, c.steady.p99Us.median);
        put(h, `ping.${placement}.steady.${name}.p999Us`, c.steady.p999Us.median);
      }
      if (Object.keys(sp99).length > 0) {
        steadyP50[placement] = sp50;
        steadyP99[placement] = sp99;
        ratios(h, `ping.${placement}.steady.p50`, sp50);
        ratios(h, `ping.${placement}.steady.p99`, sp99);
      }
    }
  }

  const impairRatios: (number | null)[] = [];
  if (impair?.available) {
    for (const [name, points] of Object.entries(impair.contenders)) {
      for (const p of points) {
        put(h, `impair.${name}.loss${p.lossPercent}.goodputMBps`, p.goodputMBps.median);
        put(h, `impair.${name}.loss${p.lossPercent}.retransmittedMB`, p.retransmittedBytes ? p.retransmittedBytes.median / 1e6 : null);
      }
    }
    for (const loss of impair.lossPercents) {
      const rd = impair.contenders['reliable-dgram']?.find((p) => p.lossPercent === loss)?.goodputMBps.median;
      const udx = impair.contenders.udx?.find((p) => p.lossPercent === loss)?.goodputMBps.median;
      const q = ratio(rd, udx);
      put(h, `impair.loss${loss}.reliable-dgram/udx`, q);
      impairRatios.push(q);
    }
  }

  if (many) {
    h['many.connections'] = many.count;
    for (const [name, c] of Object.entries(many.contenders)) {
      put(h, `many.${name}.establishMs`, c.establishMs.median);
      put(h, `many.${name}.heapBytesPerConnection`, c.heapBytesPerConnection.median);
    }
  }

  if (chat?.available && chat.messagesPerSec) {
    put(h, 'chat.messagesPerSec', chat.messagesPerSec.median);
    put(h, 'chat.deliveriesPerSec', chat.deliveriesPerSec?.median);
    put(h, 'chat.p50Ms', chat.p50Ms?.median);
    put(h, 'chat.p99Ms', chat.p99Ms?.median);
    put(h, 'chat.firstSecondP99Ms', chat.firstSecondP99Ms?.median);
    put(h, 'chat.steadyP99Ms', chat.steadyP99Ms?.median);
  }

  // Issue 11's targets, judged on this run's figures (quick runs are too short to judge).
  const rdBulk = bulk?.contenders['reliable-dgram'];
  const udxBulk = bulk?.contenders.udx;
  const bulkRatio = ratio(goodput['reliable-dgram'], goodput.udx);
  h['target.bulk ≥ 1.0× udx'] = verdict(bulkRatio === null ? null : bulkRatio >= 1);
  h['target.bulk ≥ 0.8× udx (floor)'] = verdict(bulkRatio === null ? null : bulkRatio >= 0.8);
  const sendCpu = ratio(rdBulk?.senderCpuMsPerMB.median, udxBulk?.senderCpuMsPerMB.median);
  const recvCpu = ratio(rdBulk?.receiverCpuMsPerMB.median, udxBulk?.receiverCpuMsPerMB.median);
  h['target.bulk CPU ≤ 1.25× udx each side'] = verdict(sendCpu === null || recvCpu === null ? null : sendCpu <= 1.25 && recvCpu <= 1.25);
  // ≥ 10× fewer scavenges per 100 MB than at ee1a2a9, judged against its lower end measured the
  // same way as this run. The issue measured 44–54 (sender) and 32–34 (receiver) with children
  // under tsx: ≤ 4.4 and ≤ 3.2. From the bundle (the default since stop 32) ee1a2a9 scavenges
  // 41–44 / 67–73 (bench/analysis.md, stop 32, wt/recv): ≤ 4.1 and ≤ 6.7. A ratio to a baseline
  // is only meaningful when both were measured by the same method.
  const underTsx = r.children === undefined || r.children.includes('tsx');
  const [sendScavMax, recvScavMax] = underTsx ? [4.4, 3.2] : [4.1, 6.7];
  const sendScav = rdBulk?.senderScavengesPer100MB?.median;
  const recvScav = rdBulk?.receiverScavengesPer100MB?.median;
  h['target.scavenges per 100 MB ≥ 10× fewer than ee1a2a9'] = verdict(
    sendScav === undefined || recvScav === undefined ? null : sendScav <= sendScavMax && recvScav <= recvScavMax,
  );
  h['target.scavenges per 100 MB, thresholds send / receive'] = `≤ ${sendScavMax} / ≤ ${recvScavMax}`;
  // Ping-pong: both placements, the first window after warm-up and the steady state.
  const p50Verdict = (byPlacement: Record<string, number | undefined> | undefined): string => {
    const rd = byPlacement?.['reliable-dgram'];
    const dgram = byPlacement?.dgram;
    return verdict(rd === undefined || dgram === undefined ? null : rd <= dgram + 15);
  };
  const udxVerdict = (byPlacement: Record<string, number | undefined> | undefined): string => {
    const rd = byPlacement?.['reliable-dgram'];
    const udx = byPlacement?.udx;
    return verdict(rd === undefined || udx === undefined ? null : rd <= udx);
  };
  const same = (m: Record<string, Record<string, number | undefined>>) => m['same-cpu'] ?? m.unpinned;
  if (pingpong) {
    h['target.ping p50 ≤ dgram + 15 µs'] = p50Verdict(same(p50));
    h['target.ping p99 ≤ udx'] = udxVerdict(same(p99));
    h['target.ping p99.9 ≤ udx'] = udxVerdict(same(p999));
    if (p99['cross-cpu']) {
      h['target.ping p50 ≤ dgram + 15 µs, cross CPU'] = p50Verdict(p50['cross-cpu']);
      h['target.ping p99 ≤ udx, cross CPU'] = udxVerdict(p99['cross-cpu']);
      h['target.ping p99.9 ≤ udx, cross CPU'] = udxVerdict(p999['cross-cpu']);
    }
    // The steady-state window: not the measure (it reads the first window), shown beside it.
    if (Object.keys(steadyP99).length > 0) {
      h['target.ping p50 ≤ dgram + 15 µs, steady state'] = p50Verdict(same(steadyP50));
      h['target.ping p99 ≤ udx, steady state'] = udxVerdict(same(steadyP99));
      if (steadyP99['cross-cpu']) h['target.ping p99 ≤ udx, cross CPU, steady state'] = udxVerdict(steadyP99['cross-cpu']);
    }
  }
  const sameP99 = same(p99);
  const rdP99 = sameP99?.['reliable-dgram'];
  const allImpair = impairRatios.length > 0 && impairRatios.every((q) => q !== null);
  h['target.impaired goodput ≥ udx at every loss'] = verdict(allImpair ? impairRatios.every((q) => q! >= 1) : null);
  const rdMany = many?.contenders['reliable-dgram'];
  const udxMany = many?.contenders.udx;
  h['target.heap per idle connection ≤ udx'] = verdict(
    rdMany && udxMany && rdMany.samples.length > 0 && udxMany.samples.length > 0
      ? rdMany.heapBytesPerConnection.median <= udxMany.heapBytesPerConnection.median
      : null,
  );

  // Issue 13: encrypted reliable-dgram beside plaintext and beside udx-native + secret-stream.
  const encPlain = ratio(goodput['reliable-dgram-encrypted'], goodput['reliable-dgram']);
  const encSecret = ratio(goodput['reliable-dgram-encrypted'], goodput['udx-secret-stream']);
  put(h, 'bulk.goodput.reliable-dgram-encrypted/reliable-dgram', encPlain);
  put(h, 'bulk.goodput.reliable-dgram-encrypted/udx-secret-stream', encSecret);
  const encP99 = ratio(sameP99?.['reliable-dgram-encrypted'], rdP99);
  put(h, 'ping.same-cpu.p99.reliable-dgram-encrypted/reliable-dgram', encP99);
  h['target.encrypted bulk ≥ 0.6× plaintext (issue 13)'] = verdict(encPlain === null ? null : encPlain >= 0.6);
  h['target.encrypted bulk ≥ 1.0× udx + secret-stream (issue 13)'] = verdict(encSecret === null ? null : encSecret >= 1);
  h['target.encrypted bulk ≥ 0.7× udx + secret-stream (floor, issue 13)'] = verdict(encSecret === null ? null : encSecret >= 0.7);
  h['target.encrypted ping p99 ≤ 1.2× plaintext p99 (issue 13)'] = verdict(encP99 === null ? null : encP99 <= 1.2);
  return h;
}
