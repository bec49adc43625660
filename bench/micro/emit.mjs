#!/usr/bin/env node
// Micro benchmark for issue 15: the cost of one `emit('message', buf)` with one listener, and of
// the `listenerCount('message')` check the connection makes before each delivery, for
// node:events EventEmitter and eventemitter3. Prints emits per second (median of 7 rounds).
// Timings on a shared machine are noisy: read the ratio, not the absolute figures.
//   node bench/micro/emit.mjs [rounds=7] [emitsPerRound=5000000]
import { EventEmitter as NodeEE } from 'node:events';
import { EventEmitter as EE3 } from 'eventemitter3';

const rounds = Number(process.argv[2] ?? 7);
const n = Number(process.argv[3] ?? 5_000_000);
const payload = Buffer.alloc(64);

function round(Cls) {
  const e = new Cls();
  let sink = 0;
  e.on('message', (b) => { sink += b.length; });
  e.on('close', () => { sink--; }); // a second event name, as on a real connection
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (e.listenerCount('message') > 0) e.emit('message', payload);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink !== n * 64) throw new Error('listener did not run');
  return (n / ns) * 1e9;
}

const results = { 'node:events': [], eventemitter3: [] };
for (let r = 0; r < rounds; r++) {
  // Interleave so that machine noise hits both alike.
  results['node:events'].push(round(NodeEE));
  results.eventemitter3.push(round(EE3));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(14)} ${(median(xs) / 1e6).toFixed(1)} M emits/s (listenerCount + emit, median of ${rounds})`);
}
console.log(`ratio node:events / eventemitter3: ${(median(results['node:events']) / median(results.eventemitter3)).toFixed(2)}`);
