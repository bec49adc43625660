import type { CongestionAlgorithm } from '../../src/core/types.js';
import { LinkModel } from '../../src/testing/impairment.js';
import { Rng } from '../../src/testing/rng.js';
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
function queueBulk(send: (d: Uint8Array) => void, bytes: number): void {
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
