import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/index.js';
import { realClock, type Clock, type TimerHandle } from '../../src/index.js';
import { destroyAll, gc, loopbackEndpoint, until, within } from './helpers.js';

/** realClock, counting the timers armed through it. */
function countingClock() {
  const active = new Set<TimerHandle>();
  const counts = { armed: 0, maxActive: 0 };
  const clock: Clock = {
    now: () => realClock.now(),
    setTimer(deadline, fn) {
      const handle: TimerHandle = realClock.setTimer(deadline, () => {
        active.delete(handle);
        fn();
      });
      active.add(handle);
      counts.armed++;
      counts.maxActive = Math.max(counts.maxActive, active.size);
      return handle;
    },
    clearTimer(handle) {
      active.delete(handle);
      realClock.clearTimer(handle);
    },
  };
  return { clock, counts, active };
}

describe('many connections, one timer', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('1,000 connections share one timer per endpoint and cost little memory each when idle', async () => {
    const serverClock = countingClock();
    const server = await loopbackEndpoint(endpoints, { clock: serverClock.clock, acceptConnections: true });
    const client = await loopbackEndpoint(endpoints, { maxPendingConnects: 1000 });
    const port = server.address().port;
    gc();
    const before = process.memoryUsage();
    let received = 0;
    server.on('connection', (c) => c.on('message', () => received++));
    const conns = await within(20_000, 'connect 1,000', Promise.all(Array.from({ length: 1000 }, () => client.connect(port, '127.0.0.1'))));
    conns.forEach((c, i) => c.send(Buffer.from(`hello ${i}`)));
    await until(20_000, 'one message on each connection', () => received === 1000);
    expect(server.connections.length).toBe(1000);
    gc();
    // Both sides' state for 1,000 connections (2,000 engines).
    const after = process.memoryUsage();
    const heapPerConnection = (after.heapUsed - before.heapUsed) / 2000;
    const buffersPerConnection = (after.arrayBuffers - before.arrayBuffers) / 2000;
    expect(heapPerConnection).toBeLessThan(16 * 1024);
    // Datagrams come from one slab shared by every connection (src/core/slab.ts): an idle
    // connection holds no buffer of its own.
    expect(buffersPerConnection).toBeLessThan(16 * 1024);
    // One timer for every deadline of every connection, plus at most one "flush after this
    // batch of received datagrams" task: O(1) whatever the number of connections.
    expect(serverClock.counts.maxActive).toBeLessThanOrEqual(2);
    expect(serverClock.active.size).toBeLessThanOrEqual(1);
    // Closing waits for every connection's closing period, 3 PTOs (RFC 9000 §10.2) from RTTs
    // sampled during the 1,000 handshakes at once: seconds on a loaded machine. Bounded, not timed.
    await within(60_000, 'close', client.close());
    await within(60_000, 'server close', server.close());
    expect(serverClock.active.size).toBe(0);
  }, 150_000);
});
