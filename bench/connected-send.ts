/**
 * What a `connect()`ed socket saves per datagram sent (src/node/peer-socket.ts, issue 11): raw
 * `dgram.Socket.send()` of one 1,200-byte datagram to 127.0.0.1, unconnected with an address
 * (through the endpoint's literalLookup, as the endpoint sends) and connected without one,
 * alternating in rounds, in this one process; the sink that reads them is another process, so
 * this process's CPU time (`process.cpuUsage`, user and system) is the sender's alone.
 *
 *   node --import tsx bench/connected-send.ts [--sends 200000] [--rounds 6]
 *
 * A timing on a shared machine: compare the two columns of one run (medians of alternating
 * rounds), not runs on different days.
 */
import { fork } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { literalLookup } from '../src/node/bind.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => numberOption(args, name, dflt);

if (args[0] === '--sink') {
  // The reading end, in its own process: reads and drops.
  const sink = createSocket('udp4');
  sink.on('message', () => {});
  sink.bind(0, '127.0.0.1', () => process.send!(sink.address().port));
  process.on('disconnect', () => sink.close());
} else {
  await main();
}

async function main(): Promise<void> {
  const sends = opt('sends', 200_000);
  const rounds = opt('rounds', 6);
  const child = fork(new URL(import.meta.url).pathname, ['--sink'], { execArgv: ['--import', 'tsx'] });
  // A sink that ends before it says its port (its error is on our stderr) ends the run too.
  const ended = once(child, 'exit').then(() => Promise.reject(new Error('connected-send: the sink ended before it was listening')));
  const [port] = (await Promise.race([once(child, 'message'), ended])) as [number];
  ended.catch(() => undefined);
  const socket: Socket = createSocket({ type: 'udp4', lookup: literalLookup });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setSendBufferSize(4 << 20);
  const data = Buffer.alloc(1200, 0x61);

  /** CPU µs per send for `n` sends; yields to the event loop every 64 so the send queue never grows. */
  async function run(connected: boolean, n: number): Promise<{ user: number; system: number }> {
    if (connected) socket.connect(port, '127.0.0.1');
    const start = process.cpuUsage();
    for (let i = 0; i < n; ) {
      const end = Math.min(n, i + 64);
      if (connected) for (; i < end; i++) socket.send(data);
      else for (; i < end; i++) socket.send(data, port, '127.0.0.1');
      await new Promise((r) => setImmediate(r));
    }
    const used = process.cpuUsage(start);
    if (connected) socket.disconnect();
    return { user: used.user / n, system: used.system / n };
  }

  // Warm both paths up (TurboFan) before measuring.
  await run(false, 20_000);
  await run(true, 20_000);
  const results = { unconnected: [] as { user: number; system: number }[], connected: [] as { user: number; system: number }[] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so drift in the machine's load hits both alike.
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const c of order) results[c ? 'connected' : 'unconnected'].push(await run(c, sends));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const row = (name: 'unconnected' | 'connected'): string => {
    const user = median(results[name].map((x) => x.user));
    const system = median(results[name].map((x) => x.system));
    return `${name.padEnd(12)} user ${user.toFixed(3)} µs  system ${system.toFixed(3)} µs  total ${(user + system).toFixed(3)} µs per send`;
  };
  console.log(`${sends} sends of ${data.length} B per round, ${rounds} rounds each, medians:`);
  console.log(row('unconnected'));
  console.log(row('connected'));
  console.log(JSON.stringify(results));
  socket.close();
  child.disconnect();
}
