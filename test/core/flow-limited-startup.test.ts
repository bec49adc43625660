import { describe, expect, it } from 'vitest';
import type { Pair } from '../helpers/pair.js';
import { impairedPair, queueBulk } from '../helpers/scenarios.js';

/** The controller's phase (BBR's mode), read from the engine for this test only. */
function ccState(pair: Pair): string {
  const core = pair.sides[0].core as unknown as { recovery: { cc: { state: string } } };
  return core.recovery.cc.state;
}

/**
 * The impairment benchmark's path in virtual time: 10 ms each way, 1 % random loss both ways,
 * a 60 MB/s bottleneck with a deep queue, and the default 4 MiB receive window. BBR's Startup
 * fills the queue; with losses in it the receiver's credit waits for each repair, and the
 * receive window binds. Those rate samples measure the receiver, not an idle application:
 * counted as application-limited they hid the plateau from BBR's full-pipe check, so it stayed
 * in Startup (2.89x pacing) for the whole transfer, the queue and so every repair grew, and
 * the sender spent half the transfer blocked by flow control.
 */
describe('BBR leaves Startup when the receive window, not the application, limits it', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: out of Startup within 400 ms, flow-control-blocked under a third of the transfer`, () => {
      const pair = impairedPair(seed, 0.01);
      const bytes = 20e6;
      queueBulk((d) => pair.a.send(d), bytes);
      // It starts in Startup (else "left Startup" below would hold from the first step).
      expect(ccState(pair)).toBe('startup');
      let leftStartupAt = Infinity;
      pair.runUntil(() => {
        if (leftStartupAt === Infinity && ccState(pair) !== 'startup') leftStartupAt = pair.now;
        return pair.sides[1].deliveredBytes >= bytes;
      }, 60_000);
      const blocked = pair.a.stats(pair.now).timeBlockedByFlowControl;
      expect(leftStartupAt).toBeLessThan(400);
      expect(blocked).toBeLessThan(pair.now / 3);
    });
  }
});
