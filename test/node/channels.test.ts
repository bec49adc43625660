import { describe, expect, it } from 'vitest';
import { createEndpoint, generateKeyPair, type Connection, type MessageInfo } from '../../src/index.js';
import { LossySocket, Rng, SimNetwork } from '../../src/testing/index.js';
import { simPair } from './helpers.js';

/** Channels, receipts and flush() through the Node shell, on the simulator's clock. */
const setup = (seed: number, loss = 0) => simPair(seed, { impairment: { delay: 10, loss } });

describe('channels in the Node shell', () => {
  it("'message' listeners get (data, info); one-argument listeners keep working", async () => {
    const { net, conn, peer, done } = await setup(1);
    const two: [string, MessageInfo][] = [];
    const one: string[] = [];
    peer.on('message', (data, info) => two.push([data.toString(), info]));
    peer.on('message', (data) => one.push(data.toString()));
    conn.send('a');
    conn.send('b', { channel: 7, delivery: 'unordered' });
    conn.send('c', { channel: 255, delivery: 'unreliable' });
    expect(await net.runUntilAsync(() => one.length === 3, 5000)).toBe(true);
    expect(two.map(([d, i]) => `${d}:${i.channel}:${i.delivery}`).sort()).toEqual(['a:0:ordered', 'b:7:unordered', 'c:255:unreliable']);
    expect(one.sort()).toEqual(['a', 'b', 'c']);
    done();
  });

  it('messages({ channel }) iterates one channel; the rest goes to the other consumers', async () => {
    const { net, conn, peer, done } = await setup(2);
    const general: string[] = [];
    peer.on('message', (d) => general.push(d.toString()));
    const only: string[] = [];
    void (async () => {
      for await (const m of peer.messages({ channel: 2 })) {
        only.push(m.toString());
        if (only.length === 3) break;
      }
    })();
    for (let i = 0; i < 3; i++) {
      conn.send(`two-${i}`, { channel: 2 });
      conn.send(`zero-${i}`);
    }
    expect(await net.runUntilAsync(() => only.length === 3 && general.length === 3, 5000)).toBe(true);
    expect(only).toEqual(['two-0', 'two-1', 'two-2']);
    expect(general).toEqual(['zero-0', 'zero-1', 'zero-2']);
    // After the channel iterator ended, its channel goes to the listeners again.
    conn.send('two-after', { channel: 2 });
    expect(await net.runUntilAsync(() => general.length === 4, 5000)).toBe(true);
    expect(general[3]).toBe('two-after');
    expect(() => peer.messages({ channel: 256 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    done();
  });

  it('sendAcked() resolves once acknowledged; flush() once everything before it is', async () => {
    const { net, conn, peer, done } = await setup(3, 0.1);
    const got: string[] = [];
    peer.on('message', (d) => got.push(d.toString()));
    let acked = false;
    void conn.sendAcked('important', { channel: 1 }).then(() => (acked = true));
    for (let i = 0; i < 20; i++) conn.send(Buffer.alloc(2000, i), { channel: i % 2 });
    let flushed = false;
    void conn.flush().then(() => (flushed = true));
    expect(await net.runUntilAsync(() => acked, 10_000)).toBe(true);
    expect(got).toContain('important');
    expect(await net.runUntilAsync(() => flushed, 10_000)).toBe(true);
    expect(got.length).toBe(21);
    // Nothing outstanding: flush() resolves at once.
    await conn.flush();
    done();
  });

  it('sendAcked() of an unreliable message that expires rejects with ERR_MESSAGE_DROPPED; close rejects the rest', async () => {
    const net = new SimNetwork({ seed: 4, impairment: { delay: 10 } });
    const rng = new Rng(4);
    const randomBytes = (n: number) => rng.bytes(n);
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes });
    server.on('connection', (c: Connection) => c.on('error', () => {}));
    // Everything the client sends after the handshake is lost: nothing is ever acknowledged.
    let blackhole = false;
    const socket = new LossySocket(net.socket('10.0.0.1'), { clock: net.clock, drop: (_d, dir) => blackhole && dir === 'send' });
    const client = await createEndpoint({ socket, clock: net.clock, randomBytes, idleTimeout: 3000 });
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
    blackhole = true;
    const results: string[] = [];
    const note = (what: string) => (e: { code?: string }) => results.push(`${what}:${e.code}`);
    // A large message on channel 0 fills the congestion window; the unreliable one on channel 1
    // (a lower priority) waits behind it past its maxAge.
    conn!.setChannel(1, { priority: 1 });
    conn!.send(Buffer.alloc(200_000));
    conn!.sendAcked('late', { delivery: 'unreliable', maxAge: 1, channel: 1 }).catch(note('late'));
    conn!.sendAcked('reliable').catch(note('reliable'));
    conn!.flush().catch(note('flush'));
    expect(await net.runUntilAsync(() => results.length === 3, 20_000)).toBe(true);
    expect(results.sort()).toEqual(['flush:ERR_IDLE_TIMEOUT', 'late:ERR_MESSAGE_DROPPED', 'reliable:ERR_IDLE_TIMEOUT']);
    expect(conn!.stats().unreliableExpired).toBe(1);
    client.destroy();
    server.destroy();
  });

  it('setChannel() validates its arguments', async () => {
    const { conn, done } = await setup(5);
    expect(conn.setChannel(3, { priority: 2, weight: 4 })).toBe(conn);
    expect(() => conn.setChannel(3, { weight: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => conn.setChannel(-1, {})).toThrow(RangeError);
    expect(() => conn.send('x', { channel: 300 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    done();
  });

  it('channels work the same on an encrypted connection (frames inside sealed packets)', async () => {
    const net = new SimNetwork({ seed: 9, impairment: { delay: 5, loss: 0.05 } });
    const rng = new Rng(9);
    const randomBytes = (n: number) => rng.bytes(n);
    const keyPair = generateKeyPair();
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes, keyPair });
    const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes });
    const got: string[] = [];
    server.on('connection', (c: Connection) => c.on('message', (d, info) => got.push(`${info.channel}:${d.toString()}`)));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2', { serverKey: keyPair.publicKey }).then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
    expect(conn!.encrypted).toBe(true);
    let acked = false;
    conn!.send('zero');
    void conn!.sendAcked('on five', { channel: 5 }).then(() => (acked = true));
    expect(await net.runUntilAsync(() => acked && got.length === 2, 10_000)).toBe(true);
    expect(got.sort()).toEqual(['0:zero', '5:on five']);
    client.destroy();
    server.destroy();
  });
});
