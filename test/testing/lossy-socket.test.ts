import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { LinkModel, LossySocket, Rng } from '../../src/testing/index.js';
import type { Impairment } from '../../src/testing/index.js';

const u32 = (i: number): Uint8Array => {
  const p = new Uint8Array(64);
  new DataView(p.buffer).setUint32(0, i);
  return p;
};

async function boundSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** Resolves when `count()` reaches `target`, rejects after `ms` of real time (bounded test). */
function waitFor(count: () => number, target: number, emitter: dgram.Socket | LossySocket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (count() >= target) return resolve();
    const timer = setTimeout(() => {
      emitter.off('message', check);
      reject(new Error(`timed out at ${count()} of ${target}`));
    }, ms);
    function check(): void {
      if (count() >= target) {
        clearTimeout(timer);
        emitter.off('message', check);
        resolve();
      }
    }
    emitter.on('message', check);
  });
}

describe('LossySocket over real UDP on 127.0.0.1', () => {
  it('loses exactly what its seeded link model loses, and closes cleanly', async () => {
    const imp: Impairment = { loss: 0.2, duplicate: 0.05 };
    const seed = 21;
    const rawA = await boundSocket();
    const b = await boundSocket();
    const a = new LossySocket(rawA, { seed, send: imp });
    try {
      const received: number[] = [];
      b.on('message', (msg) => received.push(msg.readUInt32BE(0)));
      // The same model with the same stream predicts every delivery.
      const twin = new LinkModel(imp, Rng.derive(seed, 'send'));
      const expected: number[] = [];
      const total = 400;
      // Small batches, each awaited, so the loopback receive buffer can never overflow.
      for (let start = 0; start < total; start += 20) {
        for (let i = start; i < start + 20; i++) {
          for (let k = twin.admit(0, u32(i)).length; k > 0; k--) expected.push(i);
          a.send(u32(i), b.address().port, '127.0.0.1');
        }
        await waitFor(() => received.length, expected.length, b);
      }
      expect(received).toEqual(expected);
      const c = a.counters.send;
      expect(c.sent).toBe(total);
      expect(c.delivered).toBe(expected.length);
      expect(c.droppedLoss).toBeGreaterThan(40);
      expect(c.droppedLoss).toBeLessThan(120);
      expect(c.duplicated).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((resolve) => a.close(resolve));
      b.close();
    }
    expect(() => a.send(u32(0), 1, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' }));
  });

  it('impairs the receive side, delays with the real clock, and answers send callbacks', async () => {
    const a = await boundSocket();
    const rawB = await boundSocket();
    const b = new LossySocket(rawB, { seed: 4, receive: { loss: 0.5, delay: 5, jitter: 2 } });
    try {
      let got = 0;
      b.on('message', (msg, rinfo) => {
        expect(rinfo.address).toBe('127.0.0.1');
        expect(rinfo.port).toBe(a.address().port);
        expect(msg).toHaveLength(64);
        got++;
      });
      const twin = new LinkModel({ loss: 0.5, delay: 5, jitter: 2 }, Rng.derive(4, 'receive'));
      let expected = 0;
      for (let i = 0; i < 40; i++) expected += twin.admit(0, u32(i)).length;
      for (let i = 0; i < 40; i++) a.send(u32(i), rawB.address().port, '127.0.0.1');
      await waitFor(() => got, expected, b);
      expect(got).toBe(expected);
      expect(b.counters.receive).toMatchObject({ sent: 40, delivered: expected, droppedLoss: 40 - expected });
      // The callback still runs when the impairment swallowed or delayed the datagram.
      const sendB = new LossySocket(a, { seed: 1, send: { loss: 1 } });
      const [err, bytes] = await new Promise<[Error | null, number | undefined]>((resolve) =>
        sendB.send(u32(0), rawB.address().port, '127.0.0.1', (e, n) => resolve([e, n])),
      );
      expect(err).toBeNull();
      expect(bytes).toBe(64);
    } finally {
      a.close();
      await new Promise<void>((resolve) => b.close(resolve));
    }
  });

  it('rejects something that is not a socket', () => {
    expect(() => new LossySocket(null as never)).toThrow(TypeError);
  });
});

describe('LossySocket ref/unref', () => {
  it('forwards unref() and ref() to the wrapped socket (Endpoint.unref() relies on it)', async () => {
    const raw = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const calls: string[] = [];
    const unref = raw.unref.bind(raw);
    const ref = raw.ref.bind(raw);
    raw.unref = () => (calls.push('unref'), unref());
    raw.ref = () => (calls.push('ref'), ref());
    const lossy = new LossySocket(raw, { seed: 1 });
    expect(lossy.unref().ref()).toBe(lossy);
    expect(calls).toEqual(['unref', 'ref']);
    lossy.close();
  });
});
