import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { RemoteInfo, SocketAddress } from '../node/socket.js';
import type { Clock, TimerHandle } from '../node/clock.js';
import { realClock } from '../node/clock.js';
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { Rng } from './rng.js';
import { LinkModel } from './impairment.js';
import type { Impairment, LinkCounters } from './impairment.js';

/** Options of {@link ImpairProxy}: where to listen, where to forward, the impairments per direction. */
export interface ImpairProxyOptions {
  /** Where clients send. Default `127.0.0.1`, port 0 (an ephemeral port: see `address()`). */
  listen?: { address?: string; port?: number };
  /** Where the proxy forwards to. */
  target: { address: string; port: number };
  /** Impairment of client → target datagrams. */
  up?: Impairment;
  /** Impairment of target → client datagrams. */
  down?: Impairment;
  /** Seed of the impairment randomness (each direction has its own stream). Default 1. */
  seed?: number;
  /** Clock for delays. Default: the real clock. */
  clock?: Clock;
  /** Forget a client (and close its upstream socket) after this much silence, ms. Default 60 000. */
  clientIdleMs?: number;
  /** At most this many clients at once; datagrams from more are dropped and counted. Default 1024. */
  maxClients?: number;
  /**
   * Where warnings go (queue overflow, socket errors). Default: standard error. `null` silences
   * them; the `'overflow'` and `'warning'` events fire either way.
   */
  log?: ((line: string) => void) | null;
}

/** What the proxy did; `close()` resolves with it. */
export interface ImpairProxyCounters {
  /** Client → target link. */
  up: LinkCounters;
  /** Target → client link. */
  down: LinkCounters;
  /** Distinct clients seen (by source address and port). */
  clientsSeen: number;
  /** Clients currently known. */
  clients: number;
  /** Datagrams dropped because `maxClients` were already known. */
  refusedClients: number;
  /** Socket errors (sends that failed, etc.). */
  socketErrors: number;
}

/** Emitted as `'overflow'` each time a bottleneck queue drops a datagram. */
export interface OverflowEvent {
  direction: 'up' | 'down';
  /** Queue drops in that direction so far. */
  droppedQueue: number;
}

const WARN_INTERVAL_MS = 1000;

/** One client: its address, and the socket that talks to the target on its behalf. */
class Client {
  lastSeen: number;
  constructor(
    readonly address: string,
    readonly port: number,
    readonly upstream: dgram.Socket,
    now: number,
  ) {
    this.lastSeen = now;
  }
}

function socketType(address: string): 'udp4' | 'udp6' {
  return address.includes(':') ? 'udp6' : 'udp4';
}

/**
 * A UDP impairment proxy: clients send to the proxy, which forwards to the target through a
 * {@link LinkModel} (the same one the simulator uses) and relays the target's replies back
 * through another. Each client (source address and port) gets its own upstream socket, so
 * several clients are kept apart as behind a NAT. Both directions share one bottleneck per
 * direction: a finite queue that overflows is reported loudly (log + `'overflow'` event).
 *
 * Events: `'overflow'` ({@link OverflowEvent}), `'warning'` (string), `'client'` (RemoteInfo).
 *
 * @example
 * ```ts
 * const proxy = await ImpairProxy.start({
 *   target: { address: '127.0.0.1', port: 7777 },
 *   up: { loss: 0.05, delay: 10, jitter: 2 },
 *   down: { loss: 0.05, delay: 10, rate: 1_250_000, queue: 65536 },
 *   seed: 1,
 * });
 * // point the client at proxy.address().port instead of 7777 …
 * const counters = await proxy.close();
 * ```
 */
export class ImpairProxy extends EventEmitter {
  private readonly listener: dgram.Socket;
  private readonly target: { address: string; port: number };
  private readonly clock: Clock;
  private readonly upLink: LinkModel;
  private readonly downLink: LinkModel;
  private readonly clients = new Map<string, Client>();
  private readonly held = new Set<TimerHandle>();
  private readonly clientIdleMs: number;
  private readonly maxClients: number;
  private readonly log: ((line: string) => void) | null;
  private sweepTimer: TimerHandle | null = null;
  private clientsSeen = 0;
  private refusedClients = 0;
  private socketErrors = 0;
  private lastWarn = { up: -Infinity, down: -Infinity };
  private closing: Promise<ImpairProxyCounters> | null = null;

  /** Bind the listening socket and start forwarding. */
  static async start(options: ImpairProxyOptions): Promise<ImpairProxy> {
    const proxy = new ImpairProxy(options);
    try {
      await proxy.bind(options.listen?.port ?? 0, options.listen?.address ?? '127.0.0.1');
    } catch (err) {
      proxy.listener.close();
      throw err;
    }
    return proxy;
  }

