import { ConnectionCore } from '../../src/core/connection.js';
import type { CoreConfig, CoreEvent } from '../../src/core/types.js';
import { LinkModel, type Impairment } from '../../src/testing/impairment.js';
import { Rng } from '../../src/testing/rng.js';
import type { TransportParams } from '../../src/wire/types.js';

/**
 * Two sans-IO connections joined by a simulated link, on a virtual clock (quinn-proto's `Pair`,
 * h11's `ConnectionPair`). `step()` jumps to the next thing that happens — a datagram arriving
 * or a timer firing — so a run takes as long in CPU as it has events, not as in real time.
 */

/** A deterministic random source in [0, 1) for the engines (packet-number skips). */
export function prng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

/**
 * The link between the two sides, per direction: the test kit's own {@link Impairment} (the
 * same link model the simulator, LossySocket and the impairment proxy use).
 */
export type LinkConfig = Impairment;

/** 5 ms one way, nothing else. */
export const PERFECT_LINK: LinkConfig = { delay: 5 };

interface InFlight {
  at: number;
  seq: number;
  to: 0 | 1;
  data: Uint8Array;
}

export interface Side {
  core: ConnectionCore;
  events: CoreEvent[];
  received: Uint8Array[];
  closed: boolean;
  /** Release receive credit as soon as a message is delivered (an eager reader). */
  autoRelease: boolean;
}

export interface PairOptions {
  seed: number;
  link?: Partial<LinkConfig>;
  /** Link from b to a, when it differs. */
  reverse?: Partial<LinkConfig>;
  config?: Partial<CoreConfig>;
  configB?: Partial<CoreConfig>;
  initialPacketNumber?: [number, number];
  initialTsn?: [number, number];
  receiveWindowFragments?: [number, number];
  /** Called after every step with both cores (invariant checks). */
  check?: (pair: Pair) => void;
}

export class Pair {
  now = 0;
  readonly sides: [Side, Side];
  /** links[i] carries datagrams sent by side i. */
  readonly links: [LinkModel, LinkModel];
  private inflight: InFlight[] = [];
  private seq = 0;
  steps = 0;

  constructor(private readonly options: PairOptions) {
    const forward = { ...PERFECT_LINK, ...options.link };
    this.links = [
      new LinkModel(forward, Rng.derive(options.seed, 'a->b')),
      new LinkModel({ ...forward, ...options.reverse }, Rng.derive(options.seed, 'b->a')),
    ];
    const pn = options.initialPacketNumber ?? [1000, 5000];
    const tsn = options.initialTsn ?? [77, 99];
    const win = options.receiveWindowFragments ?? [
      ConnectionCore.windowFragments(4 * 1024 * 1024, 1200),
      ConnectionCore.windowFragments(4 * 1024 * 1024, 1200),
    ];
    const params = (i: 0 | 1): TransportParams => ({
      maxDatagramSize: options.config?.maxDatagramSize ?? 1200,
      initialWindow: win[i],
      idleTimeout: options.config?.idleTimeout ?? 30_000,
      initialPacketNumber: pn[i] >>> 0,
      initialTsn: tsn[i] >>> 0,
      resetToken: new Uint8Array(16),
    });
    const make = (i: 0 | 1): ConnectionCore =>
      new ConnectionCore({
        role: i === 0 ? 'client' : 'server',
        localCid: i === 0 ? 0xaaaan : 0xbbbbn,
        remoteCid: i === 0 ? 0xbbbbn : 0xaaaan,
        localParams: params(i),
        remoteParams: params(i === 0 ? 1 : 0),
        config: { random: prng(options.seed + i + 1), ...options.config, ...(i === 1 ? options.configB : {}) },
        now: 0,
      });
    // Full packet numbers / TSNs start at the given values (they may be near 2^32 to test wrap).
    this.sides = [
      { core: make(0), events: [], received: [], closed: false, autoRelease: true },
      { core: make(1), events: [], received: [], closed: false, autoRelease: true },
    ];
  }

  get a(): ConnectionCore {
    return this.sides[0].core;
  }

  get b(): ConnectionCore {
    return this.sides[1].core;
  }

  /** Let both sides send what they can now, and collect their events. */
  flush(): void {
    for (const i of [0, 1] as const) {
      const side = this.sides[i];
      for (let n = 0; n < 100_000; n++) {
        const d = side.core.pollTransmit(this.now);
        if (d === null) break;
        this.transmit(i === 0 ? 1 : 0, d);
      }
      for (let e = side.core.pollEvent(); e !== null; e = side.core.pollEvent()) {
        side.events.push(e);
        if (e.type === 'message') {
          side.received.push(e.data);
          if (side.autoRelease) side.core.release(e.credit);
        }
        if (e.type === 'closed') side.closed = true;
      }
    }
  }

  private transmit(to: 0 | 1, data: Uint8Array): void {
    for (const d of this.links[to === 1 ? 0 : 1].admit(this.now, data)) {
      this.inflight.push({ at: d.at, seq: this.seq++, to, data: d.data });
    }
  }

  /** Advance to the next event and process it. Returns false when nothing will ever happen. */
  step(): boolean {
    this.flush();
    let next = Infinity;
    let index = -1;
    for (let i = 0; i < this.inflight.length; i++) {
      const f = this.inflight[i]!;
      if (f.at < next || (f.at === next && index >= 0 && f.seq < this.inflight[index]!.seq)) {
        next = f.at;
        index = i;
      }
    }
    const timers = [this.a.pollTimeout(), this.b.pollTimeout()];
    let timerSide = -1;
    for (const i of [0, 1]) {
      const t = timers[i];
      if (t !== null && t !== undefined && t < next) {
        next = t;
        timerSide = i;
      }
    }
    if (next === Infinity) return false;
    this.now = Math.max(this.now, next);
    this.steps++;
    if (timerSide >= 0) {
      this.sides[timerSide]!.core.handleTimeout(this.now);
    } else {
      const f = this.inflight[index]!;
      this.inflight[index] = this.inflight[this.inflight.length - 1]!;
      this.inflight.pop();
      this.sides[f.to].core.handleDatagram(this.now, f.data);
    }
    this.flush();
    this.options.check?.(this);
    return true;
  }

  /** Step until `done()` holds; throws if it does not within `limitMs` of virtual time. */
  runUntil(done: () => boolean, limitMs = 600_000): void {
    const deadline = this.now + limitMs;
    let stuckAt = -1;
    let stuckSteps = 0;
    while (!done()) {
      if (this.now === stuckAt) {
        if (++stuckSteps > 100_000) throw new Error(`time stopped at ${this.now} ms: a timer that never clears`);
      } else {
        stuckAt = this.now;
        stuckSteps = 0;
      }
      if (this.now > deadline || !this.step()) {
        throw new Error(`not done after ${this.now} ms of virtual time (${this.steps} steps)`);
      }
    }
  }
}
