import type { CongestionAlgorithm } from '../../src/core/types.js';
import { LinkModel } from '../../src/testing/impairment.js';
import { Rng } from '../../src/testing/rng.js';
import type { BufferBudget } from '../../src/core/buffer-budget.js';
import { Flows, makeCores, Pair } from './pair.js';

/**
 * The congestion-control scenarios of bench:sim and of the congestion tests, in virtual time:
 * a 10 Mbit/s bottleneck, 40 ms RTT, a queue of one bandwidth-delay product.
 */
export const RATE = 10_000_000 / 8; // bytes/s
export const ONE_WAY = 20; // ms
export const MIN_RTT = 2 * ONE_WAY;
export const BDP = RATE * (MIN_RTT / 1000); // bytes

const CHUNK = new Uint8Array(64 * 1024);

/** Queue `bytes` of data on a core without allocating it (the same chunk again and again). */
export function queueBulk(send: (d: Uint8Array) => void, bytes: number): void {
  for (let left = bytes; left > 0; left -= CHUNK.length) {
    send(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left));
  }
}

export interface TransferResult {
  seconds: number;
  /** Goodput / capacity. */
  fraction: number;
  /** Goodput / ((1 − loss) × capacity). */
  fractionOfLossFree: number;
  retransmitRatio: number;
  /** Queueing delay at the bottleneck seen by each data packet, ms: median and 95th percentile. */
  queueDelayMedian: number;
  queueDelayP95: number;
}

export function transfer(cc: CongestionAlgorithm, loss: number, bytes: number, seed = 1): TransferResult {
  const pair = new Pair({
    seed,
    link: { delay: ONE_WAY, rate: RATE, queue: BDP, loss },
    config: { congestion: cc, idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
  });
  pair.keepMessages = false;
  const delays: number[] = [];
  const bottleneck = pair.links[0];
  const admit = bottleneck.admit.bind(bottleneck);
  bottleneck.admit = (now, data) => {
    delays.push((bottleneck.queuedBytes(now) * 1000) / RATE);
    return admit(now, data);
  };
  queueBulk((d) => pair.a.send(d), bytes);
  pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes, 3_600_000);
  const seconds = pair.now / 1000;
  const goodput = bytes / seconds;
  delays.sort((x, y) => x - y);
  return {
    seconds,
    fraction: goodput / RATE,
    fractionOfLossFree: goodput / (RATE * (1 - loss)),
    retransmitRatio: pair.a.stats().bytesRetransmitted / bytes,
    queueDelayMedian: delays[Math.floor(delays.length / 2)] ?? 0,
    queueDelayP95: delays[Math.floor(delays.length * 0.95)] ?? 0,
  };
}

export interface SharingResult {
  /** Bytes each flow delivered in the measurement window. */
  bytes: number[];
  /** Each flow's share of the capacity in the window. */
  shares: number[];
  /** Jain's fairness index over the window: (Σx)² / (n·Σx²). */
  jain: number;
  /** Total goodput in the window / capacity. */
  utilisation: number;
}

/**
 * Flows with the given controllers share the bottleneck (the second starts `stagger` ms
 * later); returns what each delivered between `from` and `to` ms.
 */
