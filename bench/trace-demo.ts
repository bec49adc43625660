/**
 * The trace viewer's showcase, in the simulator (virtual time, seeded: the same files on every
 * run): a 10 MiB transfer over a 20 Mbit/s path with 20 ms one-way delay and 5 % random loss
 * each way, traced with `qlogDir`; then `reliable-dgram-trace` draws the client's trace.
 *
 *   npx tsup && node --import tsx bench/trace-demo.ts [--out docs/perf] [--keep dir]
 *
 * Writes <out>/trace-10MiB-5pct.{time-sequence,congestion,rtt}.svg and prints the viewer's
 * summary. `--keep dir` also keeps the qlog files there (they are a few MB, so not committed).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEndpoint, type Connection } from '../src/index.js';
import { Rng, SimNetwork } from '../src/testing/index.js';

const BYTES = 10 * 1024 * 1024;
const NAME = 'trace-10MiB-5pct';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const out = arg('--out') ?? 'docs/perf';
  const keep = arg('--keep');
  const qlogDir = mkdtempSync(join(tmpdir(), 'rd-trace-demo-'));
  const rate = 20_000_000 / 8;
  const net = new SimNetwork({ seed: 16, impairment: { loss: 0.05, delay: 20, rate, queue: Math.round(rate * 0.04) } });
  const rng = new Rng(16);
  const random = (n: number): Uint8Array => rng.bytes(n);
  const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes: random, qlogDir });
  const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes: random, qlogDir, maxQueuedBytes: 2 * BYTES });
  let received = 0;
  server.on('connection', (c: Connection) => c.on('message', (m: Buffer) => (received += m.length)));
  let conn: Connection | undefined;
  void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
  if (!(await net.runUntilAsync(() => conn !== undefined, 10_000))) throw new Error('no connection');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  for (let sent = 0; sent < BYTES; sent += chunk.length) conn!.send(chunk);
  const start = net.clock.now();
  if (!(await net.runUntilAsync(() => received >= BYTES, 600_000))) throw new Error('transfer did not finish');
  const seconds = (net.clock.now() - start) / 1000;
  const stats = conn!.stats();
  const closing = Promise.all([client.close(), server.close()]);
  await net.runUntilAsync(() => client.closed && server.closed, 120_000);
  await closing;
  process.stderr.write(
    `simulated: ${BYTES} bytes in ${seconds.toFixed(2)} s of virtual time; client stats: ${stats.packetsSent} packets sent, ` +
      `${stats.packetsLost} lost, ${stats.bytesRetransmitted} bytes retransmitted\n`,
  );
  const clientFile = readdirSync(qlogDir).find((f) => f.startsWith('client-'))!;
  const named = join(qlogDir, `${NAME}.sqlog`);
  copyFileSync(join(qlogDir, clientFile), named);
  execFileSync(process.execPath, ['dist/bin/trace.js', named, '--out', out], { stdio: 'inherit' });
  if (keep) {
    for (const f of readdirSync(qlogDir)) copyFileSync(join(qlogDir, f), join(keep, f));
  }
  rmSync(qlogDir, { recursive: true, force: true });
}

await main();
