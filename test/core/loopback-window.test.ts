import { describe, expect, it } from 'vitest';
import { loopbackTransfer, STEADY } from '../helpers/loopback.js';

/**
 * The loopback bulk transfer in virtual time (test/helpers/loopback.ts): the receiver's CPU is
 * the bound, so any time it spends idle is goodput the protocol lost (the data was not there).
 */
describe('loopback bulk: the window keeps the receiver supplied while the sender is away', () => {
  it('a sender that stops for 1 ms now and then (a scavenge, being descheduled) does not starve the receiver', () => {
    // Before: the offload budget was three 64 KB quanta, ~0.8 ms of the receiver's work at
    // these costs, so each stop of the sender longer than that left the receiver idle
    // (1.0 / 2.4 ms over 10 MB for seeds 1 / 2, 2-5 % of the goodput).
    for (const seed of [1, 2]) {
      const r = loopbackTransfer(10e6, { ...STEADY, pauses: { everyMs: 5, ms: 1, seed } });
      expect(r.receiverIdleMs).toBeLessThan(0.2);
    }
  });

  it('without stops the receiver is never idle after the first round trips', () => {
    const r = loopbackTransfer(5e6, STEADY);
    expect(r.receiverIdleMs).toBeLessThan(0.2);
    // At most what its CPU allows (1,452-byte datagrams at 6 µs each, less the headers).
    expect(r.goodputMBps).toBeLessThan(1452 / STEADY.recvUs);
  });
});
