import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { Rng } from './rng.js';

/**
 * Gilbert-Elliott burst loss: a two-state Markov chain stepped once per datagram. In the good
 * state the plain `loss` probability applies; in the bad state `loss` (below) applies.
 */
export interface BurstLoss {
  /** Probability of moving good → bad at each datagram. */
  enter: number;
  /** Probability of moving bad → good at each datagram (mean burst length = 1 / exit). */
  exit: number;
  /** Loss probability while in the bad state. Default 1. */
  loss?: number;
}

/**
 * When the link is dead. Either periodic — passes traffic for `up` ms, then drops everything for
 * `down` ms, and so on — or explicit `windows` of [from, to) in ms. Both are measured from the
 * link model's `start`: the simulator's start time, or when a LossySocket or ImpairProxy was created.
 */
export type BlackholeSchedule =
  | { up: number; down: number }
  | { windows: ReadonlyArray<readonly [from: number, to: number]> };

/**
 * How a link mistreats datagrams. Every field is optional; `{}` is a perfect link. One model
 * ({@link LinkModel}) interprets it for the simulator, {@link LossySocket} and the impairment
 * proxy alike. Steps, in order: MTU, blackhole, loss (plain or burst), bandwidth/queue, delay
 * and jitter, reordering, corruption, duplication.
 */
export interface Impairment {
  /** Independent loss probability per datagram (in the good state when `burst` is set). */
  loss?: number;
  /** Gilbert-Elliott burst loss on top of `loss`. */
  burst?: BurstLoss;
  /** Probability that a delivered datagram arrives twice (the copy right after it). */
  duplicate?: number;
  /** Probability that a datagram is held back by `reorderDelay` ms, letting later ones pass. */
  reorder?: number;
  /** Extra delay (ms) of a reordered datagram. Default 10. */
  reorderDelay?: number;
  /** Probability that a datagram arrives with 1–3 bits flipped (in a copy). */
  corrupt?: number;
  /** One-way propagation delay in ms. Default 0. */
  delay?: number;
  /** Each datagram's delay varies uniformly within ±jitter ms (never below 0). */
  jitter?: number;
  /** Keep FIFO order despite jitter (a datagram never overtakes an earlier one). */
  preserveOrder?: boolean;
  /** Bottleneck bandwidth in bytes per second (datagrams are serialised one after another). */
  rate?: number;
  /** Bytes the bottleneck queue holds (only with `rate`); a datagram that does not fit is dropped. */
  queue?: number;
  /** Periods when the link drops everything. */
  blackhole?: BlackholeSchedule;
  /**
   * Largest datagram the path carries, bytes (UDP payload): larger ones are silently dropped, as
   * a router drops a packet with DF set that does not fit its next hop. Default: no limit.
   */
  mtu?: number;
}

/** One datagram leaving the link: deliver `data` at time `at` (same clock as `admit`'s `now`). */
export interface LinkDelivery {
  at: number;
  /** The sender's own buffer when unchanged (do not mutate it), or a corrupted copy. */
  data: Uint8Array;
}

/** What a link did, since it was created. Deliveries include duplicates. */
export interface LinkCounters {
  /** Datagrams offered to the link. */
  sent: number;
  sentBytes: number;
  /** Datagrams scheduled for delivery (duplicates included). */
  delivered: number;
  deliveredBytes: number;
  /** All drops: `droppedLoss + droppedQueue + droppedBlackhole + droppedMtu`. */
  dropped: number;
  droppedLoss: number;
  droppedQueue: number;
  droppedBlackhole: number;
  /** Datagrams larger than the link's `mtu`. */
  droppedMtu: number;
  duplicated: number;
  corrupted: number;
  /** Datagrams held back by `reorder`. */
  reordered: number;
  /** Highest number of bytes ever waiting in the bottleneck queue. */
  queuePeakBytes: number;
}

/** Fresh zeroed counters. */
export function emptyCounters(): LinkCounters {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    dropped: 0,
    droppedLoss: 0,
    droppedQueue: 0,
    droppedBlackhole: 0,
    droppedMtu: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    queuePeakBytes: 0,
  };
}

const NONE: readonly LinkDelivery[] = Object.freeze([]);
const DEFAULT_REORDER_DELAY = 10;

function checkProbability(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new InvalidArgTypeError(`${name} must be a number`);
  if (!(value >= 0 && value <= 1)) {
    throw new InvalidArgValueError(`${name} must be a probability in [0, 1], got ${value}`);
  }
}

