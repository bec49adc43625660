/**
 * Calls per ping-pong round trip into the endpoint, the engine and the Node shell (both
 * endpoints in this one process on 127.0.0.1): how many engine events, settles, deadline
 * questions, flush rounds, clock reads and timer (re)arms one steady round trip costs. A count,
 * not a timing: stable on a busy machine (timer re-arms excepted: a trip slower than a timer's
 * span, e.g. on a loaded machine, fires or moves it).
 *
 *   node --import tsx bench/trip-calls.ts [--trips 5000] [--warmup 1000]
 *
 * Each method listed below is wrapped on its prototype (the clock's functions on the clock
 * object) by a counter; the counts are taken over `--trips` round trips after `--warmup` ones.
 */
import { createEndpoint, type Connection } from '../src/index.js';
import { EndpointCore } from '../src/core/endpoint.js';
import { ConnectionCore } from '../src/core/connection.js';
import { Endpoint } from '../src/node/endpoint.js';
import { Connection as NodeConnection } from '../src/node/connection.js';
import { realClock } from '../src/node/clock.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const trips = numberOption(args, 'trips', 5000);
const warmup = numberOption(args, 'warmup', 1000);

const counts = new Map<string, number>();
let counting = false;

function count(target: Record<string, unknown>, name: string, label: string): void {
  const original = target[name];
  if (typeof original !== 'function') throw new Error(`trip-calls: no method ${label}`);
  target[name] = function (this: unknown, ...a: unknown[]): unknown {
    if (counting) counts.set(label, (counts.get(label) ?? 0) + 1);
    return (original as (...x: unknown[]) => unknown).apply(this, a);
  };
}

const wrapped: [object, string, string[]][] = [
  [EndpointCore.prototype, 'EndpointCore', ['handleDatagram', 'pollTransmit', 'pollEvent', 'nextEvent', 'pollTimeout', 'handleTimeout', 'touch', 'settle']],
  [ConnectionCore.prototype, 'ConnectionCore', ['handleDatagram', 'pollTransmit', 'pollEvent', 'pollTimeout', 'handleTimeout', 'send', 'release']],
  [Endpoint.prototype, 'Endpoint (node)', ['flush', 'transmit', 'dispatch', 'rearm']],
  [NodeConnection.prototype, 'Connection (node)', ['handleCoreEvent', 'checkDrain']],
  [realClock, 'clock', ['now', 'setTimer', 'clearTimer', 'postponeTimer']],
];
const notCounted: string[] = [];
for (const [target, owner, names] of wrapped) {
  for (const name of names) {
    // Methods some versions lack (e.g. nextEvent; the shell's flush, transmit, dispatch, rearm and
    // checkDrain became module functions at stop 32, which ESM cannot wrap) are left out, and said.
    if (typeof (target as Record<string, unknown>)[name] === 'function') count(target as Record<string, unknown>, name, `${owner}.${name}`);
    else notCounted.push(`${owner}.${name}`);
  }
}
if (notCounted.length > 0) process.stderr.write(`trip-calls: not counted (not methods in this version): ${notCounted.join(', ')}\n`);

const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
const client = await createEndpoint({ host: '127.0.0.1', port: 0 });
const accepted = new Promise<Connection>((resolve) => server.once('connection', resolve));
const a = await client.connect(server.address().port, '127.0.0.1');
const b = await accepted;
b.on('message', (m) => b.send(m));
const payload = Buffer.alloc(64, 0x70);
await new Promise<void>((resolve) => {
  let i = 0;
  a.on('message', () => {
    if (i === warmup) counting = true;
    if (++i === warmup + trips) {
      counting = false;
      resolve();
      return;
    }
    a.send(payload);
  });
  a.send(payload);
});
client.destroy();
server.destroy();

console.log(`calls per round trip (both endpoints, ${trips} trips after ${warmup}):`);
for (const [target, owner, names] of wrapped) {
  void target;
  for (const name of names) {
    const label = `${owner}.${name}`;
    if (!counts.has(label) && typeof (target as Record<string, unknown>)[name] !== 'function') continue;
    console.log(`${((counts.get(label) ?? 0) / trips).toFixed(3).padStart(8)}  ${label}`);
  }
}
console.log(JSON.stringify({ trips, perTrip: Object.fromEntries([...counts].map(([k, v]) => [k, Math.round((v / trips) * 1000) / 1000])) }));
process.exit(0);
