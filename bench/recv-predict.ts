/**
 * The receive path's header prediction (src/core/receive-prediction.ts `readPredicted`), A against B in
 * one checkout: a bulk transfer between two engines in virtual time (test/helpers/pair.ts: no
 * sockets, no timers, 1,452-byte datagrams, 64 KiB messages), with the prediction on or off
 * (`--off`). The wire is the same either way (test/core/header-prediction.test.ts), so the
 * sender's work is too, and the difference between two runs is the receiver's. Meant to be run
 * under a counter rather than a clock, bundled (no tsx loader thread) and with V8 single-threaded,
 * which makes the count repeat to ~10⁻⁶ (compile jobs run on the main thread at fixed points):
 *
 *   npx esbuild bench/recv-predict.ts --bundle --platform=node --format=esm --outfile=/tmp/rp.mjs
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.on  node --single-threaded --predictable /tmp/rp.mjs --mb 30 --count
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.off node --single-threaded --predictable /tmp/rp.mjs --mb 30 --count --off
 *
 * (instructions: valgrind's "I refs" line; `callgrind_annotate` splits out TurboFan's
 * `compiler::` functions; per datagram: the difference between two sizes, e.g. 30 and 60 MB,
 * ÷ the difference in datagrams, which leaves start-up and most compiles out).
 * Without valgrind it prints the receiver's CPU in `handleDatagram` (process.cpuUsage, noisy).
 * Diagnostic only, not part of `npm run bench`.
 */
import { setReceivePrediction } from '../src/core/receive-prediction.js';
import { Pair } from '../test/helpers/pair.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const bytes = numberOption(args, 'mb', 20) * 1e6;
const off = args.includes('--off');
setReceivePrediction(!off);

const pair = new Pair({ seed: 1, config: { maxDatagramSize: 1452 } });
pair.keepMessages = false;
const MESSAGE = 64 * 1024;
const payload = new Uint8Array(MESSAGE).fill(7);
const count = Math.ceil(bytes / MESSAGE);
const b = pair.b;
let cpu = 0;
// `--count` (under valgrind): no clock around each receive (two getrusage calls per datagram).
if (!args.includes('--count')) {
  const receive = b.handleDatagram.bind(b);
  b.handleDatagram = (now, datagram, authenticated, address, port) => {
    const t = process.cpuUsage();
    receive(now, datagram, authenticated, address, port);
    const d = process.cpuUsage(t);
    cpu += d.user + d.system;
  };
}
let sent = 0;
const start = process.cpuUsage();
while (pair.sides[1].deliveredBytes < count * MESSAGE) {
  while (sent < count && sent - Math.floor(pair.sides[1].deliveredBytes / MESSAGE) < 64) {
    pair.a.send(payload);
    sent++;
  }
  if (!pair.step()) break;
}
const total = process.cpuUsage(start);
const s = b.stats(pair.now);
console.log(
  JSON.stringify({
    prediction: !off,
    mb: bytes / 1e6,
    delivered: pair.sides[1].deliveredBytes,
    datagramsReceived: s.packetsReceived,
    receiverCpuMs: +(cpu / 1000).toFixed(1),
    receiverUsPerDatagram: +(cpu / s.packetsReceived).toFixed(3),
    processCpuMs: +((total.user + total.system) / 1000).toFixed(1),
  }),
);
