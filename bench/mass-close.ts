/**
 * How long `endpoint.close()` takes for many idle connections (issue 11, bench/history.md
 * "Stop 22 investigations", the mass close): a client endpoint opens `--count` connections to
 * one server endpoint on 127.0.0.1, sends one message on each, then closes; every 500 ms it
 * prints both endpoints' live and draining connections, and at the end the close's wall and CPU
 * time and the connections' RTT estimates before it. Closing waits for each connection's closing
 * period, 3 PTOs (RFC 9000 §10.2), so the RTT samples taken in the burst after connect decide it.
 *
 *   node --import tsx bench/mass-close.ts [--count 1000]
 *
 * A timing on a shared machine: direction only.
 */
import { createEndpoint } from '../src/index.js';
import { numberOption } from './lib/script-options.js';

const count = numberOption(process.argv.slice(2), 'count', 1000);
if (!Number.isInteger(count) || count < 1) throw new RangeError('--count: a positive integer');

const server = await createEndpoint({ host: '127.0.0.1', port: 0, acceptConnections: true });
const client = await createEndpoint({ host: '127.0.0.1', port: 0, maxPendingConnects: count });
const port = server.address().port;
let received = 0;
server.on('connection', (c) => c.on('message', () => received++));
const connectStart = performance.now();
const conns = await Promise.all(Array.from({ length: count }, () => client.connect(port, '127.0.0.1')));
const connectMs = performance.now() - connectStart;
conns.forEach((c, n) => c.send(Buffer.from(`hello ${n}`)));
// Bounded wait for the messages (at most 10 s), then close whatever arrived.
for (let waited = 0; received < count && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));

const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
const at = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(1);
const stats = conns.map((c) => c.stats());
const srtt = sorted(stats.map((s) => s.srtt));
const pto = sorted(stats.map((s) => s.pto));
console.log(`${count} connections in ${connectMs.toFixed(0)} ms; ${received} messages arrived`);
console.log(`before close: srtt p50 ${at(srtt, 0.5)} max ${at(srtt, 1)} ms, pto p50 ${at(pto, 0.5)} max ${at(pto, 1)} ms`);

const start = performance.now();
const cpu = process.cpuUsage();
const progress = setInterval(() => {
  const c = client.stats();
  const s = server.stats();
  console.log(
    `${(performance.now() - start).toFixed(0).padStart(6)} ms  client live ${c.connections} draining ${c.drainingConnections}` +
      `  server live ${s.connections} draining ${s.drainingConnections}`,
  );
}, 500);
await client.close();
clearInterval(progress);
const used = process.cpuUsage(cpu);
console.log(`client.close(): ${(performance.now() - start).toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU (both endpoints)`);
await server.close();
