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
 * `--scavenges`: instead of sampling, count the young-generation GCs of the measured run, per
 * 10,000 round trips (or per 100 MB). Run with a fixed young generation so the count measures
 * allocation alone (V8 otherwise grows it as it sees fit):
 *
 *   node --max-semi-space-size=1 --min-semi-space-size=1 --import tsx bench/alloc.ts pingpong --trips 30000 --scavenges
 */
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
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!a.send(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise<void>((r) => a.once('drain', r));
  }
  await done;
  const sent = (c: Connection): number => (c.stats() as unknown as { packetsSent: number }).packetsSent;
  datagrams = { sender: sent(a), receiver: sent(peer) };
  await close();
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
  console.log(JSON.stringify({ mode, secure, scavenges, [mode === 'bulk' ? 'scavengesPer100MB' : 'scavengesPer10kTrips']: Math.round(perUnit * 10) / 10 }));
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
console.log(`${mode}: ${(total / units).toFixed(0)} bytes allocated per ${unit} (sampled, both endpoints)`);
const top = [...bySite.entries()].sort((x, y) => y[1] - x[1]).slice(0, Number(opt('top', '25')));
for (const [site, bytes] of top) console.log(`${(bytes / units).toFixed(0).padStart(8)} B/${unit}  ${site}`);
const counted = datagrams as { sender: number; receiver: number } | null;
if (counted) console.log(`datagrams per MB: sender ${(counted.sender / units).toFixed(0)}, receiver (ACKs) ${(counted.receiver / units).toFixed(0)}`);
console.log(JSON.stringify({ mode, secure, bytesPerUnit: Math.round(total / units), unit, datagrams }));
process.exit(0);