  private constructor(options: ImpairProxyOptions) {
    super();
    const target = options?.target;
    if (target === undefined || typeof target.address !== 'string' || typeof target.port !== 'number') {
      throw new InvalidArgTypeError('target must be { address: string, port: number }');
    }
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new InvalidArgValueError(`target.port must be 1..65535, got ${target.port}`);
    }
    this.target = { address: target.address, port: target.port };
    this.clock = options.clock ?? realClock;
    const seed = options.seed ?? 1;
    // Both directions measure their blackhole schedules from the proxy's start.
    const start = this.clock.now();
    this.upLink = new LinkModel(options.up ?? {}, Rng.derive(seed, 'proxy:up'), start);
    this.downLink = new LinkModel(options.down ?? {}, Rng.derive(seed, 'proxy:down'), start);
    this.clientIdleMs = options.clientIdleMs ?? 60_000;
    this.maxClients = options.maxClients ?? 1024;
    this.log = options.log === undefined ? (line) => process.stderr.write(`${line}\n`) : options.log;
    this.listener = dgram.createSocket(socketOptions(options.listen?.address ?? '127.0.0.1'));
    this.listener.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    this.listener.on('error', (err) => {
      this.socketErrors++;
      this.warn(`listening socket error: ${err.message}`);
    });
  }

  private async bind(port: number, address: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.listener.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        this.listener.off('error', onError);
        resolve();
      };
      this.listener.once('error', onError);
      this.listener.once('listening', onListening);
      this.listener.bind(port, address);
    });
    this.armSweep();
  }

  /** The address clients should send to. */
  address(): SocketAddress {
    return this.listener.address();
  }

  /** A snapshot of the counters. */
  get counters(): ImpairProxyCounters {
    return {
      up: { ...this.upLink.counters },
      down: { ...this.downLink.counters },
      clientsSeen: this.clientsSeen,
      clients: this.clients.size,
      refusedClients: this.refusedClients,
      socketErrors: this.socketErrors,
    };
  }

  /** Change the impairment of one direction while running (counters carry over). */
  configure(direction: 'up' | 'down', impairment: Impairment): void {
    (direction === 'up' ? this.upLink : this.downLink).configure(impairment);
  }

  /** Stop: drop what is still held back, close every socket, resolve with the final counters. */
  close(): Promise<ImpairProxyCounters> {
    this.closing ??= (async () => {
      if (this.sweepTimer !== null) this.clock.clearTimer(this.sweepTimer);
      for (const handle of this.held) this.clock.clearTimer(handle);
      this.held.clear();
      const closed = [this.listener, ...[...this.clients.values()].map((c) => c.upstream)].map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      );
      await Promise.all(closed);
      const counters = this.counters;
      this.clients.clear();
      return counters;
    })();
    return this.closing;
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closing !== null) return;
    const now = this.clock.now();
    const key = `${rinfo.address}|${rinfo.port}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      if (this.clients.size >= this.maxClients) {
        this.refusedClients++;
        return;
      }
      client = this.addClient(rinfo, now);
      this.clients.set(key, client);
    }
    client.lastSeen = now;
    const upstream = client.upstream;
    this.forward('up', this.upLink, now, msg, (data) => {
      upstream.send(data, this.target.port, this.target.address, this.onSent);
    });
  }

  private addClient(rinfo: RemoteInfo, now: number): Client {
    const upstream = dgram.createSocket(socketOptions(this.target.address));
    const client = new Client(rinfo.address, rinfo.port, upstream, now);
    upstream.on('message', (msg) => this.fromTarget(client, msg));
    upstream.on('error', (err) => {
      this.socketErrors++;
      this.warn(`upstream socket of ${rinfo.address}:${rinfo.port}: ${err.message}`);
    });
    upstream.bind(0); // sends issued before 'listening' are queued by dgram
    this.clientsSeen++;
    this.emit('client', { address: rinfo.address, port: rinfo.port });
    return client;
  }

  private fromTarget(client: Client, msg: Buffer): void {
    if (this.closing !== null) return;
    const now = this.clock.now();
    this.forward('down', this.downLink, now, msg, (data) => {
      this.listener.send(data, client.port, client.address, this.onSent);
    });
  }

  /** Run one datagram through a link, then send each copy now or when it is due. */
  private forward(
    direction: 'up' | 'down',
    link: LinkModel,
    now: number,
    msg: Buffer,
    send: (data: Uint8Array) => void,
  ): void {
    const overflowBefore = link.counters.droppedQueue;
    for (const { at, data } of link.admit(now, msg)) {
      if (at <= now) send(data);
      else {
        const handle = this.clock.setTimer(at, () => {
          this.held.delete(handle);
          if (this.closing === null) send(data);
        });
        this.held.add(handle);
      }
    }
    if (link.counters.droppedQueue > overflowBefore) this.overflow(direction, link, now);
  }

  private overflow(direction: 'up' | 'down', link: LinkModel, now: number): void {
    const event: OverflowEvent = { direction, droppedQueue: link.counters.droppedQueue };
    this.emit('overflow', event);
    if (now - this.lastWarn[direction] < WARN_INTERVAL_MS) return;
    this.lastWarn[direction] = now;
    const imp = link.impairment;
    this.warn(
      `QUEUE OVERFLOW (${direction}): ${event.droppedQueue} datagram(s) dropped so far; ` +
        `queue ${imp.queue} B drains at ${imp.rate} B/s — the sender is faster than the link`,
    );
  }

  private readonly onSent = (err: Error | null): void => {
    if (err === null) return;
    this.socketErrors++;
    this.warn(`send failed: ${err.message}`);
  };

  private warn(line: string): void {
    this.emit('warning', line);
    this.log?.(`impair: ${line}`);
  }

  /** Forget idle clients now and then, closing their upstream sockets. */
  private armSweep(): void {
    const interval = Math.max(100, this.clientIdleMs / 2);
    this.sweepTimer = this.clock.setTimer(this.clock.now() + interval, () => {
      const now = this.clock.now();
      for (const [key, client] of this.clients) {
        if (now - client.lastSeen >= this.clientIdleMs) {
          this.clients.delete(key);
          client.upstream.close();
        }
      }
      if (this.closing === null) this.armSweep();
    });
  }
}

/**
 * Large socket buffers: the proxy relays bursts from both sides through one process, and the
 * ~208 KiB Linux default overflowed under udx-native's bursts (drops nobody asked for, counted
 * nowhere). The kernel caps the value at net.core.rmem_max / wmem_max.
 */
const PROXY_SOCKET_BUFFER = 4 * 1024 * 1024;

function socketOptions(address: string): dgram.SocketOptions {
  return { type: socketType(address), recvBufferSize: PROXY_SOCKET_BUFFER, sendBufferSize: PROXY_SOCKET_BUFFER };
}