export function share(ccs: CongestionAlgorithm[], from = 10_000, to = 20_000, stagger = 1000, seed = 1): SharingResult {
  const sim = new Flows();
  sim.keepMessages = false;
  const bottleneck = new LinkModel({ delay: ONE_WAY, rate: RATE, queue: BDP }, Rng.derive(seed, 'bottleneck'));
  const starts = ccs.map((_, i) => i * stagger);
  ccs.forEach((cc, i) => {
    const cores = makeCores(seed + i * 7, {
      config: { congestion: cc, idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
    });
    sim.add(cores, {
      forward: bottleneck,
      reverse: new LinkModel({ delay: ONE_WAY }, Rng.derive(seed, `ack-${i}`)),
    });
  });
  const total = (RATE * to) / 1000 + 1_000_000;
  const started = ccs.map(() => false);
  const startFlows = (): void => {
    sim.flows.forEach((flow, i) => {
      if (!started[i] && sim.now >= starts[i]!) {
        started[i] = true;
        queueBulk((d) => flow.sides[0].core.send(d), total);
      }
    });
  };
  startFlows();
  let atFrom: number[] = [];
  sim.runUntil(() => {
    startFlows();
    if (atFrom.length === 0 && sim.now >= from) atFrom = sim.flows.map((f) => f.sides[1].deliveredBytes);
    return sim.now >= to;
  }, to + 1000);
  const bytes = sim.flows.map((f, i) => f.sides[1].deliveredBytes - (atFrom[i] ?? 0));
  const capacity = (RATE * (to - from)) / 1000;
  const sum = bytes.reduce((a, b) => a + b, 0);
  const squares = bytes.reduce((a, b) => a + b * b, 0);
  return {
    bytes,
    shares: bytes.map((b) => b / capacity),
    jain: squares === 0 ? 0 : (sum * sum) / (bytes.length * squares),
    utilisation: sum / capacity,
  };
}

export interface HeadOfLineResult {
  /** One-way latency of the small messages sent while the bulk transfer ran, ms. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Small messages measured. */
  count: number;
  /** Fraction of them delivered within 1 RTT + 10 ms (the bound). */
  withinTarget: number;
  /** Bulk goodput over the measured interval / capacity. */
  bulkFraction: number;
}

/**
 * Head-of-line blocking (issue #12): on the 10 Mbit/s, 40 ms RTT bottleneck with `loss` random
 * loss both ways, side a uploads `bulkBytes` while it also sends a 100-byte message every 50 ms.
 * `separate`: the bulk goes on channel 1 with priority 1, the small messages on channel 0
 * (priority 0); otherwise everything shares channel 0. The small messages' one-way latency is
 * measured from their send to their delivery, for those sent from 1 s on while the bulk lasts.
 */
export function headOfLine(separate: boolean, bulkBytes: number, loss = 0.02, seed = 1, redundancy = 0): HeadOfLineResult {
  const pair = new Pair({
    seed,
    link: { delay: ONE_WAY, rate: RATE, queue: BDP, loss },
    config: { idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
  });
  pair.keepMessages = false;
  const bulkChannel = separate ? 1 : 0;
  if (separate) pair.a.setChannel(1, { priority: 1 });
  if (redundancy > 0) pair.a.setChannel(0, { redundancy });
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let bulkDone = -1;
  let bulkBytesAt1s = -1;
  pair.onMessage = (_flow, side, e, now) => {
    if (side !== 1) return;
    if (e.data.length === 100) {
      const i = e.data[0]! | (e.data[1]! << 8) | (e.data[2]! << 16);
      if (sentAt[i]! >= 1000 && bulkDone < 0) latencies.push(now - sentAt[i]!);
    }
  };
  queueBulk((d) => pair.a.send(d, { channel: bulkChannel }), bulkBytes);
  let next = 0;
  let index = 0;
  pair.runUntil(() => {
    const bulkDelivered = pair.sides[1].deliveredBytes - index * 100;
    if (bulkBytesAt1s < 0 && pair.now >= 1000) bulkBytesAt1s = bulkDelivered;
    if (bulkDone < 0 && bulkDelivered >= bulkBytes) bulkDone = pair.now;
    while (bulkDone < 0 && pair.now >= next) {
      const m = new Uint8Array(100);
      m[0] = index & 0xff;
      m[1] = (index >> 8) & 0xff;
      m[2] = (index >> 16) & 0xff;
      sentAt[index++] = pair.now;
      pair.a.send(m, { channel: 0 });
      next += 50;
    }
    return bulkDone >= 0;
  }, 3_600_000);
  latencies.sort((x, y) => x - y);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return {
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: latencies.at(-1) ?? NaN,
    count: latencies.length,
    withinTarget: latencies.filter((l) => l <= MIN_RTT + 10).length / latencies.length,
    bulkFraction: (bulkBytes - bulkBytesAt1s) / ((RATE * (bulkDone - 1000)) / 1000),
  };
}

/**
 * Weighted sharing (issue #12): two bulk channels of one priority with weights `weights`, on
 * the 10 Mbit/s bottleneck; each channel's share of the bytes delivered from `from` to `to` ms.
 */
export function weightedShare(weights: [number, number], from = 3000, to = 10_000, seed = 1): number[] {
  const pair = new Pair({
    seed,
    link: { delay: ONE_WAY, rate: RATE, queue: BDP },
    config: { idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 16 * 1024 * 1024 },
  });
  pair.keepMessages = false;
  pair.a.setChannel(1, { weight: weights[0] });
  pair.a.setChannel(2, { weight: weights[1] });
  const delivered = [0, 0, 0];
  const atFrom = [0, 0, 0];
  let marked = false;
  pair.onMessage = (_flow, side, e) => {
    if (side === 1) delivered[e.channel]! += e.data.length;
  };
  const total = (RATE * to) / 1000;
  queueBulk((d) => pair.a.send(d, { channel: 1 }), total);
  queueBulk((d) => pair.a.send(d, { channel: 2 }), total);
  pair.runUntil(() => {
    if (!marked && pair.now >= from) {
      marked = true;
      atFrom.splice(0, 3, ...delivered);
    }
    return pair.now >= to;
  }, to + 1000);
  const got = [delivered[1]! - atFrom[1]!, delivered[2]! - atFrom[2]!];
  const sum = got[0]! + got[1]!;
  return got.map((b) => b / sum);
}

/**
 * The impairment benchmark's path in virtual time (also bench/impair-sim.ts's): 10 ms each way,
 * a `rate` (60 MB/s by default) bottleneck with a 4 MB queue, `loss` both ways; side b's endpoint
 * budget `budgetB` if given. For bulk transfers: delivered message bodies are not kept.
 * `maxDatagramSize`: both sides' ceiling (the pair's 1,200 by default: no path-MTU discovery, so
 * a pure receiver sends nothing ack-eliciting and has no RTT sample; the endpoint's default of
 * 1,452 makes both sides probe, and the receiver measures its RTT from its probes' ACKs).
 */
export function impairedPair(
  seed: number,
  loss: number,
  { budgetB, maxDatagramSize = 1200, rate = 60e6 }: { budgetB?: BufferBudget; maxDatagramSize?: number; rate?: number } = {},
): Pair {
  const pair = new Pair({
    seed,
    link: { delay: 10, rate, queue: 4e6, loss },
    reverse: { delay: 10, loss },
    config: { idleTimeout: 0, keepAliveInterval: 0, maxDatagramSize },
    ...(budgetB !== undefined ? { budgetB } : {}),
  });
  pair.keepMessages = false;
  return pair;
}

