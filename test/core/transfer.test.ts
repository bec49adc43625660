import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';

function message(seed: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (seed * 31 + i * 7) & 0xff;
  return m;
}

describe('ConnectionCore transfer', () => {
  it('delivers small ordered messages over a perfect link', () => {
    const pair = new Pair({ seed: 1 });
    const sent = [0, 1, 10, 1175, 1176, 5000].map((n, i) => message(i, n));
    for (const m of sent) pair.a.send(m);
    pair.runUntil(() => pair.sides[1].received.length === sent.length, 10_000);
    expect(pair.sides[1].received.map((m) => Buffer.from(m).toString('hex'))).toEqual(
      sent.map((m) => Buffer.from(m).toString('hex')),
    );
  });

  it('delivers 1 MiB in order over a lossy link', () => {
    const pair = new Pair({ seed: 2, link: { loss: 0.2, duplicate: 0.05, reorder: 0.05, corrupt: 0.01, jitter: 2 } });
    const sent = Array.from({ length: 20 }, (_, i) => message(i, 50_000 + i));
    for (const m of sent) pair.a.send(m);
    pair.runUntil(() => pair.sides[1].received.length === sent.length, 600_000);
    expect(pair.sides[1].received.length).toBe(sent.length);
    for (let i = 0; i < sent.length; i++) expect(Buffer.compare(pair.sides[1].received[i]!, sent[i]!)).toBe(0);
  });
});

describe('ConnectionCore lifecycle', () => {
  it('closes gracefully once everything is acknowledged, on both sides', () => {
    const pair = new Pair({ seed: 3, link: { loss: 0.1 } });
    pair.a.send(message(1, 30_000));
    pair.a.close(pair.now);
    pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 120_000);
    expect(pair.sides[1].received).toHaveLength(1);
    const closedA = pair.sides[0].events.find((e) => e.type === 'closed');
    const closedB = pair.sides[1].events.find((e) => e.type === 'closed');
    expect(closedA).toEqual({ type: 'closed' });
    expect(closedB).toEqual({ type: 'closed' });
    expect(pair.sides[1].events.some((e) => e.type === 'peer-closed')).toBe(true);
  });

  it('abort reaches the peer as ERR_CONNECTION_RESET', () => {
    const pair = new Pair({ seed: 4 });
    pair.a.send(message(1, 10));
    pair.runUntil(() => pair.sides[1].received.length === 1);
    pair.a.abort(pair.now, 0, 'bye');
    pair.runUntil(() => pair.sides[1].closed, 1000);
    expect(pair.sides[1].events.at(-1)).toMatchObject({
      type: 'closed',
      error: { code: 'ERR_CONNECTION_RESET', initiator: 'remote', message: 'bye' },
    });
  });

  it('detects a vanished peer with the idle timeout', () => {
    const pair = new Pair({ seed: 5, link: { loss: 1 }, config: { idleTimeout: 2000, keepAliveInterval: 500 } });
    pair.runUntil(() => pair.sides[0].closed, 10_000);
    expect(pair.sides[0].events.at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_IDLE_TIMEOUT' } });
    expect(pair.now).toBeGreaterThanOrEqual(2000);
    expect(pair.now).toBeLessThan(2100);
  });

  it('keepalives hold an idle connection open past the idle timeout', () => {
    const pair = new Pair({ seed: 6, config: { idleTimeout: 2000, keepAliveInterval: 500 } });
    pair.runUntil(() => pair.now > 20_000, 30_000);
    expect(pair.sides[0].closed).toBe(false);
    expect(pair.sides[1].closed).toBe(false);
  });
});