function checkNonNegative(name: string, value: unknown, positive = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new InvalidArgTypeError(`${name} must be a number`);
  if (!(Number.isFinite(value) && (positive ? value > 0 : value >= 0))) {
    throw new InvalidArgValueError(`${name} must be a ${positive ? 'positive' : 'non-negative'} finite number, got ${value}`);
  }
}

/** Throws `InvalidArgTypeError`/`InvalidArgValueError` when `imp` is not a valid {@link Impairment}. */
export function validateImpairment(imp: Impairment): void {
  if (imp === null || typeof imp !== 'object') {
    throw new InvalidArgTypeError('impairment must be an object');
  }
  checkProbability('loss', imp.loss);
  checkProbability('duplicate', imp.duplicate);
  checkProbability('reorder', imp.reorder);
  checkProbability('corrupt', imp.corrupt);
  checkNonNegative('reorderDelay', imp.reorderDelay);
  checkNonNegative('delay', imp.delay);
  checkNonNegative('jitter', imp.jitter);
  checkNonNegative('rate', imp.rate, true);
  checkNonNegative('queue', imp.queue);
  checkNonNegative('mtu', imp.mtu, true);
  if (imp.burst !== undefined) {
    if (imp.burst === null || typeof imp.burst !== 'object') throw new InvalidArgTypeError('burst must be an object');
    checkProbability('burst.enter', imp.burst.enter);
    checkProbability('burst.exit', imp.burst.exit);
    checkProbability('burst.loss', imp.burst.loss);
    if (imp.burst.enter === undefined || imp.burst.exit === undefined) {
      throw new InvalidArgValueError('burst needs both enter and exit probabilities');
    }
  }
  const bh = imp.blackhole;
  if (bh !== undefined) {
    if (bh === null || typeof bh !== 'object') throw new InvalidArgTypeError('blackhole must be an object');
    if ('windows' in bh) {
      if (!Array.isArray(bh.windows)) throw new InvalidArgTypeError('blackhole.windows must be an array');
      for (const w of bh.windows) {
        if (!Array.isArray(w) || w.length !== 2 || !(w[0] <= w[1])) {
          throw new InvalidArgValueError('each blackhole window must be [from, to] with from <= to');
        }
      }
    } else {
      checkNonNegative('blackhole.up', bh.up);
      checkNonNegative('blackhole.down', bh.down);
      if (typeof bh.up !== 'number' || typeof bh.down !== 'number' || bh.up + bh.down <= 0) {
        throw new InvalidArgValueError('blackhole needs up and down durations (ms), not both 0');
      }
    }
  }
}

/**
 * The one link model: a sans-IO, deterministic description of what happens to each datagram
 * sent over one direction of a path. Feed it datagrams with {@link LinkModel.admit}; it answers
 * when (if ever) each copy arrives. All randomness comes from the {@link Rng} it was given, so
 * the same seed and the same inputs give the same outputs.
 *
 * @example
 * ```ts
 * const link = new LinkModel({ loss: 0.05, delay: 20, jitter: 5 }, new Rng(1));
 * for (const { at, data } of link.admit(now, datagram)) scheduleDelivery(at, data);
 * link.counters.droppedLoss; // how many were lost so far
 * ```
 */
export class LinkModel {
  /** Running totals; read them at any time. */
  readonly counters: LinkCounters = emptyCounters();
  private imp: Impairment = {};
  private readonly rng: Rng;
  private start: number | undefined;
  private badState = false;
  /** When the bottleneck finishes sending everything already queued. */
  private busyUntil = -Infinity;
  /** Latest arrival so far, for `preserveOrder`. */
  private lastArrival = -Infinity;

  /**
   * @param impairment what the link does (validated; throws on bad values)
   * @param rng the randomness source, or a seed
   * @param start time origin of the blackhole schedule; default: `now` of the first `admit`
   */
  constructor(impairment: Impairment, rng: Rng | number, start?: number) {
    this.rng = typeof rng === 'number' ? new Rng(rng) : rng;
    this.start = start;
    this.configure(impairment);
  }

  /** The impairment in force. */
  get impairment(): Readonly<Impairment> {
    return this.imp;
  }

  /**
   * Change the impairment from now on. Counters, the queue backlog and the burst state carry
   * over, as on a real link whose conditions change.
   */
  configure(impairment: Impairment): void {
    validateImpairment(impairment);
    this.imp = { ...impairment };
  }

