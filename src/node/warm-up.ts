/**
 * The engine's JIT warm-up (issue 11). V8 compiles a function with TurboFan only after it has run
 * a while (about 3 + bytecode/150 "ticks" of ~130 KB of its own bytecode each), so a per-packet
 * function that runs a few hundred bytes per datagram is compiled thousands of packets into a
 * connection's life, and each compile job takes the CPU from the packets of that moment
 * (bench/analysis.md: 60–70 TurboFan jobs inside the ping-pong benchmark's window, against ~17
 * for udx-native, whose engine is native code).
 *
 * So, once per process, the first endpoint drives two engines of its own against each other in
 * memory, on a virtual clock, before it opens for traffic: a handshake, then request/response
 * trips over loopback-like delays. No socket, no timer, nothing leaves the process; the engines
 * are dropped at the end. What stays is V8's type feedback and compiled code for the engine's
 * functions, so an application's first thousands of packets run compiled code instead of waiting
 * for the compiler.
 *
 * The sans-IO core makes this faithful: it is the same code fed the same kinds of values as in
 * use (datagrams of node:dgram's making, times as fractional milliseconds of the real clock, the
 * endpoint's own configuration, a trace target of the endpoint's class), so the feedback matches
 * what real traffic brings and the compiled code is not thrown away at the first real packet.
 *
 * Request/response only: a one-way phase (2 MiB of 64 KiB messages over a rated, lossy link) was
 * tried and dropped, since the feedback it left made a later bulk receiver slower in its steady
 * state (second-half CPU 7.2–7.6 ms/MB against 5.7–5.8 without a warm-up; bench/analysis.md,
 * stop 34), while request/response alone leaves bulk as fast as without (or faster).
 */
import { EndpointCore, type EndpointConnection, type EndpointCoreConfig, type EndpointEvent } from '../core/endpoint.js';
import type { TraceTarget } from '../core/trace.js';
import type { CryptoSuite } from '../core/secure/suite.js';
import { Rng } from '../testing/rng.js';
import { createConnectionCore, receivedBuffer } from './engine.js';

/** What the warm-up did (`warmUpReport()`, for tests and diagnostics). */
export interface WarmUpReport {
  /** Wall time it took, ms. */
  ms: number;
  /** Request/response round trips completed. */
  trips: number;
}

/** Round trips of the request/response phase: enough for the per-trip functions to reach TurboFan. */
export const WARM_UP_TRIPS = 6_000;

// Addresses as node:dgram gives them (a string made at run time, not an internalised literal: the
// engine's address checks otherwise deoptimise at the first real datagram, "wrong instance type").
const SERVER = ['127', '0', '0', '2'].join('.');
const CLIENT = ['127', '0', '0', '3'].join('.');
const PORT = 9;
const REQUEST = 64;

let report: WarmUpReport | null = null;

/** The warm-up this process ran, or null. */
export function warmUpReport(): WarmUpReport | null {
  return report;
}

export interface WarmUpParts {
  config: EndpointCoreConfig;
  crypto: CryptoSuite;
  trace: TraceTarget;
  /** The real clock (clock.ts `realClock.now`): the engines start at its time, in its units. */
  now: () => number;
}

/** Once per process: the first call runs the warm-up, later calls return at once. */
export function warmUpOnce(parts: WarmUpParts): void {
  if (report !== null) return;
  const out: WarmUpReport = { ms: 0, trips: 0 };
  report = out;
  const start = parts.now();
  try {
    new WarmUpNet(parts, start, out).run();
  } catch {
    // A warm-up that fails costs only its time: the endpoint works the same without it.
  }
  out.ms = parts.now() - start;
}

/** A copy of `data` as node:dgram hands a datagram over (engine.ts `receivedBuffer`). */
function received(data: Uint8Array): Uint8Array {
  const copy = receivedBuffer(data.length);
  copy.set(data);
  return copy;
}

interface InFlight {
  at: number;
  data: Uint8Array;
}

/** One direction of the link: FIFO, each datagram after a delay. */
class Direction {
  readonly queue: InFlight[] = [];
  head = 0;
  last = 0;

  constructor(
    readonly from: EndpointCore,
    readonly to: EndpointCore,
    readonly fromAddress: string,
  ) {}

  next(): number {
    return this.head < this.queue.length ? this.queue[this.head]!.at : Infinity;
  }
}

