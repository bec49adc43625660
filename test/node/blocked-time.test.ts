import { describe, expect, it } from 'vitest';
import { createEndpoint } from '../../src/index.js';
import type { Clock, Connection } from '../../src/index.js';
import { LossySocket, Rng, SimNetwork } from '../../src/testing/index.js';

/**
 * stats()' time blocked per cause through the Node shell, on a clock where sending costs time
 * (as a real CPU's does): each datagram the sender's socket takes moves its clock on by COST ms,
 * without firing anything. A flush reads the clock once (its `now`) but its window leaves over
 * COST × datagrams: that time was spent sending, not blocked by the window or the pacer
 * (core/blocked-time.ts, EndpointCore.flushed). Virtual time otherwise: exact and repeatable.
 */
const COST = 0.02;

function costlyClock(net: SimNetwork): { clock: Clock; charge(): void } {
  let spent = 0;
  const clock: Clock = {
    now: () => net.clock.now() + spent,
    // A deadline on the sender's clock, as one on the network's (time spent later makes it late, as a busy CPU does).
    setTimer: (deadline, fn) =>
      net.clock.setTimer(deadline - spent, () => {
        // (net time + spent) − spent may round below the deadline: never fire before it.
        const early = deadline - clock.now();
        if (early > 0) spent += early;
        fn();
      }),
    clearTimer: (handle) => net.clock.clearTimer(handle),
  };
  return { clock, charge: () => (spent += COST) };
}

describe('time blocked by congestion', () => {
  it('does not count the time the sender spends sending its window: only the time data waited', async () => {
    const net = new SimNetwork({ seed: 7, impairment: { delay: 5 } });
    const rng = new Rng(7);
    const randomBytes = (n: number) => rng.bytes(n);
    const { clock, charge } = costlyClock(net);
    let sent = 0;
    const socket = new LossySocket(net.socket('10.0.0.1'), {
      clock: net.clock,
      drop: (_d, direction) => {
        if (direction === 'send') {
          charge();
          sent++;
        }
        return false;
      },
    });
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes, acceptConnections: true });
    const client = await createEndpoint({ socket, clock, randomBytes });
    let received = 0;
    server.on('connection', (c: Connection) => c.on('message', (m: Buffer) => (received += m.length)));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 5000)).toBe(true);
    const opened = clock.now();
    const before = conn!.stats();
    const accounted = (s: ReturnType<Connection['stats']>): number =>
      s.timeBlockedByCongestion + s.timeBlockedByPacing + s.timeBlockedByFlowControl + s.timeAppLimited;
    const sentBefore = sent;
    const total = 2 * 1024 * 1024;
    const chunk = Buffer.alloc(16 * 1024, 7);
    for (let i = 0; i < total / chunk.length; i++) conn!.send(chunk);
    expect(await net.runUntilAsync(() => received === total, 60_000)).toBe(true);
    const after = conn!.stats();
    const elapsed = clock.now() - opened;
    const sending = COST * (sent - sentBefore);
    // The window was what held it back most of the time (the test would mean little otherwise).
    expect(after.timeBlockedByCongestion + after.timeBlockedByPacing - before.timeBlockedByCongestion - before.timeBlockedByPacing).toBeGreaterThan(0.3 * elapsed);
    // What no cause got is the time spent sending: all of it (the old code gave it to the
    // cause met at the flush's end, so none was left), and never more than it.
    const unaccounted = elapsed - (accounted(after) - accounted(before));
    expect(unaccounted).toBeGreaterThan(0.9 * sending);
    expect(unaccounted).toBeLessThanOrEqual(sending + 1e-6);
    client.destroy();
    server.destroy();
  });
});
