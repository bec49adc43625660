/**
 * The loopback bulk transfer modelled in virtual time (test/helpers/loopback.ts): two processes
 * that are each one CPU, the receiver the bound (6 µs per datagram, the sender 4 µs, 8 µs per ACK,
 * libuv's batches of 32, a 1 ms timer granularity), with and without the sender stopping now and
 * then (a scavenge, a compile, being descheduled: `--pause-ms` every `--pause-every` ms on
 * average, seeded). What the protocol loses is the receiver's idle time: with the data there
 * it would have been working. Deterministic; compare before/after a change.
 *
 *   node --import tsx bench/loopback-sim.ts [--mb 20] [--pause-ms 1] [--pause-every 5] [--seeds 3]
 */
import { loopbackTransfer, MEASURED, STEADY } from '../test/helpers/loopback.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const bytes = numberOption(args, 'mb', 20) * 1e6;
const pauseMs = numberOption(args, 'pause-ms', 1);
const pauseEvery = numberOption(args, 'pause-every', 5);
const seeds = numberOption(args, 'seeds', 3);
const ceiling = 1452 / MEASURED.recvUs;
console.log(`loopback-sim: ${bytes / 1e6} MB, receiver ${MEASURED.recvUs} µs/datagram (ceiling ${ceiling.toFixed(0)} MB/s), sender ${MEASURED.sendUs} µs + ${MEASURED.ackUs} µs/ACK, virtual time`);
const row = (label: string, r: ReturnType<typeof loopbackTransfer>): void =>
  console.log(
    `  ${label.padEnd(34)} ${r.goodputMBps.toFixed(1).padStart(6)} MB/s  ${r.ms.toFixed(1).padStart(7)} ms  receiver idle ${r.receiverIdleMs.toFixed(1).padStart(6)} ms (first 100 ms ${r.receiverIdleFirst100Ms.toFixed(1)})  sender idle ${r.senderIdleMs.toFixed(1)} ms`,
  );
row('JIT warm-up (5x costs, 40 ms)', loopbackTransfer(bytes));
const warm = STEADY;
row('steady costs', loopbackTransfer(bytes, warm));
for (let seed = 1; seed <= seeds; seed++) {
  row(`+ sender stops ${pauseMs} ms every ~${pauseEvery} ms, seed ${seed}`, loopbackTransfer(bytes, { ...warm, pauses: { everyMs: pauseEvery, ms: pauseMs, seed } }));
}
