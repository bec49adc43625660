import type { BufferBudget } from '../../src/core/buffer-budget.js';
import { ConnectionCore } from '../../src/core/connection.js';
import type { CoreConfig, CoreEvent } from '../../src/core/types.js';
import { LinkModel, type Impairment } from '../../src/testing/impairment.js';
import { Rng } from '../../src/testing/rng.js';
import type { TraceRecorder } from '../../src/testing/trace-recorder.js';
import type { TransportParams } from '../../src/wire/types.js';

/**
 * Sans-IO connections joined by simulated links, on a virtual clock (quinn-proto's `Pair`,
 * h11's `ConnectionPair`). `step()` jumps to the next thing that happens — a datagram arriving
 * or a timer firing — so a run costs as much CPU as it has events, not as much as it lasts.
 *
 * `Flows` runs any number of connection pairs whose links may be shared (a dumbbell: every
 * flow's data crosses one bottleneck `LinkModel`); `Pair` is the one-flow case.
 */

/** A deterministic random source in [0, 1) for the engines (packet-number skips). */
export function prng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

/**
 * A link, per direction: the test kit's own {@link Impairment} (the same link model the
 * simulator, LossySocket and the impairment proxy use).
 */
export type LinkConfig = Impairment;

/** 5 ms one way, nothing else. */
export const PERFECT_LINK: LinkConfig = { delay: 5 };

export interface Side {
  core: ConnectionCore;
  events: CoreEvent[];
  received: Uint8Array[];
  closed: boolean;
  /** Release receive credit as soon as a message is delivered (an eager reader). */
  autoRelease: boolean;
  /** Message bytes delivered so far. */
  deliveredBytes: number;
  /**
   * Where this side's datagrams come from, as the other side sees them (CoreOptions.addresses);
   * a test may change it (a NAT rebinding: the other side validates the new path). Undefined:
   * the engines track no addresses.
   */
  address: string | undefined;
  port: number;
}

export interface CoreOptions {
  config?: Partial<CoreConfig>;
  configB?: Partial<CoreConfig>;
  initialPacketNumber?: [number, number];
  initialTsn?: [number, number];
  receiveWindowFragments?: [number, number];
  /** Record both engines' traces (qlog) here. */
  trace?: TraceRecorder | null;
  /** Side b's endpoint byte budget (maxBufferedBytes), as an endpoint would share it. */
  budgetB?: BufferBudget;
  /** The engines know each other's address ('10.0.0.1':5000 is a, '10.0.0.2':4000 b) and validate a new one (Side.address). */
  addresses?: boolean;
}

/** The addresses of sides a and b with CoreOptions.addresses. */
export const PAIR_ADDRESSES = [
  { address: '10.0.0.1', port: 5000 },
  { address: '10.0.0.2', port: 4000 },
] as const;

export interface FlowLinks {
  /** Carries what side a sends. */
  forward: LinkModel;
  /** Carries what side b sends. */
  reverse: LinkModel;
}

interface InFlight {
  at: number;
  seq: number;
  flow: number;
  to: 0 | 1;
  data: Uint8Array;
}

let nextCid = 0x1000n;

/** Make the two engines of one connection, as a handshake would have configured them. */
export function makeCores(seed: number, o: CoreOptions, now = 0): [ConnectionCore, ConnectionCore] {
  const pn = o.initialPacketNumber ?? [1000, 5000];
  const tsn = o.initialTsn ?? [77, 99];
  const mds = o.config?.maxDatagramSize ?? 1200;
  const window = ConnectionCore.windowFragments(o.config?.receiveWindow ?? 4 * 1024 * 1024, mds);
  const win = o.receiveWindowFragments ?? [window, window];
  const params = (i: 0 | 1): TransportParams => ({
    maxDatagramSize: mds,
    initialWindow: win[i],
    idleTimeout: o.config?.idleTimeout ?? 30_000,
    initialPacketNumber: pn[i] >>> 0,
    initialTsn: tsn[i] >>> 0,
    resetToken: new Uint8Array(16),
  });
  const cids = [nextCid++, nextCid++] as const;
  const make = (i: 0 | 1): ConnectionCore =>
    new ConnectionCore({
      role: i === 0 ? 'client' : 'server',
      localCid: cids[i],
      remoteCid: cids[i === 0 ? 1 : 0],
      localParams: params(i),
      remoteParams: params(i === 0 ? 1 : 0),
      config: { random: prng(seed + i + 1), ...o.config, ...(i === 1 ? o.configB : {}) },
      now,
      ...(i === 1 && o.budgetB !== undefined ? { budget: o.budgetB } : {}),
      trace: o.trace ? o.trace.sink(i === 0 ? 'client' : 'server', { localCid: cids[i], remoteCid: cids[i === 0 ? 1 : 0], now }) : null,
      ...(o.addresses === true ? { ...PAIR_ADDRESSES[i === 0 ? 1 : 0], randomBytes: seededBytes(seed + 10 + i) } : {}),
    });
  return [make(0), make(1)];
}

