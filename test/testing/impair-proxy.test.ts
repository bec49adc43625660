import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ImpairProxy, LinkModel, Rng, VirtualClock } from '../../src/testing/index.js';
import type { Impairment, OverflowEvent } from '../../src/testing/index.js';

const u32 = (i: number, size = 64): Buffer => {
  const p = Buffer.alloc(size);
  p.writeUInt32BE(i, 0);
  return p;
};

async function boundSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** Resolves once `count()` ≥ `target`, checked on each message; rejects after `ms` (bounded). */
function waitFor(count: () => number, target: number, socket: dgram.Socket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (count() < target) return;
      clearTimeout(timer);
      socket.off('message', check);
      resolve();
    };
    const timer = setTimeout(() => {
      socket.off('message', check);
      reject(new Error(`timed out at ${count()} of ${target}`));
    }, ms);
    socket.on('message', check);
    check();
  });
}

describe('ImpairProxy between real sockets on 127.0.0.1', () => {
  it('loses and delays upstream traffic within bounds, exactly as its seeded model says', async () => {
    const up: Impairment = { loss: 0.1, delay: 20 };
    const seed = 17;
    const server = await boundSocket();
    const client = await boundSocket();
    const proxy = await ImpairProxy.start({ target: { address: '127.0.0.1', port: server.address().port }, up, seed, log: null });
    try {
      const sentAt = new Map<number, number>();
      const delays: number[] = [];
      const received: number[] = [];
      server.on('message', (msg) => {
        const id = msg.readUInt32BE(0);
        received.push(id);
        delays.push(performance.now() - sentAt.get(id)!);
      });
      const twin = new LinkModel(up, Rng.derive(seed, 'proxy:up'));
      const expected: number[] = [];
      const total = 300;
      for (let start = 0; start < total; start += 30) {
        for (let i = start; i < start + 30; i++) {
          if (twin.admit(0, u32(i)).length > 0) expected.push(i);
          sentAt.set(i, performance.now());
          client.send(u32(i), proxy.address().port, '127.0.0.1');
        }
        await waitFor(() => received.length, expected.length, server);
      }
      expect(received).toEqual(expected);
      // Binomial(300, 0.1): mean 30, sd ≈ 5.2; the seeded run must sit within 4 sd.
      const lossRate = 1 - received.length / total;
      expect(lossRate).toBeGreaterThan(0.1 - 0.07);
      expect(lossRate).toBeLessThan(0.1 + 0.07);
      // Never early (timer granularity ≤ 1.5 ms); the median not absurdly late.
      expect(Math.min(...delays)).toBeGreaterThan(18.5);
      const median = [...delays].sort((a, b) => a - b)[delays.length >> 1]!;
      expect(median).toBeLessThan(20 + 150);
    } finally {
      client.close();
      server.close();
      const counters = await proxy.close();
      expect(counters.up).toMatchObject({ sent: 300, droppedLoss: 300 - counters.up.delivered });
      expect(counters.clientsSeen).toBe(1);
    }
  });

  it('keeps several clients apart: each gets its own replies', async () => {
    const server = await boundSocket();
    server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address)); // echo
    const proxy = await ImpairProxy.start({ target: { address: '127.0.0.1', port: server.address().port }, log: null });
    const clients = [await boundSocket(), await boundSocket(), await boundSocket()];
    try {
      const got = clients.map(() => [] as number[]);
      clients.forEach((c, k) => c.on('message', (msg) => got[k]!.push(msg.readUInt32BE(0))));
      for (let round = 0; round < 5; round++) {
        clients.forEach((c, k) => c.send(u32(k * 100 + round), proxy.address().port, '127.0.0.1'));
        await Promise.all(clients.map((c, k) => waitFor(() => got[k]!.length, round + 1, c)));
      }
      clients.forEach((_, k) => expect(got[k]).toEqual([0, 1, 2, 3, 4].map((r) => k * 100 + r)));
      expect(proxy.counters).toMatchObject({ clientsSeen: 3, clients: 3 });
      expect(proxy.counters.down.delivered).toBe(15);
    } finally {
      for (const c of clients) c.close();
      server.close();
      await proxy.close();
    }
  });

  it('reports queue overflow loudly, and delays in the given (virtual) clock', async () => {
    const server = await boundSocket();
    const clock = new VirtualClock();
    const lines: string[] = [];
    const proxy = await ImpairProxy.start({
      target: { address: '127.0.0.1', port: server.address().port },
      up: { rate: 10_000, queue: 2000 },
      clock,
      log: (line) => lines.push(line),
    });
    const client = await boundSocket();
    try {
      const overflows: OverflowEvent[] = [];
      proxy.on('overflow', (e: OverflowEvent) => overflows.push(e));
      const proxied = new Promise<void>((resolve) => proxy.on('client', () => resolve()));
      for (let i = 0; i < 10; i++) client.send(u32(i, 1000), proxy.address().port, '127.0.0.1');
      await proxied;
      // Virtual time stands still, so the queue holds exactly two 1000-byte datagrams.
      let received = 0;
      server.on('message', () => received++);
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('datagrams never reached the proxy')), 5000);
        const poll = (): void => {
          if (proxy.counters.up.sent === 10) {
            clearTimeout(timer);
            resolve();
          } else setImmediate(poll);
        };
        poll();
      });
      await arrived;
      expect(proxy.counters.up).toMatchObject({ sent: 10, droppedQueue: 8, queuePeakBytes: 2000 });
      expect(overflows.map((e) => e.droppedQueue)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(lines).toHaveLength(1); // loud, but rate-limited
      expect(lines[0]).toMatch(/QUEUE OVERFLOW \(up\): 1 datagram/);
      expect(received).toBe(0);
      clock.advanceTo(1000); // both leave the bottleneck (at 100 and 200 ms)
      await waitFor(() => received, 2, server);
      expect(received).toBe(2);
    } finally {
      client.close();
      server.close();
      await proxy.close();
    }
  });

  it('the CLI forwards, and prints its counters as JSON on SIGINT', async () => {
    const server = await boundSocket();
    const client = await boundSocket();
    const bin = fileURLToPath(new URL('../../src/bin/impair.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', bin, '--target', `127.0.0.1:${server.address().port}`, '--loss', '0.5', '--seed', '3'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000); // bounded, whatever happens
    try {
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', () => reject(new Error(`CLI exited early: ${stderr}`)));
      });
      const twin = new LinkModel({ loss: 0.5 }, Rng.derive(3, 'proxy:up'));
      let expected = 0;
      for (let i = 0; i < 40; i++) expected += twin.admit(0, u32(i)).length;
      let received = 0;
      server.on('message', () => received++);
      for (let i = 0; i < 40; i++) client.send(u32(i), port, '127.0.0.1');
      await waitFor(() => received, expected, server);
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code).toBe(0);
      const counters = JSON.parse(stdout) as { up: { sent: number; delivered: number }; clientsSeen: number };
      expect(counters.up).toMatchObject({ sent: 40, delivered: expected });
      expect(counters.clientsSeen).toBe(1);
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
      client.close();
      server.close();
    }
  });
});
