import { describe, expect, it } from 'vitest';
import { createEndpoint } from '../../src/index.js';
import type { Connection } from '../../src/index.js';
import type { Clock } from '../../src/node/clock.js';
import { literalLookup } from '../../src/node/bind.js';
import { Rng, SimNetwork } from '../../src/testing/index.js';

/** A clock that counts the timers armed through it, and how many were due at once (setImmediate in real time). */
function countingClock(inner: Clock): Clock & { armed: number; dueNow: number } {
  const c = {
    armed: 0,
    dueNow: 0,
    now: () => inner.now(),
    setTimer(deadline: number, fn: () => void) {
      c.armed++;
      if (deadline <= inner.now()) c.dueNow++;
      return inner.setTimer(deadline, fn);
    },
    clearTimer: (h: ReturnType<Clock['setTimer']>) => inner.clearTimer(h),
  };
  return c;
}

describe('the hot path of the Node shell', () => {
  it('a request/response round trip arms no timer: the reply and its ACK leave in the turn that received the request', async () => {
    const net = new SimNetwork({ seed: 7, impairment: { delay: 1 } });
    const rng = new Rng(7);
    const randomBytes = (n: number) => rng.bytes(n);
    const serverClock = countingClock(net.clock);
    const clientClock = countingClock(net.clock);
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: serverClock, randomBytes });
    const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: clientClock, randomBytes });
    server.on('connection', (c: Connection) => c.on('message', (m) => c.send(m)));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 5000)).toBe(true);
    let trips = 0;
    conn!.on('message', () => {
      trips++;
      if (trips < 60) conn!.send('ping');
    });
    conn!.send('ping');
    // Warm up, then count what the steady state arms.
    expect(await net.runUntilAsync(() => trips >= 10, 5000)).toBe(true);
    const before = { server: serverClock.dueNow, client: clientClock.dueNow };
    const sentBefore = server.stats().datagramsSent + client.stats().datagramsSent;
    expect(await net.runUntilAsync(() => trips >= 50, 5000)).toBe(true);
    // Before: every received datagram armed a timer due now (a setImmediate in real time) to
    // flush after the socket's batch.
    expect(serverClock.dueNow - before.server).toBe(0);
    expect(clientClock.dueNow - before.client).toBe(0);
    // One datagram each way per trip: the ACK rides on the reply and on the next request.
    expect(server.stats().datagramsSent + client.stats().datagramsSent - sentBefore).toBe(2 * 40);
    client.destroy();
    server.destroy();
  });

  it('answers IP literals synchronously, so dgram sends inside send() (names still go to DNS)', async () => {
    let sync: unknown[] | null = null;
    literalLookup('127.0.0.1', 4, (...args) => (sync = args));
    expect(sync).toEqual([null, '127.0.0.1', 4]);
    sync = null;
    literalLookup('::1', 6, (...args) => (sync = args));
    expect(sync).toEqual([null, '::1', 6]);
    let later: unknown[] | null = null;
    const done = new Promise<void>((resolve) =>
      literalLookup('localhost', 4, (...args) => {
        later = args;
        resolve();
      }),
    );
    expect(later).toBeNull();
    await done;
    expect(later).not.toBeNull();
  });
});