/** Deterministic bytes for PATH_CHALLENGE data. */
function seededBytes(seed: number): (n: number) => Uint8Array {
  const random = prng(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

function side(core: ConnectionCore, i: 0 | 1): Side {
  // The engine knows its peer's address: it was made with one (CoreOptions.addresses).
  const known = core.remoteAddress !== undefined;
  return { core, events: [], received: [], closed: false, autoRelease: true, deliveredBytes: 0, address: known ? PAIR_ADDRESSES[i].address : undefined, port: known ? PAIR_ADDRESSES[i].port : 0 };
}

export class Flows {
  now = 0;
  steps = 0;
  readonly flows: { sides: [Side, Side]; links: FlowLinks }[] = [];
  /** Called after every step (invariant checks). */
  check: ((sim: Flows) => void) | undefined;
  /** Drop delivered message bodies instead of keeping them in `received` (long benchmarks). */
  keepMessages = true;
  /** Called with every message event as it is delivered (flow index, side 0 = a, 1 = b). */
  onMessage: ((flow: number, side: 0 | 1, event: Extract<CoreEvent, { type: 'message' }>, now: number) => void) | undefined;
  private readonly heap: InFlight[] = [];
  private seq = 0;

  add(cores: [ConnectionCore, ConnectionCore], links: FlowLinks): number {
    this.flows.push({ sides: [side(cores[0], 0), side(cores[1], 1)], links });
    return this.flows.length - 1;
  }

  /** Let every side send what it can now, and collect its events. */
  flush(): void {
    for (let f = 0; f < this.flows.length; f++) {
      const flow = this.flows[f]!;
      for (const i of [0, 1] as const) {
        const s = flow.sides[i];
        const link = i === 0 ? flow.links.forward : flow.links.reverse;
        for (let n = 0; n < 100_000; n++) {
          const d = s.core.pollTransmit(this.now);
          if (d === null) break;
          for (const out of link.admit(this.now, d)) {
            this.push({ at: out.at, seq: this.seq++, flow: f, to: i === 0 ? 1 : 0, data: out.data });
          }
        }
        for (let e = s.core.pollEvent(); e !== null; e = s.core.pollEvent()) {
          if (e.type === 'message') {
            this.onMessage?.(f, i, e, this.now);
            s.deliveredBytes += e.data.length;
            if (this.keepMessages) s.received.push(e.data);
            if (s.autoRelease) s.core.release(e.credit, e.delivery, e.channel);
            if (this.keepMessages) s.events.push(e);
          } else {
            s.events.push(e);
          }
          if (e.type === 'closed') s.closed = true;
        }
      }
    }
  }

  /** Advance to the next event and process it. Returns false when nothing will ever happen. */
  step(): boolean {
    this.flush();
    let next = this.heap.length > 0 ? this.heap[0]!.at : Infinity;
    let timer: Side | null = null;
    for (const flow of this.flows) {
      for (const s of flow.sides) {
        const t = s.core.pollTimeout();
        if (t !== null && t < next) {
          next = t;
          timer = s;
        }
      }
    }
    if (next === Infinity) return false;
    this.now = Math.max(this.now, next);
    this.steps++;
    if (timer !== null) {
      timer.core.handleTimeout(this.now);
    } else {
      const d = this.pop();
      const sides = this.flows[d.flow]!.sides;
      const from = sides[d.to === 0 ? 1 : 0];
      if (from.address === undefined) sides[d.to].core.handleDatagram(this.now, d.data);
      else sides[d.to].core.handleDatagram(this.now, d.data, false, from.address, from.port);
    }
    this.flush();
    this.check?.(this);
    return true;
  }

  /** Process everything due at or before `t` (datagrams arriving, timers), then move the clock to `t`. */
  runTo(t: number): void {
    for (;;) {
      this.flush();
      let next = this.heap.length > 0 ? this.heap[0]!.at : Infinity;
      for (const flow of this.flows) {
        for (const s of flow.sides) {
          const timeout = s.core.pollTimeout();
          if (timeout !== null && timeout < next) next = timeout;
        }
      }
      if (next > t) break;
      this.step();
    }
    this.now = Math.max(this.now, t);
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

  // A binary min-heap on (at, seq): deterministic order for simultaneous arrivals.
  private push(x: InFlight): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): InFlight {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export interface PairOptions extends CoreOptions {
  seed: number;
  link?: Partial<LinkConfig>;
  /** Link from b to a, when it differs. */
  reverse?: Partial<LinkConfig>;
  /** Called after every step with the pair (invariant checks). */
  check?: (pair: Pair) => void;
}

/** One connection between two engines: side a (client) and side b (server). */
export class Pair extends Flows {
  readonly sides: [Side, Side];
  /** links[0] carries what a sends, links[1] what b sends. */
  readonly links: [LinkModel, LinkModel];

  constructor(options: PairOptions) {
    super();
    const forward = { ...PERFECT_LINK, ...options.link };
    this.links = [
      new LinkModel(forward, Rng.derive(options.seed, 'a->b')),
      new LinkModel({ ...forward, ...options.reverse }, Rng.derive(options.seed, 'b->a')),
    ];
    this.add(makeCores(options.seed, options), { forward: this.links[0], reverse: this.links[1] });
    this.sides = this.flows[0]!.sides;
    const check = options.check;
    if (check) this.check = () => check(this);
  }

  get a(): ConnectionCore {
    return this.sides[0].core;
  }

  get b(): ConnectionCore {
    return this.sides[1].core;
  }
}
