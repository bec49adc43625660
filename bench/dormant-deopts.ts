/**
 * Deoptimisations a dormant connection's sleep and wake cause in a process where another
 * connection is busy (review of stop 23, wt/dormant): two core pairs in virtual time, one in a
 * bulk transfer, the other sleeping and waking `--cycles` times; the same with the dormant form
 * off (`--off`). Count the deopts per phase with V8's trace:
 *
 *   node --trace-deopt --import tsx bench/dormant-deopts.ts [--off] [--cycles 4] 2>&1 \
 *     | awk '/^phase/{print b+0, $0; next} /bailout \(kind/{b++}'
 */
import { setDormantStages } from '../src/core/dormant-stages.js';
import { Pair } from '../test/helpers/pair.js';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
setDormantStages(!args.includes('--off'));
const cycles = numberOption(args, 'cycles', 4);
const busy = new Pair({ seed: 3, link: { delay: 1 } });
const idle = new Pair({ seed: 4, link: { delay: 1 } });
idle.a.send(Buffer.from('hi'), 'ordered');
idle.runUntil(() => idle.sides[1].received.length === 1, 10_000);
const chunk = new Uint8Array(100_000);
const run = (ms: number): void => {
  for (let i = 0; i < ms; i++) {
    if (busy.a.bufferedAmount < 1_000_000) busy.a.send(chunk, 'ordered');
    busy.runTo(busy.now + 1);
  }
};
run(3000);
console.log('phase warm');
for (let cycle = 0; cycle < cycles; cycle++) {
  idle.runTo(idle.now + 5000);
  console.log(`phase slept ${cycle} (dormant: ${String((idle.a as unknown as { dormant: unknown }).dormant !== null)})`);
  run(1500);
  idle.a.send(Buffer.from('again'), 'ordered');
  idle.runUntil(() => idle.sides[1].received.length === 2 + cycle, 10_000);
  run(1500);
  console.log(`phase woke ${cycle}`);
}
