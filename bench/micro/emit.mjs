#!/usr/bin/env node
// Micro benchmark for issue 15: the cost of the connection's delivery step, "is anyone listening
// for 'message'? then emit('message', buf)", one listener, for
//   ee3         eventemitter3: listenerCount('message') + emit (the code before issue 15)
//   node        node:events: a boolean kept by the listener methods + emit (src/node/connection.ts)
//   node-count  node:events: listenerCount('message') + emit (a naive port, for comparison)
// Timings on a shared machine are noisy: read the ratios, or count instructions (deterministic):
//   node bench/micro/emit.mjs [rounds=7] [emitsPerRound=5000000]
//   node bench/micro/emit.mjs --one none|ee3|node|node-count [emits]   one variant, one round:
//     for n in 200000 1200000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//       node bench/micro/emit.mjs --one node $n 2>&1 | grep Collected; done
//     (the difference of the two totals / 1,000,000 = instructions per delivery; `none` is the
//     same loop calling the listener directly, the floor).
import { EventEmitter as NodeEE } from 'node:events';
import { EventEmitter as EE3 } from 'eventemitter3';

const one = process.argv[2] === '--one' ? process.argv[3] : undefined;
const rounds = one ? 1 : Number(process.argv[2] ?? 7);
const n = Number((one ? process.argv[4] : process.argv[3]) ?? 5_000_000);
const payload = Buffer.alloc(64);

function setup(Cls) {
  const e = new Cls();
  const state = { sink: 0 };
  e.on('message', (b) => { state.sink += b.length; });
  e.on('close', () => { state.sink--; }); // a second event name, as on a real connection
  return { e, state };
}

const variants = {
  none() {
    const state = { sink: 0 };
    const listener = (b) => { state.sink += b.length; };
    for (let i = 0; i < n; i++) listener(payload);
    return state.sink;
  },
  ee3() {
    const { e, state } = setup(EE3);
    for (let i = 0; i < n; i++) if (e.listenerCount('message') > 0) e.emit('message', payload);
    return state.sink;
  },
  node() {
    const { e, state } = setup(NodeEE);
    const flags = { hasMessageListener: true };
    for (let i = 0; i < n; i++) if (flags.hasMessageListener) e.emit('message', payload);
    return state.sink;
  },
  'node-count'() {
    const { e, state } = setup(NodeEE);
    for (let i = 0; i < n; i++) if (e.listenerCount('message') > 0) e.emit('message', payload);
    return state.sink;
  },
};

function timed(name) {
  const t0 = process.hrtime.bigint();
  const sink = variants[name]();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink !== n * 64) throw new Error(`${name}: listener did not run`);
  return (n / ns) * 1e9;
}

if (one !== undefined) {
  if (!(one in variants)) throw new Error(`unknown variant ${one}`);
  timed(one);
  process.exit(0);
}

const names = ['ee3', 'node', 'node-count'];
const results = Object.fromEntries(names.map((k) => [k, []]));
for (let r = 0; r < rounds; r++) for (const name of names) results[name].push(timed(name)); // interleaved: noise hits all alike
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of names) {
  console.log(`${name.padEnd(11)} ${(median(results[name]) / 1e6).toFixed(1)} M deliveries/s (median of ${rounds})`);
}
console.log(`node / ee3: ${(median(results.node) / median(results.ee3)).toFixed(2)}   node-count / ee3: ${(median(results['node-count']) / median(results.ee3)).toFixed(2)}`);