  /** Bytes waiting in the bottleneck queue at time `now` (0 without a `rate`). */
  queuedBytes(now: number): number {
    const rate = this.imp.rate;
    if (rate === undefined || this.busyUntil <= now) return 0;
    return ((this.busyUntil - now) * rate) / 1000;
  }

  /**
   * Offer one datagram to the link at time `now`. Returns the copies that come out the other
   * end (none, one, or two when duplicated), each with its arrival time ≥ `now`. The returned
   * `data` is the caller's buffer when untouched — never mutated — or a fresh corrupted copy.
   */
  admit(now: number, data: Uint8Array): readonly LinkDelivery[] {
    const imp = this.imp;
    const c = this.counters;
    const size = data.byteLength;
    c.sent++;
    c.sentBytes += size;
    if (this.start === undefined) this.start = now;

    if (imp.mtu !== undefined && size > imp.mtu) {
      c.dropped++;
      c.droppedMtu++;
      return NONE;
    }
    if (imp.blackhole !== undefined && this.inBlackhole(now - this.start, imp.blackhole)) {
      c.dropped++;
      c.droppedBlackhole++;
      return NONE;
    }
    if (this.lose(imp)) {
      c.dropped++;
      c.droppedLoss++;
      return NONE;
    }

    let departure = now;
    if (imp.rate !== undefined) {
      const backlog = this.queuedBytes(now);
      if (imp.queue !== undefined && backlog + size > imp.queue) {
        c.dropped++;
        c.droppedQueue++;
        return NONE;
      }
      if (backlog + size > c.queuePeakBytes) c.queuePeakBytes = backlog + size;
      departure = Math.max(now, this.busyUntil) + (size * 1000) / imp.rate;
      this.busyUntil = departure;
    }

    let at = departure + (imp.delay ?? 0);
    if (imp.jitter !== undefined && imp.jitter > 0) {
      at = Math.max(departure, at + imp.jitter * (2 * this.rng.next() - 1));
    }
    if (imp.reorder !== undefined && this.rng.bool(imp.reorder)) {
      // Held back on purpose: it does not take part in FIFO ordering, or it could not be passed.
      c.reordered++;
      at += imp.reorderDelay ?? DEFAULT_REORDER_DELAY;
    } else if (imp.preserveOrder === true) {
      if (at < this.lastArrival) at = this.lastArrival;
      this.lastArrival = at;
    }

    let out = data;
    if (imp.corrupt !== undefined && size > 0 && this.rng.bool(imp.corrupt)) {
      out = this.corruptCopy(data);
      c.corrupted++;
    }

    c.delivered++;
    c.deliveredBytes += size;
    if (imp.duplicate !== undefined && this.rng.bool(imp.duplicate)) {
      c.duplicated++;
      c.delivered++;
      c.deliveredBytes += size;
      // The copy has a buffer of its own: a receiver may use what it is given in place
      // (an encrypted connection opens a packet where it lies), which must not touch the twin.
      return [
        { at, data: out },
        { at, data: Uint8Array.prototype.slice.call(out) },
      ];
    }
    return [{ at, data: out }];
  }

  /** Step the Gilbert-Elliott chain (if any) and decide this datagram's loss. */
  private lose(imp: Impairment): boolean {
    const burst = imp.burst;
    if (burst !== undefined) {
      this.badState = this.badState ? !this.rng.bool(burst.exit) : this.rng.bool(burst.enter);
      if (this.badState) return this.rng.bool(burst.loss ?? 1);
    }
    return imp.loss !== undefined && this.rng.bool(imp.loss);
  }

  private inBlackhole(t: number, bh: BlackholeSchedule): boolean {
    if ('windows' in bh) {
      for (const [from, to] of bh.windows) if (t >= from && t < to) return true;
      return false;
    }
    const period = bh.up + bh.down;
    return t % period >= bh.up;
  }

  /** A copy with 1–3 distinct bits flipped: the sender's bytes are never touched. */
  private corruptCopy(data: Uint8Array): Uint8Array {
    const copy = new Uint8Array(data);
    const bits = copy.length * 8;
    const flips = Math.min(bits, 1 + this.rng.int(3));
    const chosen: number[] = [];
    while (chosen.length < flips) {
      const bit = this.rng.int(bits);
      if (chosen.includes(bit)) continue;
      chosen.push(bit);
      copy[bit >> 3]! ^= 1 << (bit & 7);
    }
    return copy;
  }
}
