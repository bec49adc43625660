import { describe, expect, it } from 'vitest';
import { createEndpoint, type Connection } from '../../src/index.js';
import { Rng, SimNetwork } from '../../src/testing/index.js';
import { PausedProcess } from '../helpers/paused-process.js';
import type { Clock, TimerHandle } from '../../src/node/clock.js';

/**
 * A timer that fires long after its deadline means the process was not running (descheduled,
 * or its event loop blocked: a GC, a compile, synchronous work): the peer's datagrams of that
 * time may be waiting in the socket, unread. Node runs due timers before it polls the socket,
 * so a verdict of "the peer has been silent" (the closing linger, the idle timeout) or "this
 * packet is lost" (a loss probe) would be made on stale input. The endpoint reads first: a late
 * timer's work waits one turn of the loop (the datagrams already there are read before it).
 * Virtual time, PausedProcess (test/helpers/paused-process.ts): its overdue timers run first on
 * resume, as Node's do.
 */
async function pair(net: SimNetwork) {
  const rng = new Rng(7);
  const randomBytes = (n: number): Uint8Array => rng.bytes(n);
  const rx = new PausedProcess(net);
  const tx = new PausedProcess(net);
  const server = await createEndpoint({ clock: rx.clock, socket: rx.socket('10.0.0.2', 4433), randomBytes });
  const client = await createEndpoint({ clock: tx.clock, socket: tx.socket('10.0.0.1'), randomBytes });
  let peer: Connection | null = null;
  server.on('connection', (c: Connection) => {
    peer = c;
    c.on('error', () => undefined);
  });
  let conn: Connection | null = null;
  void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
  expect(await net.runUntilAsync(() => conn !== null && peer !== null, 10_000)).toBe(true);
  return { rx, tx, server, client, conn: conn! as Connection, peer: peer! as Connection };
}

describe('a timer that fires late', () => {
  it("does not end a closing peer's linger on stale input: both sides close gracefully after the peer's process stalled", async () => {
    const net = new SimNetwork({ seed: 3, impairment: { delay: 10 } });
    const { rx, server, client, conn, peer } = await pair(net);
    let received = 0;
    peer.on('message', (m: Buffer) => (received += m.length));
    conn.send(Buffer.alloc(10_000, 1));
    let flushed = false;
    void conn.flush().then(() => (flushed = true));
    expect(await net.runUntilAsync(() => flushed, 10_000)).toBe(true);
    expect(received).toBe(10_000);

    // The receiver's answer to our CLOSE (its ACK and its own CLOSE) is lost...
    net.link('10.0.0.2', '10.0.0.1', { loss: 1 });
    let closeError: unknown = undefined;
    let closed = false;
    conn.close().then(
      () => (closed = true),
      (e: unknown) => ((closeError = e), (closed = true)),
    );
    expect(await net.runUntilAsync(() => peer.state === 'closing', 5_000)).toBe(true);
    // ...and then its process stalls for 10 s (longer than the linger, shorter than the idle
    // timeout) while our CLOSE copies queue up in its socket.
    net.link('10.0.0.2', '10.0.0.1', null);
    rx.pause(10_000);
    const stalledAt = net.clock.now();
    expect(await net.runUntilAsync(() => closed && peer.state === 'closed', 60_000)).toBe(true);
    // On resume it reads our CLOSE copies before judging the linger, answers, and we close
    // gracefully soon after, instead of failing with ERR_IDLE_TIMEOUT 30 s later.
    expect(closeError).toBeUndefined();
    expect(net.clock.now() - stalledAt).toBeLessThan(12_000);
    client.destroy();
    server.destroy();
  });
});

/** A clock whose timers fire only when the test says, at the time it says: a timer fires as late as the test likes. */
class ManualClock implements Clock {
  t = 0;
  readonly timers = new Map<object, { deadline: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimer(deadline: number, fn: () => void): TimerHandle {
    const handle = {};
    this.timers.set(handle, { deadline, fn });
    return handle;
  }
  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle);
  }
  /** Move to `t` and fire the timers due by then that were set before this call (not the ones they set). */
  fireAt(t: number): void {
    this.t = t;
    for (const [handle, timer] of [...this.timers]) {
      if (timer.deadline > t || !this.timers.has(handle)) continue;
      this.timers.delete(handle);
      timer.fn();
    }
  }
}

describe('the late-timer turn', () => {
  it('is taken again after a turn that left nothing to time: the next late timer also waits for the socket', async () => {
    const net = new SimNetwork({ seed: 4 });
    const clock = new ManualClock();
    const rng = new Rng(9);
    const client = await createEndpoint({ clock, socket: net.socket('10.0.0.1'), randomBytes: (n: number) => rng.bytes(n) });
    const sent = (): number => client.stats().datagramsSent;
    // connect() resolves the host first (a promise), then sends its INITIAL.
    const attempt = async (): Promise<AbortController> => {
      const ac = new AbortController();
      client.connect({ port: 4433, host: '10.0.0.9', signal: ac.signal }).catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      return ac;
    };
    // A connect to nobody: its INITIAL, and its retransmission timer.
    const first = await attempt();
    expect(sent()).toBe(1);
    const deadline = Math.min(...[...clock.timers.values()].map((t) => t.deadline));
    // Fired 100 ms late: nothing is done before the socket was read (a timer for now).
    clock.fireAt(deadline + 100);
    expect(sent()).toBe(1);
    // While that turn waits, the attempt ends: nothing is left to time.
    first.abort();
    expect(clock.timers.size).toBe(0);
    // A second connect, whose timer too fires late: it waits for the socket as well.
    await attempt();
    expect(sent()).toBe(2);
    const again = Math.min(...[...clock.timers.values()].map((t) => t.deadline));
    clock.fireAt(again + 100);
    expect(sent()).toBe(2);
    // Its turn: the retransmission.
    clock.fireAt(again + 100);
    expect(sent()).toBe(3);
    client.destroy();
  });
});
