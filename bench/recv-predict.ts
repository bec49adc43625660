/**
 * The receive path's header prediction (src/core/connection.ts `readPredicted`), A against B in
 * one checkout: a bulk transfer between two engines in virtual time (test/helpers/pair.ts: no
 * sockets, no timers, 1,452-byte datagrams, 64 KiB messages), with the prediction on or off
 * (`--off`). The wire is the same either way (test/core/header-prediction.test.ts), so the
 * sender's work is too, and the difference between two runs is the receiver's. Meant to be run
 * under a counter rather than a clock, e.g.
 *
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.on  node --import tsx bench/recv-predict.ts --mb 20
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.off node --import tsx bench/recv-predict.ts --mb 20 --off
 *
 * (instructions: the "Collected" line; per datagram: the difference ÷ the datagrams printed).
 * Without valgrind it prints the receiver's CPU in `handleDatagram` (process.cpuUsage, noisy).
 * Diagnostic only, not part of `npm run bench`.
 */
import { setReceivePrediction } from '../src/core/connection.js';
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
const receive = b.handleDatagram.bind(b);
let cpu = 0;
b.handleDatagram = (now, datagram, authenticated, address, port) => {
  const t = process.cpuUsage();
  receive(now, datagram, authenticated, address, port);
  const d = process.cpuUsage(t);
  cpu += d.user + d.system;
};
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
