import { describe, expect, it } from 'vitest';
import { createEndpoint } from '../../src/index.js';
import type { Connection } from '../../src/index.js';
import { LossySocket, Rng, SimNetwork } from '../../src/testing/index.js';
import { decodePacket } from '../../src/wire/index.js';

/** The Node shell itself, on the simulator's clock and sockets: exact, repeatable timing. */
function sim(seed = 1) {
  const net = new SimNetwork({ seed, impairment: { delay: 10 } });
  const rng = new Rng(seed);
  const randomBytes = (n: number) => rng.bytes(n);
  return { net, randomBytes };
}

describe('the Node shell in virtual time', () => {
  it('connect() to a silent address rejects with ERR_CONNECTION_TIMEOUT exactly at connectTimeout', async () => {
    const { net, randomBytes } = sim();
    const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes, connectTimeout: 3000 });
    const start = net.clock.now();
    let error: { code?: string } | undefined;
    void client.connect(4433, '10.0.0.99').catch((e: { code?: string }) => (error = e));
    expect(await net.runUntilAsync(() => error !== undefined, 10_000)).toBe(true);
    expect(error?.code).toBe('ERR_CONNECTION_TIMEOUT');
    expect(net.clock.now() - start).toBe(3000);
    client.destroy();
  });

  it('the handshake survives losing the first INITIAL, RETRY and ACCEPT', async () => {
    const { net, randomBytes } = sim(3);
    const seen = new Set<string>();
    // Drop the first datagram of each handshake type, whichever side sends it.
    const drop = (data: Uint8Array): boolean => {
      const d = decodePacket(data);
      if (!d.ok || d.value.type === 'data' || seen.has(d.value.type)) return false;
      seen.add(d.value.type);
      return true;
    };
    const lossy = (address: string, port?: number) =>
      new LossySocket(net.socket(address, port), { clock: net.clock, drop: (data, direction) => direction === 'send' && drop(data) });
    const server = await createEndpoint({ socket: lossy('10.0.0.2', 4433), clock: net.clock, randomBytes });
    const client = await createEndpoint({ socket: lossy('10.0.0.1'), clock: net.clock, randomBytes });
    const got: string[] = [];
    server.on('connection', (c: Connection) => c.on('message', (m) => got.push(m.toString())));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
    expect([...seen].sort()).toEqual(['accept', 'initial', 'retry']);
    conn!.send('after a lossy handshake');
    expect(await net.runUntilAsync(() => got.length === 1, 5000)).toBe(true);
    expect(got).toEqual(['after a lossy handshake']);
    expect(server.stats().connectionsAccepted).toBe(1);
    client.destroy();
    server.destroy();
  });

  it('idle timeout fires at the negotiated value when the peer goes silent', async () => {
    const { net, randomBytes } = sim(5);
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes, idleTimeout: 2000 });
    const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes, idleTimeout: 5000 });
    let peer: Connection | undefined;
    server.on('connection', (c: Connection) => (peer = c));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined && peer !== undefined, 5000)).toBe(true);
    // Cut the client off: both directions.
    net.linkBoth('10.0.0.1', '10.0.0.2', { loss: 1 });
    let closeErr: { code?: string } | undefined;
    let closedAt = 0;
    // Both ends time out: listen, or (Node semantics) the error is uncaught.
    conn!.on('error', () => {});
    peer!.on('error', () => {});
    peer!.on('close', (e) => {
      closeErr = e as { code?: string };
      closedAt = net.clock.now();
    });
    const cutAt = net.clock.now();
    expect(await net.runUntilAsync(() => closeErr !== undefined, 10_000)).toBe(true);
    expect(closeErr?.code).toBe('ERR_IDLE_TIMEOUT');
    // min(2000, 5000), counted from the last packet heard: at most a round trip before the cut,
    // or one already on the wire at the cut (a path-MTU probe, say), heard up to 10 ms after it.
    expect(closedAt - cutAt).toBeGreaterThan(1900);
    expect(closedAt - cutAt).toBeLessThanOrEqual(2010);
    client.destroy();
    server.destroy();
  });
});
