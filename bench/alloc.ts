/**
 * Bytes allocated on the JavaScript heap per round trip (ping-pong) or per MB moved (bulk), and
 * the functions that allocate them: V8's sampling heap profiler, counting objects a GC already
 * collected too, over two endpoints in this one process on 127.0.0.1. A count, not a timing: it
 * is stable on a busy machine.
 *
 *   node --import tsx bench/alloc.ts [pingpong|bulk] [--trips 5000] [--mb 20] [--top 25] [--secure]
 *
 * `--secure`: an encrypted connection (a key pair on the server, `serverKey` on the client).
 *
 * `--side sender|receiver` (bulk): profile that endpoint alone; the other one runs in a child
 * process (this script again, with `--peer`), so its allocations are not counted.
 *
 * `--scavenges`: instead of sampling, count the young-generation GCs of the measured run, per
 * 10,000 round trips (or per 100 MB). Run with a fixed young generation so the count measures
 * allocation alone (V8 otherwise grows it as it sees fit):
 *
 *   node --max-semi-space-size=1 --min-semi-space-size=1 --import tsx bench/alloc.ts pingpong --trips 30000 --scavenges
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { createEndpoint, type Connection } from '../src/index.js';
import { createNodeSuite } from '../src/crypto/node-suite.js';
import { gcSettled } from './lib/measure.js';
import { stringOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const mode = args[0] === 'bulk' ? 'bulk' : 'pingpong';
const opt = (name: string, dflt: string): string => stringOption(args, name, dflt);
const rdOptions = JSON.parse(process.env.BENCH_RD_OPTIONS ?? '{}') as Record<string, unknown>;
const secure = args.includes('--secure');
const PRIVATE_KEY = Buffer.alloc(32, 0x2a);

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const side = opt('side', 'both');
if (side !== 'both' && side !== 'sender' && side !== 'receiver') throw new RangeError(`--side: sender, receiver or both, got '${side}'`);

/**
 * `--peer sender|receiver`: the other endpoint of a `--side` run. A receiver serves until killed
 * and prints its port; a sender waits for `port mb` lines on stdin, runs one transfer per line,
 * and prints `done` after each.
 */
const peer = opt('peer', '');
if (peer === 'receiver') {
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions, acceptConnections: true });
  server.on('connection', (c) => {
    c.on('error', () => undefined);
    c.on('message', () => undefined);
  });
  console.log(`port ${server.address().port}`);
  await new Promise(() => undefined);
} else if (peer === 'sender') {
  for await (const line of createInterface({ input: process.stdin })) {
    const [port, mb] = line.split(' ').map(Number) as [number, number];
    const client = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
    const a = await client.connect(port, '127.0.0.1');
    // The measuring process destroys its endpoint after each run: the reset may reach us first.
    a.on('error', () => undefined);
    await sendBulk(a, mb * 1e6);
    await a.flush();
    client.destroy();
    console.log('done');
  }
  process.exit(0);
}

/** The other endpoint of a `--side` run, in a child process (started once, on first use). */
interface PeerChild {
  send: (line: string) => void;
  next: () => Promise<string>;
  kill: () => void;
}
// (A cast: TypeScript would otherwise take it for null at the top level, where it is read.)
let child = null as PeerChild | null;
function peerProcess(role: 'sender' | 'receiver'): PeerChild {
  if (child !== null) return child;
  const p = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, 'bulk', '--peer', role], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  const lines = createInterface({ input: p.stdout! })[Symbol.asyncIterator]();
  child = {
    send: (line) => p.stdin!.write(`${line}\n`),
    next: async () => String((await lines.next()).value),
    kill: () => p.kill(),
  };
  return child;
}

/** Send `total` bytes in 64 KiB messages, waiting for 'drain' when the queue is full. */
async function sendBulk(a: Connection, total: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!a.send(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise<void>((r) => a.once('drain', r));
  }
}

async function pair(): Promise<{ a: Connection; b: Promise<Connection>; close: () => Promise<void> }> {
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions, ...(secure ? { keyPair: { privateKey: PRIVATE_KEY } } : {}) });
  const client = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
  const b = new Promise<Connection>((resolve) => server.once('connection', resolve));
  const serverKey = secure ? createNodeSuite().x25519Public(PRIVATE_KEY) : undefined;
  const a = await client.connect(server.address().port, '127.0.0.1', serverKey ? { serverKey } : {});
  if (secure && !a.encrypted) throw new Error('--secure: the connection is not encrypted');
  return {
    a,
    b,
    close: async () => {
      client.destroy();
      server.destroy();
    },
  };
}

async function pingpong(trips: number, warmup: boolean): Promise<number> {
  const { a, b, close } = await pair();
  const peer = await b;
  peer.on('message', (m) => peer.send(m));
  const payload = Buffer.alloc(64, 0x70);
  await new Promise<void>((resolve) => {
    let i = 0;
    a.on('message', () => {
      if (++i === trips) return resolve();
      a.send(payload);
    });
    a.send(payload);
  });
  void warmup;
  await close();
  return trips;
}

