import { EventEmitter } from 'node:events';
import type { DatagramSocket, RemoteInfo, SocketAddress } from '../node/socket.js';
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { Rng } from './rng.js';
import { VirtualClock } from './virtual-clock.js';
import { LinkModel, emptyCounters, validateImpairment } from './impairment.js';
import type { Impairment, LinkCounters } from './impairment.js';

/** What a {@link SimPort} hands its receiver: the datagram (a fresh buffer) and who sent it. */
export type SimReceiver = (data: Buffer, from: RemoteInfo) => void;

/** Options of {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Seed of every random choice in the network. Default 1. */
  seed?: number;
  /** Impairment of every link without its own (see {@link SimNetwork.link}). Default `{}`. */
  impairment?: Impairment;
  /** Start time of the virtual clock (ms). Default 0. */
  startTime?: number;
  /** Larger datagrams fail with `EMSGSIZE`, as on a real socket. Default 65507. */
  maxDatagramSize?: number;
}

/** Totals over every link, plus datagrams that reached an address/port nobody was bound to. */
export interface SimNetworkCounters extends LinkCounters {
  undeliverable: number;
}

const FIRST_EPHEMERAL_PORT = 49152;
const MAX_STEPS = 10_000_000;

function familyOf(address: string): string {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(`${message} ${code}`), { code, errno: code, syscall: 'send' });
}

function checkPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${String(port)}.`), {
      code: 'ERR_SOCKET_BAD_PORT',
    });
  }
  return port;
}

/** A datagram on its way; the clock delivers it (no closure per datagram). */
class InFlight {
  /** The sender's address when it sent (a rebinding later does not change it). */
  readonly fromAddress: string;
  readonly fromPort: number;

  constructor(
    readonly toAddress: string,
    readonly toPort: number,
    from: SimPort,
    readonly data: Buffer,
  ) {
    this.fromAddress = from.address;
    this.fromPort = from.port;
  }
}

/**
 * The low-level end of the simulator: an address/port that can send and receive datagrams,
 * without any socket API. Use it to wire sans-IO engines straight to the network.
 */
export class SimPort {
  /** Called for every datagram that arrives; replace it at will. */
  onDatagram: SimReceiver | null;
  private isClosed = false;

  /** @internal use {@link SimNetwork.attach} */
  private currentAddress: string;
  private currentPort: number;

  constructor(
    private readonly net: SimNetwork,
    address: string,
    port: number,
    onDatagram: SimReceiver | null,
  ) {
    this.currentAddress = address;
    this.currentPort = port;
    this.onDatagram = onDatagram;
  }

  /** The address its datagrams leave from and arrive at (it changes with {@link SimNetwork.rebind}). */
  get address(): string {
    return this.currentAddress;
  }

  /** The port its datagrams leave from and arrive at (it changes with {@link SimNetwork.rebind}). */
  get port(): number {
    return this.currentPort;
  }

  /** @internal {@link SimNetwork.rebind} */
  moveTo(address: string, port: number): void {
    this.currentAddress = address;
    this.currentPort = port;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Send `data` (copied at once, as a real socket does) to `address:port`. Returns an error
   * instead of throwing when the datagram is too large; throws when the port is closed.
   */
  send(data: Uint8Array, port: number, address: string): Error | null {
    return this.net.transmit(this, data, port, address);
  }

  /** Unbind; datagrams still in flight to this port are counted as undeliverable. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.net.detach(this);
  }
}

/**
 * A socket of the simulated network; implements {@link DatagramSocket}, so shells and
 * endpoints use it exactly like a `dgram.Socket`. Send callbacks run in virtual time (at the
 * current instant, on the next clock step); `'close'` is emitted on the next microtask.
 */
export class SimSocket extends EventEmitter implements DatagramSocket {
  private readonly simPort: SimPort;
  private readonly clock: VirtualClock;

  /** @internal use {@link SimNetwork.socket} */
  constructor(net: SimNetwork, address: string, port: number | undefined) {
    super();
    this.clock = net.clock;
    this.simPort = net.attach(address, port, (data, from) => {
      this.emit('message', data, from);
    });
  }

  /** As `dgram.Socket.send()`: the datagram enters the simulated network now (virtual time). */
  send(
    msg: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void {
    if (this.simPort.closed) {
      throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    }
    if (!(msg instanceof Uint8Array)) {
      throw new InvalidArgTypeError('The "msg" argument must be a Buffer or Uint8Array');
    }
    const error = this.simPort.send(msg, port, address);
    if (callback !== undefined) {
      this.clock.schedule(this.clock.now(), () => callback(error, error === null ? msg.byteLength : undefined), undefined);
    } else if (error !== null) {
      this.clock.schedule(this.clock.now(), () => this.emit('error', error), undefined);
    }
  }

  /** The simulated address and port. */
  address(): SocketAddress {
    return { address: this.simPort.address, port: this.simPort.port, family: familyOf(this.simPort.address) };
  }

  /** Unbind; `callback` and 'close' follow on the virtual clock. */
  close(callback?: () => void): void {
    if (this.simPort.closed) {
      throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    }
    if (callback !== undefined) this.once('close', callback);
    this.simPort.close();
    queueMicrotask(() => this.emit('close'));
  }
}

/**
 * A deterministic in-memory network on a {@link VirtualClock}. Sockets bound to any address talk
 * to each other through per-direction links, each a {@link LinkModel} with its own impairment
 * and its own random stream derived from the seed: the same seed and the same program replay
 * the same run, datagram for datagram. Nothing happens until you drive the clock (`run`,
 * `runUntil`, or `clock.advanceTo`).
 *
 * @example
 * ```ts
 * const net = new SimNetwork({ seed: 7, impairment: { loss: 0.1, delay: 20, jitter: 5 } });
 * const a = net.socket('10.0.0.1', 4000);
 * const b = net.socket('10.0.0.2', 5000);
 * net.link('10.0.0.1', '10.0.0.2', { loss: 0.3, delay: 50 }); // one direction only
 * b.on('message', (msg, rinfo) => b.send(msg, rinfo.port, rinfo.address)); // echo
 * a.send(new TextEncoder().encode('hi'), 5000, '10.0.0.2');
 * net.run(1000); // one virtual second
 * net.counters('10.0.0.1', '10.0.0.2').droppedLoss;
 * ```
 */
export class SimNetwork {
  readonly clock: VirtualClock;
  readonly seed: number;
  /** Virtual time 0 of every link's blackhole schedule. */
  private readonly startTime: number;
  private defaultImpairment: Impairment;
  private readonly maxDatagramSize: number;
  /** from address → to address → link. */
  private readonly links = new Map<string, Map<string, LinkModel>>();
  /** address → port → bound port. */
  private readonly ports = new Map<string, Map<number, SimPort>>();
  private readonly nextEphemeral = new Map<string, number>();
  /** Links given their own impairment (keys `from\0to`); the others follow the default. */
  private readonly explicit = new Set<string>();
  private undeliverable = 0;
  private readonly deliverFn = (flight: InFlight): void => this.deliver(flight);

  constructor(options: SimNetworkOptions = {}) {
    this.seed = (options.seed ?? 1) >>> 0;
    this.startTime = options.startTime ?? 0;
    this.clock = new VirtualClock(this.startTime);
    this.defaultImpairment = options.impairment ?? {};
    validateImpairment(this.defaultImpairment);
    this.maxDatagramSize = options.maxDatagramSize ?? 65507;
  }

  /** A randomness stream for your own code, derived from the network seed and `label`. */
  rng(label: string): Rng {
    return Rng.derive(this.seed, `user:${label}`);
  }

  /** A {@link DatagramSocket} bound to `address:port` (an ephemeral port when omitted or 0). */
  socket(address: string, port?: number): SimSocket {
    return new SimSocket(this, address, port);
  }

  /**
   * Bind `address:port` (ephemeral when omitted or 0) without a socket API: arriving datagrams
   * go to `onDatagram`. Throws an `EADDRINUSE` error when the port is taken.
   */
  attach(address: string, port: number | undefined, onDatagram: SimReceiver | null): SimPort {
    if (typeof address !== 'string' || address === '') {
      throw new InvalidArgTypeError('address must be a non-empty string');
    }
    let byPort = this.ports.get(address);
    if (byPort === undefined) {
      byPort = new Map();
      this.ports.set(address, byPort);
    }
    let bound = port ?? 0;
    if (bound === 0) {
      bound = this.nextEphemeral.get(address) ?? FIRST_EPHEMERAL_PORT;
      const first = bound;
      while (byPort.has(bound)) {
        bound = bound >= 65535 ? FIRST_EPHEMERAL_PORT : bound + 1;
        if (bound === first) throw systemError('EADDRINUSE', `no free port on ${address}`);
      }
      this.nextEphemeral.set(address, bound >= 65535 ? FIRST_EPHEMERAL_PORT : bound + 1);
    } else {
      checkPort(bound);
      if (byPort.has(bound)) throw systemError('EADDRINUSE', `bind ${address}:${bound}`);
    }
    const simPort = new SimPort(this, address, bound, onDatagram);
    byPort.set(bound, simPort);
    return simPort;
  }

  /**
   * A NAT rebinding: the port bound at `address`:`port` (a socket's or a SimPort's) now sends
   * from, and receives at, `newAddress`:`newPort` (an ephemeral port of `newAddress` when
   * omitted). Nothing answers at the old address any more: datagrams still on their way there,
   * or sent there later, are undeliverable. Datagrams already on their way from the old address
   * arrive showing the old one. The socket is not told (as behind a real NAT); its `address()`
   * reports the new one. Returns the new address and port.
   */
  rebind(address: string, port: number, newAddress: string, newPort?: number): { address: string; port: number } {
    const simPort = this.ports.get(address)?.get(port);
    if (simPort === undefined) throw new InvalidArgValueError(`nothing is bound at ${address}:${port}`);
    if (typeof newAddress !== 'string' || newAddress === '') throw new InvalidArgTypeError('newAddress must be a non-empty string');
    // Reserve the new place first (it may be taken), then leave the old one.
    const placeholder = this.attach(newAddress, newPort, null);
    this.detach(simPort);
    this.detach(placeholder);
    simPort.moveTo(placeholder.address, placeholder.port);
    this.ports.get(placeholder.address)!.set(placeholder.port, simPort);
    return { address: simPort.address, port: simPort.port };
  }

  /** @internal called by SimPort.close */
  detach(port: SimPort): void {
    const byPort = this.ports.get(port.address);
    if (byPort?.get(port.port) === port) byPort.delete(port.port);
  }

  /** Impairment of every link that has none of its own (existing default links change too). */
  setDefaultImpairment(impairment: Impairment): this {
    validateImpairment(impairment);
    this.defaultImpairment = impairment;
    for (const [from, row] of this.links) {
      for (const [to, model] of row) {
        if (!this.explicit.has(`${from}\u0000${to}`)) model.configure(impairment);
      }
    }
    return this;
  }

  /**
   * Set the impairment of the direction `from → to` (addresses, all ports). Counters and queue
   * state of the link carry over; pass `null` to go back to the default impairment.
   */
  link(from: string, to: string, impairment: Impairment | null): this {
    const key = `${from}\u0000${to}`;
    if (impairment === null) this.explicit.delete(key);
    else this.explicit.add(key);
    this.linkModel(from, to).configure(impairment ?? this.defaultImpairment);
    return this;
  }

  /** `link(a, b, impairment)` and `link(b, a, impairment)`. */
  linkBoth(a: string, b: string, impairment: Impairment | null): this {
    return this.link(a, b, impairment).link(b, a, impairment);
  }

  /** The model of the direction `from → to` (created on first use). */
  linkModel(from: string, to: string): LinkModel {
    let row = this.links.get(from);
    if (row === undefined) {
      row = new Map();
      this.links.set(from, row);
    }
    let model = row.get(to);
    if (model === undefined) {
      // Each link draws from its own stream, so traffic elsewhere never shifts its losses.
      model = new LinkModel(this.defaultImpairment, Rng.derive(this.seed, `link:${from}>${to}`), this.startTime);
      row.set(to, model);
    }
    return model;
  }

  /** Counters of the direction `from → to` (zeros when nothing was sent that way). */
  counters(from: string, to: string): LinkCounters {
    const model = this.links.get(from)?.get(to);
    return model === undefined ? emptyCounters() : { ...model.counters };
  }

  /** Counters summed over every link. */
  totals(): SimNetworkCounters {
    const sum: SimNetworkCounters = { ...emptyCounters(), undeliverable: this.undeliverable };
    for (const row of this.links.values()) {
      for (const model of row.values()) {
        for (const key of Object.keys(model.counters) as Array<keyof LinkCounters>) {
          sum[key] = key === 'queuePeakBytes' ? Math.max(sum[key], model.counters[key]) : sum[key] + model.counters[key];
        }
      }
    }
    return sum;
  }

  /** @internal the send path of SimPort: copy, run the link model, schedule deliveries. */
  transmit(from: SimPort, data: Uint8Array, port: number, address: string): Error | null {
    if (from.closed) {
      throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    }
    checkPort(port);
    if (typeof address !== 'string') throw new InvalidArgTypeError('address must be a string');
    if (data.byteLength > this.maxDatagramSize) {
      return systemError('EMSGSIZE', `send ${data.byteLength} bytes`);
    }
    // Copy now: the sender may reuse its buffer as soon as send() returns.
    const copy = Buffer.from(data);
    const deliveries = this.linkModel(from.address, address).admit(this.clock.now(), copy);
    let used = false;
    for (const { at, data: out } of deliveries) {
      let buf: Buffer;
      if (out !== copy) buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      else if (!used) {
        buf = copy;
        used = true;
      } else buf = Buffer.from(copy); // a duplicate gets its own buffer, like a real one
      this.clock.schedule(at, this.deliverFn, new InFlight(address, port, from, buf));
    }
    return null;
  }

  private deliver(flight: InFlight): void {
    const target = this.ports.get(flight.toAddress)?.get(flight.toPort);
    if (target === undefined || target.onDatagram === null) {
      this.undeliverable++;
      return;
    }
    target.onDatagram(flight.data, {
      address: flight.fromAddress,
      port: flight.fromPort,
      family: familyOf(flight.fromAddress),
      size: flight.data.byteLength,
    });
  }

  /**
   * Let `limitMs` of virtual time pass (firing every timer due), or — without a limit — run
   * until no timer is left. Returns the virtual time afterwards.
   */
  run(limitMs?: number): number {
    const clock = this.clock;
    if (limitMs === undefined) {
      let steps = 0;
      while (clock.runNext()) {
        if (++steps > MAX_STEPS) throw new Error(`SimNetwork.run(): still busy after ${MAX_STEPS} steps; pass a limit`);
      }
      return clock.now();
    }
    checkLimit(limitMs);
    clock.advanceTo(clock.now() + limitMs);
    return clock.now();
  }

  /**
   * Drive virtual time until `predicate()` is true (checked before each step), for at most
   * `limitMs` of virtual time. Returns whether the predicate became true; on `false` the clock
   * stands at the limit.
   */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    checkLimit(limitMs);
    const clock = this.clock;
    const end = clock.now() + limitMs;
    for (;;) {
      if (predicate()) return true;
      const next = clock.nextDeadline;
      if (next === null || next > end) {
        clock.advanceTo(end);
        return predicate();
      }
      clock.runNext();
    }
  }

  /**
   * `run` for code that reacts through promises: yields to the event loop (`setImmediate`, no
   * real waiting) after each instant of virtual time, so `await`s in your code resume in order.
   */
  async runAsync(limitMs?: number): Promise<number> {
    const end = limitMs === undefined ? Infinity : this.clock.now() + checkLimit(limitMs);
    let steps = 0;
    for (;;) {
      await yieldToEventLoop();
      const next = this.clock.nextDeadline;
      if (next === null || next > end) break;
      this.clock.runNext();
      if (++steps > MAX_STEPS) throw new Error(`SimNetwork.runAsync(): still busy after ${MAX_STEPS} steps`);
    }
    if (end !== Infinity) this.clock.advanceTo(end);
    await yieldToEventLoop();
    return this.clock.now();
  }

  /** `runUntil` for promise-based code (see {@link SimNetwork.runAsync}). */
  async runUntilAsync(predicate: () => boolean, limitMs: number): Promise<boolean> {
    const end = this.clock.now() + checkLimit(limitMs);
    for (;;) {
      await yieldToEventLoop();
      if (predicate()) return true;
      const next = this.clock.nextDeadline;
      if (next === null || next > end) {
        this.clock.advanceTo(end);
        await yieldToEventLoop();
        return predicate();
      }
      this.clock.runNext();
    }
  }
}

function checkLimit(limitMs: number): number {
  if (typeof limitMs !== 'number' || !(limitMs >= 0)) {
    throw new InvalidArgValueError(`limitMs must be a non-negative number, got ${String(limitMs)}`);
  }
  return limitMs;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
