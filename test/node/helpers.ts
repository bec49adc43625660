import { Rng } from '../../src/testing/rng.js';
import { SimNetwork } from '../../src/testing/sim-network.js';
import type { Impairment } from '../../src/testing/impairment.js';
import { createSocket, type Socket } from 'node:dgram';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import type { EndpointOptions } from '../../src/options.js';

/** A seeded random source in [0, 1): one seed replays a run (the test kit's own Rng). */
export function prng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

export function randomBuffer(rand: () => number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) {
    const v = (rand() * 0x1_0000_0000) >>> 0;
    b[i] = v & 0xff;
    if (i + 1 < size) b[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < size) b[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < size) b[i + 3] = (v >>> 24) & 0xff;
  }
  return b;
}

/** A raw UDP socket on 127.0.0.1 (an ephemeral port). */
export function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/** An endpoint on 127.0.0.1, closed by `cleanup()` whatever happens. */
export async function loopbackEndpoint(cleanup: Endpoint[], options: EndpointOptions = {}): Promise<Endpoint> {
  const ep = await createEndpoint({ host: '127.0.0.1', port: 0, ...options });
  cleanup.push(ep);
  return ep;
}

export function destroyAll(endpoints: Endpoint[]): void {
  for (const ep of endpoints.splice(0)) ep.destroy();
}

/** Reject after `ms` with a message, so a hung test fails with a reason instead of the runner's timeout. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolve once `done()` holds, checking every few ms; reject after `ms` (a wait on a condition, not a sleep). */
export async function until(ms: number, what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${what}: not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let gcFn: (() => void) | undefined;
/** Full garbage collection (V8's gc, exposed at run time). */
export function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** Heap plus ArrayBuffer bytes (Buffers live outside the JS heap). */
export function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Resolve on the next `event` of `emitter`. */
export function once(emitter: { once(event: string, fn: (...args: any[]) => void): unknown }, event: string): Promise<any[]> {
  return new Promise((resolve) => emitter.once(event, (...args: any[]) => resolve(args)));
}

/** Send `text` on `conn` and wait (at most `ms`) for the next message back, as text: one round trip to an echo. */
export function roundTrip(conn: Connection, text: string, ms = 10_000): Promise<string> {
  const reply = once(conn, 'message').then(([m]) => (m as Buffer).toString());
  conn.send(text);
  return within(ms, `reply to ${text}`, reply);
}

/** Options of {@link simPair}. */
export interface SimPairOptions {
  /** The simulator's links, both ways. Default: 10 ms one way. */
  impairment?: Impairment;
  /** The simulator to run on (its links as made; `impairment` is then not used). Default: a new one. */
  net?: SimNetwork;
  /** For both endpoints. */
  endpoint?: EndpointOptions;
  /** For the server only, on top of `endpoint`. */
  server?: EndpointOptions;
  /** For the client only, on top of `endpoint`. */
  client?: EndpointOptions;
  /** The client's connect() options. */
  connect?: Parameters<Endpoint['connect']>[2];
}

/**
 * A server (10.0.0.2:4433) and a connected client on the simulator's clock, seeded: exact,
 * repeatable timing. `done()` destroys both endpoints.
 */
export async function simPair(seed: number, o: SimPairOptions = {}) {
  const net = o.net ?? new SimNetwork({ seed, impairment: o.impairment ?? { delay: 10 } });
  const rng = new Rng(seed);
  const randomBytes = (n: number) => rng.bytes(n);
  const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes, ...o.endpoint, ...o.server });
  const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes, ...o.endpoint, ...o.client });
  let peer: Connection | undefined;
  server.on('connection', (c: Connection) => (peer = c));
  let conn: Connection | undefined;
  void client.connect(4433, '10.0.0.2', o.connect ?? {}).then((c) => (conn = c));
  if (!(await net.runUntilAsync(() => conn !== undefined && peer !== undefined, 10_000))) throw new Error('simPair: no connection');
  return { net, server, client, conn: conn!, peer: peer!, done: () => (client.destroy(), server.destroy()) };
}

/** A server and a connected client on 127.0.0.1, both destroyed with `cleanup`. */
export async function loopbackPair(cleanup: Endpoint[], options: EndpointOptions = {}) {
  const server = await loopbackEndpoint(cleanup, options);
  const accepted = once(server, 'connection');
  const client = await loopbackEndpoint(cleanup, options);
  const conn = await within(5000, 'connect', client.connect(server.address().port, '127.0.0.1'));
  const [peer] = (await within(5000, 'accept', accepted)) as [Connection];
  return { server, client, conn, peer };
}

/** 'resolved', or the `code` (else the text) of the error `p` rejects with. */
export function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? String(e),
  );
}
