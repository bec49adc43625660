import { describe, expect, it } from 'vitest';
import { createEndpoint } from '../../src/index.js';
import type { Connection } from '../../src/index.js';
import { Rng, SimNetwork } from '../../src/testing/index.js';

/** The docs/testing.md example, kept honest: an endpoint pair over a lossy SimNetwork. */
async function transfer(seed: number): Promise<{ received: string[]; virtualMs: number; lost: number }> {
  const net = new SimNetwork({ seed, impairment: { loss: 0.1, delay: 20, jitter: 5 } });
  const rng = new Rng(seed);
  const random = (n: number) => rng.bytes(n);
  const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes: random });
  const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes: random });
  const received: string[] = [];
  server.on('connection', (conn: Connection) => conn.on('message', (msg: Buffer) => received.push(msg.toString())));
  let conn: Connection | undefined;
  void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
  expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
  for (let i = 0; i < 50; i++) conn!.send(`message ${i}`);
  expect(await net.runUntilAsync(() => received.length === 50, 60_000)).toBe(true);
  const virtualMs = net.clock.now();
  client.destroy();
  server.destroy();
  return { received, virtualMs, lost: net.totals().droppedLoss };
}

describe('reliable-dgram endpoints over a SimNetwork', () => {
  it('deliver every message in order through loss, and replay identically from the seed', async () => {
    const first = await transfer(2024);
    expect(first.received).toEqual(Array.from({ length: 50 }, (_, i) => `message ${i}`));
    expect(first.lost).toBeGreaterThan(0);
    const again = await transfer(2024);
    expect(again).toEqual(first);
  });
});