/** Datagrams each side sent in the last bulk run. */
let datagrams: { sender: number; receiver: number } | null = null;

async function bulk(mb: number): Promise<number> {
  if (side === 'sender') return bulkSenderOnly(mb);
  if (side === 'receiver') return bulkReceiverOnly(mb);
  const { a, b, close } = await pair();
  const peer = await b;
  const total = mb * 1e6;
  let got = 0;
  const done = new Promise<void>((resolve) =>
    peer.on('message', (m) => {
      got += m.length;
      if (got >= total) resolve();
    }),
  );
  await sendBulk(a, total);
  await done;
  const sent = (c: Connection): number => (c.stats() as unknown as { packetsSent: number }).packetsSent;
  datagrams = { sender: sent(a), receiver: sent(peer) };
  await close();
  return mb;
}

const packetsSent = (c: Connection): number => (c.stats() as unknown as { packetsSent: number }).packetsSent;

/** `--side sender`: this process sends; the receiver is a child process. */
async function bulkSenderOnly(mb: number): Promise<number> {
  const p = peerProcess('receiver');
  const port = Number((await p.next()).split(' ')[1]);
  const client = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions });
  const a = await client.connect(port, '127.0.0.1');
  await sendBulk(a, mb * 1e6);
  await a.flush();
  datagrams = { sender: packetsSent(a), receiver: 0 };
  client.destroy();
  // The child serves the next run too: it prints its port once.
  child = { ...p, next: () => Promise.resolve(`port ${port}`) };
  return mb;
}

/** `--side receiver`: this process receives; the sender is a child process. */
async function bulkReceiverOnly(mb: number): Promise<number> {
  const p = peerProcess('sender');
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...rdOptions, acceptConnections: true });
  const total = mb * 1e6;
  let got = 0;
  let conn: Connection | null = null;
  const done = new Promise<void>((resolve) =>
    server.on('connection', (c) => {
      conn = c;
      c.on('error', () => undefined);
      c.on('message', (m) => {
        got += m.length;
        if (got >= total) resolve();
      });
    }),
  );
  p.send(`${server.address().port} ${mb}`);
  await done;
  await p.next(); // the sender's flush: everything acknowledged
  datagrams = { sender: 0, receiver: packetsSent(conn!) };
  server.destroy();
  return mb;
}

const run = (): Promise<number> => (mode === 'bulk' ? bulk(Number(opt('mb', '20'))) : pingpong(Number(opt('trips', '5000')), false));
if (args.includes('--scavenges')) {
  let scavenges = 0;
  let counting = false;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (counting && (e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) scavenges++;
  }).observe({ entryTypes: ['gc'] });
  await run(); // warm up, not counted
  counting = true;
  const units = await run();
  counting = false;
  await gcSettled(); // the observer's last entries
  const per = mode === 'bulk' ? 100 : 10_000;
  const perUnit = (scavenges * per) / units;
  child?.kill();
  console.log(JSON.stringify({ mode, secure, side, scavenges, [mode === 'bulk' ? 'scavengesPer100MB' : 'scavengesPer10kTrips']: Math.round(perUnit * 10) / 10 }));
  process.exit(0);
}
const session = new Session();
session.connect();
await run(); // warm up (JIT, first slabs), not profiled
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
} as never);
const units = await run();
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };

const bySite = new Map<string, number>();
let total = 0;
const walk = (n: ProfileNode, stack: string[]): void => {
  const here = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  if (n.selfSize > 0) {
    total += n.selfSize;
    // Attribute to the allocating frame and its caller: enough to find the line to change.
    const key = `${here}  ←  ${stack[stack.length - 1] ?? ''}`;
    bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
  }
  for (const c of n.children) walk(c, [...stack, here]);
};
walk(profile.head, []);
const unit = mode === 'bulk' ? 'MB' : 'round trip';
child?.kill();
console.log(`${mode}: ${(total / units).toFixed(0)} bytes allocated per ${unit} (sampled, ${side === 'both' ? 'both endpoints' : `the ${side} alone`})`);
const top = [...bySite.entries()].sort((x, y) => y[1] - x[1]).slice(0, Number(opt('top', '25')));
for (const [site, bytes] of top) console.log(`${(bytes / units).toFixed(0).padStart(8)} B/${unit}  ${site}`);
const counted = datagrams as { sender: number; receiver: number } | null;
if (counted) console.log(`datagrams per MB: sender ${(counted.sender / units).toFixed(0)}, receiver (ACKs) ${(counted.receiver / units).toFixed(0)}`);
console.log(JSON.stringify({ mode, secure, side, bytesPerUnit: Math.round(total / units), unit, datagrams }));
process.exit(0);