class WarmUpNet {
  private now: number;
  private readonly rng = new Rng(0x5eed);
  private readonly client: EndpointCore;
  private readonly server: EndpointCore;
  private readonly up: Direction;
  private readonly down: Direction;
  private clientConn: EndpointConnection | null = null;
  private serverConn: EndpointConnection | null = null;
  private replies = 0;
  /** Link: one-way delay, ms (drawn per trip). */
  private delay = 0.02;

  constructor(
    parts: WarmUpParts,
    start: number,
    private readonly out: WarmUpReport,
  ) {
    this.now = start;
    const randomBytes = (n: number): Uint8Array => this.rng.bytes(n);
    const common = { randomBytes, createConnection: createConnectionCore, crypto: parts.crypto, trace: parts.trace, now: start };
    this.server = new EndpointCore({ ...common, config: { ...parts.config, acceptConnections: true } });
    this.client = new EndpointCore({ ...common, config: { ...parts.config, acceptConnections: false } });
    this.up = new Direction(this.client, this.server, CLIENT);
    this.down = new Direction(this.server, this.client, SERVER);
  }

  run(): void {
    this.client.connect(this.now, SERVER, PORT);
    this.until(() => this.clientConn !== null && this.serverConn !== null, 2_000);
    const conn = this.clientConn;
    if (conn === null || this.serverConn === null) return;
    // Request/response over loopback-like delays (20–50 µs one way).
    const request = Buffer.alloc(REQUEST, 0x70);
    for (let trip = 0; trip < WARM_UP_TRIPS; trip++) {
      this.delay = 0.02 + this.rng.next() * 0.03;
      const want = this.replies + 1;
      conn.core.send(request, 'ordered');
      this.client.touch(conn);
      this.until(() => this.replies >= want, 500);
      if (this.replies < want) return;
      this.out.trips++;
    }
    this.client.destroy(this.now);
    this.server.destroy(this.now);
  }

  /** Run the network until `done()` or `budget` ms of virtual time have passed. */
  private until(done: () => boolean, budget: number): void {
    const end = this.now + budget;
    this.settle();
    for (let step = 0; step < 1_000_000 && !done(); step++) {
      let next = Math.min(this.up.next(), this.down.next());
      const tc = this.client.pollTimeout();
      const ts = this.server.pollTimeout();
      if (tc !== null && tc < next) next = tc;
      if (ts !== null && ts < next) next = ts;
      if (next > end) return;
      if (next > this.now) this.now = next;
      this.deliver(this.up);
      this.deliver(this.down);
      if (tc !== null && tc <= this.now) this.client.handleTimeout(this.now);
      if (ts !== null && ts <= this.now) this.server.handleTimeout(this.now);
      this.settle();
    }
  }

  private deliver(d: Direction): void {
    let any = false;
    while (d.head < d.queue.length && d.queue[d.head]!.at <= this.now) {
      const f = d.queue[d.head++]!;
      d.to.handleDatagram(this.now, f.data, d.fromAddress, PORT);
      any = true;
    }
    if (d.head === d.queue.length) {
      d.queue.length = 0;
      d.head = 0;
    }
    if (any) d.to.endBatch();
  }

  /** Everything both sides want sent goes on the link; their events are handled; until quiet. */
  private settle(): void {
    for (let round = 0; round < 100; round++) {
      const a = this.send(this.up);
      const b = this.send(this.down);
      const c = this.events(this.client);
      const s = this.events(this.server);
      if (!a && !b && !c && !s) return;
    }
  }

  private send(d: Direction): boolean {
    let any = false;
    let tx;
    while ((tx = d.from.pollTransmit(this.now, true)) !== null) {
      any = true;
      const data = received(tx.data);
      d.from.transmitted(tx.data);
      // In order, as loopback delivers: never before the previous datagram of this direction.
      const at = Math.max(this.now + this.delay, d.last);
      d.last = at;
      d.queue.push({ at, data });
    }
    return any;
  }

  private events(side: EndpointCore): boolean {
    let any = false;
    let ev: EndpointEvent | null;
    while ((ev = side.nextEvent()) !== null) {
      any = true;
      if (ev.type === 'accepted') this.serverConn = ev.connection;
      else if (ev.type === 'connected') this.clientConn = ev.connection;
      else if (ev.type === 'connection-event' && ev.event.type === 'message') {
        const { connection, event } = ev;
        // Read at once, as an application with a 'message' listener does.
        if (event.credit > 0) connection.core.release(event.credit, event.delivery, event.channel);
        if (side === this.server) connection.core.send(event.data, 'ordered');
        else this.replies++;
        side.touch(connection);
      }
    }
    return any;
  }
}
