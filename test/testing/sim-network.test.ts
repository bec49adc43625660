import { describe, expect, it } from 'vitest';
import { LossySocket, SimNetwork } from '../../src/testing/index.js';
import type { RemoteInfo } from '../../src/node/socket.js';

const u32 = (i: number): Uint8Array => {
  const p = new Uint8Array(32);
  new DataView(p.buffer).setUint32(0, i);
  return p;
};
const idOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset).getUint32(0);

describe('SimNetwork', () => {
  it('delivers between two sockets, with source address and port, in virtual time', () => {
    const net = new SimNetwork({ seed: 1, impairment: { delay: 25 } });
    const a = net.socket('10.0.0.1', 4000);
    const b = net.socket('10.0.0.2', 5000);
    const got: Array<{ text: string; from: RemoteInfo; at: number }> = [];
    b.on('message', (msg, from) => {
      got.push({ text: msg.toString(), from, at: net.clock.now() });
      b.send(Buffer.from(`echo ${msg.toString()}`), from.port, from.address);
    });
    const echoes: string[] = [];
    a.on('message', (msg) => echoes.push(`${msg.toString()}@${net.clock.now()}`));
    a.send(Buffer.from('hello'), 5000, '10.0.0.2');
    expect(got).toHaveLength(0); // nothing moves until the clock does
    net.run();
    expect(got).toEqual([{ text: 'hello', from: { address: '10.0.0.1', port: 4000, family: 'IPv4', size: 5 }, at: 25 }]);
    expect(echoes).toEqual(['echo hello@50']);
    expect(a.address()).toEqual({ address: '10.0.0.1', port: 4000, family: 'IPv4' });
  });

  it('copies at send time: the sender may reuse its buffer', () => {
    const net = new SimNetwork({ impairment: { delay: 1 } });
    const a = net.socket('a');
    const b = net.socket('b', 9);
    const got: number[] = [];
    b.on('message', (msg) => got.push(msg[0]!));
    const buf = new Uint8Array([1]);
    a.send(buf, 9, 'b');
    buf[0] = 2;
    a.send(buf, 9, 'b');
    net.run();
    expect(got).toEqual([1, 2]);
  });

  it('applies per-direction impairments and counts per link', () => {
    const net = new SimNetwork({ seed: 3 });
    const a = net.socket('A', 1);
    const b = net.socket('B', 2);
    net.link('A', 'B', { loss: 0.5 });
    let atB = 0;
    let atA = 0;
    b.on('message', () => atB++);
    a.on('message', () => atA++);
    for (let i = 0; i < 1000; i++) {
      a.send(u32(i), 2, 'B');
      b.send(u32(i), 1, 'A');
    }
    net.run();
    expect(atA).toBe(1000);
    expect(atB).toBeGreaterThan(400);
    expect(atB).toBeLessThan(600);
    expect(net.counters('A', 'B')).toMatchObject({ sent: 1000, delivered: atB, droppedLoss: 1000 - atB });
    expect(net.counters('B', 'A')).toMatchObject({ sent: 1000, delivered: 1000, dropped: 0 });
    expect(net.totals()).toMatchObject({ sent: 2000, delivered: 1000 + atB, undeliverable: 0 });
    net.link('A', 'B', null); // back to the perfect default
    a.send(u32(0), 2, 'B');
    net.run();
    expect(atB).toBe(net.counters('A', 'B').delivered);
  });

  it('replays the same run from the same seed, and a different one from another', () => {
    const trace = (seed: number): string[] => {
      const net = new SimNetwork({ seed, impairment: { loss: 0.1, delay: 10, jitter: 8, duplicate: 0.02, reorder: 0.02 } });
      const a = net.socket('10.0.0.1');
      const b = net.socket('10.0.0.2', 7);
      const log: string[] = [];
      b.on('message', (msg, from) => {
        log.push(`${idOf(msg)}@${net.clock.now().toFixed(3)}`);
        if (idOf(msg) % 2 === 0) b.send(msg, from.port, from.address);
      });
      a.on('message', (msg) => log.push(`echo ${idOf(msg)}@${net.clock.now().toFixed(3)}`));
      for (let i = 0; i < 200; i++) net.clock.setTimer(i * 2, () => a.send(u32(i), 7, '10.0.0.2'));
      net.run();
      return log;
    };
    const first = trace(11);
    expect(first.length).toBeGreaterThan(200);
    expect(trace(11)).toEqual(first);
    expect(trace(12)).not.toEqual(first);
  });

  it('runUntil stops as soon as the predicate holds, or at the limit', () => {
    const net = new SimNetwork({ impairment: { delay: 100 } });
    const a = net.socket('a');
    const b = net.socket('b', 1);
    let got = 0;
    b.on('message', () => got++);
    for (let i = 0; i < 5; i++) net.clock.setTimer(i * 50, () => a.send(u32(i), 1, 'b'));
    expect(net.runUntil(() => got >= 2, 10_000)).toBe(true);
    expect(net.clock.now()).toBe(150);
    expect(net.runUntil(() => got >= 10, 1000)).toBe(false);
    expect(net.clock.now()).toBe(1150);
    expect(got).toBe(5);
  });

  it('run(limit) lets exactly that much virtual time pass', () => {
    const net = new SimNetwork({ startTime: 1000 });
    let fired = 0;
    net.clock.setTimer(1500, () => fired++);
    net.clock.setTimer(2500, () => fired++);
    expect(net.run(1000)).toBe(2000);
    expect(fired).toBe(1);
    expect(net.clock.pending).toBe(1);
  });

  it('works without sockets: two SimPorts wired straight to a receiver', () => {
    const net = new SimNetwork({ impairment: { delay: 5 } });
    const seen: string[] = [];
    const server = net.attach('srv', 443, (data, from) => {
      seen.push(`srv got ${data.length}B from ${from.address}:${from.port}`);
      server.send(data.subarray(0, 1), from.port, from.address);
    });
    const client = net.attach('cli', undefined, (data) => seen.push(`cli got ${data.length}B at ${net.clock.now()}`));
    expect(client.port).toBe(49152);
    expect(client.send(new Uint8Array(10), 443, 'srv')).toBeNull();
    net.run();
    expect(seen).toEqual(['srv got 10B from cli:49152', 'cli got 1B at 10']);
    client.close();
    server.send(new Uint8Array(1), 49152, 'cli');
    net.run();
    expect(net.totals().undeliverable).toBe(1);
  });

  it('socket errors look like Node\'s: EADDRINUSE, EMSGSIZE, send after close, bad port', async () => {
    const net = new SimNetwork({ maxDatagramSize: 1200 });
    const a = net.socket('h', 1);
    expect(() => net.socket('h', 1)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const results: Array<Error | null> = [];
    a.send(new Uint8Array(1201), 2, 'h', (err) => results.push(err));
    a.send(new Uint8Array(1200), 2, 'h', (err) => results.push(err));
    expect(() => a.send(new Uint8Array(1), 0, 'h')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    net.run();
    expect(results[0]).toMatchObject({ code: 'EMSGSIZE' });
    expect(results[1]).toBeNull();
    const closed = new Promise<void>((resolve) => a.close(resolve));
    expect(() => a.send(new Uint8Array(1), 2, 'h')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' }));
    await closed;
    expect(net.socket('h', 1).address().port).toBe(1); // the port is free again
  });

  it('runUntilAsync lets promise-based code progress between virtual instants', async () => {
    const net = new SimNetwork({ impairment: { delay: 10 } });
    const a = net.socket('a');
    const b = net.socket('b', 1);
    const nextMessage = () => new Promise<Buffer>((resolve) => b.once('message', (m) => resolve(m)));
    let done = false;
    const flow = (async () => {
      for (let i = 0; i < 3; i++) {
        const p = nextMessage();
        a.send(u32(i), 1, 'b');
        expect(idOf(await p)).toBe(i);
      }
      done = true;
    })();
    expect(await net.runUntilAsync(() => done, 1000)).toBe(true);
    await flow;
    expect(net.clock.now()).toBe(30);
  });

  it('a LossySocket over a SimSocket delays through the virtual clock and drops by filter', () => {
    const net = new SimNetwork();
    const raw = net.socket('a', 1);
    const b = net.socket('b', 2);
    const sock = new LossySocket(raw, {
      clock: net.clock,
      send: { delay: 40 },
      drop: (pkt, dir) => dir === 'send' && pkt[0] === 0xff,
    });
    const arrivals: string[] = [];
    b.on('message', (m) => arrivals.push(`${m[0]}@${net.clock.now()}`));
    sock.send(new Uint8Array([1]), 2, 'b');
    sock.send(new Uint8Array([0xff]), 2, 'b');
    net.run();
    expect(arrivals).toEqual(['1@40']);
    expect(sock.counters.filterDropped).toEqual({ send: 1, receive: 0 });
    sock.send(new Uint8Array([2]), 2, 'b');
    sock.close();
    net.run();
    expect(arrivals).toEqual(['1@40']); // held datagram cancelled by close
  });

  it('is fast: many lossy request/response exchanges per run', () => {
    const net = new SimNetwork({ seed: 5, impairment: { loss: 0.1, delay: 10, jitter: 2 } });
    const a = net.socket('a');
    const b = net.socket('b', 1);
    b.on('message', (m, from) => b.send(m, from.port, from.address));
    let answered = 0;
    a.on('message', () => answered++);
    // Up to 20 000 datagrams offered in one run.
    for (let i = 0; i < 10_000; i++) net.clock.setTimer(i * 0.1, () => a.send(u32(i), 1, 'b'));
    net.run();
    // Each exchange survives with p = 0.81: mean 8100, sd ≈ 39.
    expect(answered).toBeGreaterThan(7900);
    expect(answered).toBeLessThan(8300);
  });
});

describe('SimNetwork blackhole schedules', () => {
  it('count from the network start, even for a link first used later', () => {
    const net = new SimNetwork({ impairment: { blackhole: { windows: [[1000, 2000]] } } });
    const a = net.socket('a');
    const b = net.socket('b', 1);
    const got: number[] = [];
    b.on('message', (m) => got.push(m[0]!));
    for (const t of [500, 1500, 2500]) net.clock.setTimer(t, () => a.send(new Uint8Array([t / 100]), 1, 'b'));
    net.run();
    expect(got).toEqual([5, 25]);
    expect(net.counters('a', 'b').droppedBlackhole).toBe(1);
  });
});
