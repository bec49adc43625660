// Issue 15: the public API behaves like Node's own (events, close bounds, ref/unref, dispose,
// options form of connect, end(), accept only when listening, unknown options, what destroy()
// sends, readable rates). Protocol timing runs in virtual time (SimNetwork); process-level
// behaviour (an unheard 'error', unref) runs in a child process with a time limit.
import { execFile } from 'node:child_process';
import { EventEmitter, on, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint, ReliableDgramError } from '../../src/index.js';
import { createEndpoint, UnknownOptionError } from '../../src/index.js';
import { SimNetwork } from '../../src/testing/index.js';
import { codeOf, destroyAll, loopbackEndpoint, loopbackPair, simPair, until, within } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function runChild(source: string, timeout = 20_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', source],
      { cwd: repoRoot, timeout, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

describe('events fit node:events', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('Connection and Endpoint are node:events EventEmitters with setMaxListeners and prependListener', async () => {
    const { conn, client } = await loopbackPair(endpoints);
    expect(conn).toBeInstanceOf(EventEmitter);
    expect(client).toBeInstanceOf(EventEmitter);
    conn.setMaxListeners(50);
    expect(conn.getMaxListeners()).toBe(50);
    const order: string[] = [];
    conn.on('drain', () => order.push('on'));
    conn.prependListener('drain', () => order.push('prepended'));
    conn.emit('drain');
    expect(order).toEqual(['prepended', 'on']);
  });

  it("events.once(conn, 'drain') resolves and events.on(conn, 'message') iterates, queued messages included", async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    // Messages sent before anyone listens wait; a listener added through events.on gets them.
    for (let i = 0; i < 3; i++) conn.send(`m${i}`);
    const got: string[] = [];
    const ac = new AbortController();
    const reading = (async () => {
      try {
        for await (const [msg] of on(peer, 'message', { signal: ac.signal })) {
          got.push((msg as Buffer).toString());
          if (got.length === 4) ac.abort();
        }
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
      }
    })();
    await until(5000, 'the queued messages', () => got.length === 3);
    conn.send('m3');
    await within(5000, 'events.on', reading);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3']);
    // Fill the queue past highWaterMark (1 MiB) so that send() returns false, then wait for drain.
    const big = Buffer.alloc(256 * 1024);
    let full = false;
    for (let i = 0; i < 16 && !full; i++) full = !conn.send(big);
    expect(full).toBe(true);
    await within(10_000, "once(conn, 'drain')", once(conn, 'drain'));
    expect(conn.bufferedAmount).toBeLessThan(1024 * 1024);
  });

  it('prependListener(message) and once(message) also get the messages that queued while nobody listened', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    conn.send('early');
    await until(2000, 'the early message queued', () => peer.stats().queuedMessages === 1);
    expect(peer.stats().queuedMessages).toBe(1);
    const first = new Promise<string>((resolve) => peer.prependOnceListener('message', (m) => resolve(m.toString())));
    expect(await within(2000, 'prependOnceListener', first)).toBe('early');
  });

  it("removing the last 'message' listener (off, once firing, removeAllListeners) makes messages queue again", async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const waitQueued = async (n: number) => {
      for (let i = 0; i < 200 && peer.stats().queuedMessages < n; i++) await new Promise((r) => setTimeout(r, 5));
      return peer.stats().queuedMessages;
    };
    const got: string[] = [];
    const listener = (m: Buffer): void => void got.push(m.toString());
    peer.on('message', listener);
    conn.send('a');
    await within(2000, 'first', once(peer, 'message'));
    peer.off('message', listener);
    conn.send('b');
    expect(await waitQueued(1)).toBe(1); // waits, not emitted to nobody
    const [b] = await within(2000, 'once', once(peer, 'message'));
    expect((b as Buffer).toString()).toBe('b');
    conn.send('c');
    expect(await waitQueued(1)).toBe(1); // the once() listener is gone
    peer.on('message', listener);
    peer.on('message', () => {});
    await until(2000, "the queued 'c' delivered", () => got.length === 2);
    peer.removeAllListeners('message');
    conn.send('d');
    expect(await waitQueued(1)).toBe(1);
    expect(got).toEqual(['a', 'c']);
  });

  it("an 'error' nobody listens to is an uncaught exception (Node semantics), with 'close' emitted first", async () => {
    const source = `
      import { createEndpoint } from './src/index.ts';
      const server = await createEndpoint({ host: '127.0.0.1' });
      server.on('connection', (c) => c.on('close', () => console.log('close', c.closed)));
      const client = await createEndpoint({ host: '127.0.0.1' });
      const conn = await client.connect(server.address().port, '127.0.0.1');
      conn.on('error', () => {});
      await new Promise((r) => setTimeout(r, 50));
      conn.destroy(); // the server's connection is reset: ERR_CONNECTION_RESET, and nobody listens
      setTimeout(() => console.log('survived'), 2000).unref();
    `;
    const result = await runChild(source);
    expect(result.stdout).toContain('close true');
    expect(result.stdout).not.toContain('survived');
    expect(result.stderr).toContain('ERR_CONNECTION_RESET');
    expect(result.code).not.toBe(0);
  });

  it("an error heard by an 'error' listener, a close() promise or an async iterator is not thrown", async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const viaIterator = (async () => {
      try {
        for await (const _ of peer) void _;
        return 'ended';
      } catch (e) {
        return (e as ReliableDgramError).code;
      }
    })();
    conn.destroy();
    expect(await within(3000, 'iterator sees the reset', viaIterator)).toBe('ERR_CONNECTION_RESET');
    // (An uncaught exception would fail this test file.)
  });
});

describe('close({ signal, timeout })', () => {
  it('bounds a close whose peer vanished: destroy() at the timeout, ERR_CLOSE_TIMEOUT (virtual time)', async () => {
    const { net, client, server, conn, peer } = await simPair(2);
    peer.on('error', () => {});
    net.linkBoth('10.0.0.1', '10.0.0.2', { loss: 1 }); // the peer vanishes
    conn.send('never acknowledged');
    const start = net.clock.now();
    let code: string | undefined;
    void codeOf(conn.close({ timeout: 1500 })).then((c) => (code = c));
    expect(await net.runUntilAsync(() => code !== undefined, 60_000)).toBe(true);
    expect(code).toBe('ERR_CLOSE_TIMEOUT');
    expect(net.clock.now() - start).toBe(1500);
    expect(conn.closed).toBe(true);
    client.destroy();
    server.destroy();
  });

  it('close({ signal }) rejects with an AbortError and destroys; a close that completes first is unaffected', async () => {
    const { net, client, server, conn, peer } = await simPair(3);
    peer.on('error', () => {});
    net.linkBoth('10.0.0.1', '10.0.0.2', { loss: 1 });
    const ac = new AbortController();
    let code: string | undefined;
    void codeOf(conn.close({ signal: ac.signal })).then((c) => (code = c));
    net.clock.setTimer(net.clock.now() + 200, () => ac.abort());
    expect(await net.runUntilAsync(() => code !== undefined, 60_000)).toBe(true);
    expect(code).toBe('ABORT_ERR');
    expect(conn.closed).toBe(true);
    client.destroy();
    server.destroy();

    const second = await simPair(4);
    let done: string | undefined;
    void codeOf(second.conn.close({ timeout: 10_000 })).then((c) => (done = c));
    expect(await second.net.runUntilAsync(() => done !== undefined, 20_000)).toBe(true);
    expect(done).toBe('resolved');
    second.client.destroy();
    second.server.destroy();
  });

  it('Endpoint.close({ timeout }) falls back to destroy() and the endpoint ends closed', async () => {
    const { net, client, server, conn, peer } = await simPair(5);
    conn.on('error', () => {});
    peer.on('error', () => {});
    net.linkBoth('10.0.0.1', '10.0.0.2', { loss: 1 });
    conn.send('pending');
    const start = net.clock.now();
    let code: string | undefined;
    void codeOf(client.close({ timeout: 800 })).then((c) => (code = c));
    expect(await net.runUntilAsync(() => code !== undefined, 60_000)).toBe(true);
    expect(code).toBe('ERR_CLOSE_TIMEOUT');
    expect(net.clock.now() - start).toBe(800);
    expect(client.closed).toBe(true);
    expect(conn.closed).toBe(true);
    server.destroy();
  });

  it('validates its options', async () => {
    const { client, server, conn } = await simPair(6);
    expect(() => conn.close({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => conn.close({ signal: {} as AbortSignal })).toThrow(TypeError);
    expect(() => client.close({ timout: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    client.destroy();
    server.destroy();
  });
});

describe('Node conventions', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('localAddress, localPort, remoteFamily, and connect({ port, host, signal })', async () => {
    const server = await loopbackEndpoint(endpoints);
    server.on('connection', () => {});
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect({ port: server.address().port, host: '127.0.0.1', signal: new AbortController().signal });
    expect(conn.remoteAddress).toBe('127.0.0.1');
    expect(conn.remotePort).toBe(server.address().port);
    expect(conn.remoteFamily).toBe('IPv4');
    expect(conn.localAddress).toBe('127.0.0.1');
    expect(conn.localPort).toBe(client.address().port);
    expect(() => client.connect({ prot: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('port') }));
    await expect(codeOf(client.connect({ port: server.address().port, host: '127.0.0.1', signal: AbortSignal.abort() }))).resolves.toBe('ABORT_ERR');
  });

  it('Symbol.asyncDispose closes a connection and an endpoint', async () => {
    const { client, conn, peer } = await loopbackPair(endpoints);
    const peerClosed = once(peer, 'close');
    await within(5000, 'conn dispose', conn[Symbol.asyncDispose]());
    expect(conn.closed).toBe(true);
    expect((await peerClosed)[0]).toBeUndefined(); // graceful
    await within(5000, 'endpoint dispose', client[Symbol.asyncDispose]());
    expect(client.closed).toBe(true);
  });

  it('end(): a last message, then a graceful close; the peer gets the message, then end, and closes too', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const events: string[] = [];
    peer.on('message', (m) => events.push(`message ${m.toString()}`));
    peer.on('end', () => events.push('end'));
    const peerClosed = once(peer, 'close');
    const connClosed = once(conn, 'close');
    // By default (no allowHalfOpen) once the peer has our CLOSE it is closing too, so it cannot
    // send any more (docs/protocol.md §18.1).
    let peerSendAfterEnd = '';
    peer.on('end', () => {
      try {
        peer.send('reply after end');
      } catch (e) {
        peerSendAfterEnd = (e as ReliableDgramError).code;
      }
    });
    expect(conn.end('last')).toBe(conn);
    expect(() => conn.send('too late')).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
    await within(5000, 'peer close', peerClosed);
    await within(5000, 'conn close', connClosed);
    expect(events).toEqual(['message last', 'end']);
    expect(conn.state).toBe('closed');
    expect(peerSendAfterEnd).toBe('ERR_CONNECTION_CLOSED');
  });

  it('end() with a half-open peer (allowHalfOpen): request, end, the reply still comes, then both close', async () => {
    const server = await loopbackEndpoint(endpoints, { allowHalfOpen: true });
    server.on('connection', (c) => {
      const parts: string[] = [];
      c.on('message', (m) => parts.push(m.toString()));
      c.on('end', () => c.end(`reply to ${parts.join('+')}`)); // still open for sending after 'end'
    });
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect(server.address().port, '127.0.0.1');
    const closed = once(conn, 'close');
    conn.send('a');
    conn.end('b');
    const got: string[] = [];
    for await (const m of conn) got.push(m.toString()); // ends with the server's CLOSE
    expect(got).toEqual(['reply to a+b']);
    expect((await within(5000, 'close', closed))[0]).toBeUndefined();
  });

  it('unref(): an open endpoint does not keep the process alive; ref() undoes it', async () => {
    const source = (unref: boolean) => `
      import { createEndpoint } from './src/index.ts';
      const server = await createEndpoint({ host: '127.0.0.1' });
      server.on('connection', () => {});
      const client = await createEndpoint({ host: '127.0.0.1' });
      await client.connect(server.address().port, '127.0.0.1'); // timers armed (keepalive, idle)
      ${unref ? 'server.unref(); client.unref();' : 'server.unref().ref(); client.unref().ref();'}
      console.log('ready');
    `;
    const exits = await runChild(source(true), 20_000);
    expect(exits.stdout).toContain('ready');
    expect(exits.code).toBe(0);
    const stays = await runChild(source(false), 3000);
    expect(stays.stdout).toContain('ready');
    expect(stays.code).toBeNull(); // killed by the time limit: ref() keeps it alive
  });
});

describe('a client endpoint does not accept connections unless the application listens', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it("refuses with no 'connection' listener, accepts with one, refuses again after it is removed", async () => {
    const quiet = await loopbackEndpoint(endpoints);
    const stranger = await loopbackEndpoint(endpoints);
    const port = quiet.address().port;
    await expect(codeOf(stranger.connect(port, '127.0.0.1'))).resolves.toBe('ERR_CONNECTION_REFUSED');
    expect(quiet.connections.length).toBe(0);
    const listener = (): void => {};
    quiet.on('connection', listener);
    await expect(codeOf(stranger.connect(port, '127.0.0.1'))).resolves.toBe('resolved');
    quiet.off('connection', listener);
    await expect(codeOf(stranger.connect(port, '127.0.0.1'))).resolves.toBe('ERR_CONNECTION_REFUSED');
  });

  it('acceptConnections: true accepts without a listener; false refuses with one', async () => {
    const open = await loopbackEndpoint(endpoints, { acceptConnections: true });
    const closed = await loopbackEndpoint(endpoints, { acceptConnections: false });
    closed.on('connection', () => {});
    const client = await loopbackEndpoint(endpoints);
    await expect(codeOf(client.connect(open.address().port, '127.0.0.1'))).resolves.toBe('resolved');
    await expect(codeOf(client.connect(closed.address().port, '127.0.0.1'))).resolves.toBe('ERR_CONNECTION_REFUSED');
  });
});

describe('unknown options', () => {
  it('createEndpoint({ idleTimout }) throws a TypeError with ERR_INVALID_ARG_VALUE naming it and idleTimeout', () => {
    let err: unknown;
    try {
      void createEndpoint({ idleTimout: 5 } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toBeInstanceOf(UnknownOptionError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', option: 'idleTimout', suggestion: 'idleTimeout' });
    expect((err as Error).message).toMatch(/options\.idleTimout.*options\.idleTimeout/);
  });

  it('a name far from every option gets no suggestion; send/destroy options are checked too', async () => {
    expect(() => createEndpoint({ zzzzzzzzzzzz: 1 } as never)).toThrow(expect.objectContaining({ suggestion: undefined }));
    expect(() => createEndpoint({ HOST: 'x' } as never)).toThrow(expect.objectContaining({ suggestion: 'host' }));
    const { client, server, conn } = await simPair(7);
    expect(() => conn.send('x', { delivry: 'unordered' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', suggestion: 'delivery' }));
    expect(() => conn.destroy(undefined, { reson: 'x' } as never)).toThrow(expect.objectContaining({ suggestion: 'reason' }));
    client.destroy();
    server.destroy();
  });
});

describe('destroy() does not leak local error text', () => {
  it("destroy(new Error('boom')) sends the code only; the peer never sees 'boom'", async () => {
    const { net, client, server, conn, peer } = await simPair(8);
    conn.on('error', () => {});
    let peerErr: Error | undefined;
    peer.on('error', (e) => (peerErr = e));
    conn.destroy(new Error('boom'));
    expect(await net.runUntilAsync(() => peerErr !== undefined, 5000)).toBe(true);
    expect((peerErr as ReliableDgramError).code).toBe('ERR_CONNECTION_RESET');
    expect(peerErr!.message).not.toContain('boom');
    client.destroy();
    server.destroy();
  });

  it('destroy(err, { reason }) sends exactly the reason the caller chose', async () => {
    const { net, client, server, conn, peer } = await simPair(9);
    conn.on('error', () => {});
    let peerErr: Error | undefined;
    peer.on('error', (e) => (peerErr = e));
    conn.destroy(new Error('internal detail'), { reason: 'server shutting down' });
    expect(await net.runUntilAsync(() => peerErr !== undefined, 5000)).toBe(true);
    expect(peerErr!.message).toBe('server shutting down');
    client.destroy();
    server.destroy();
  });
});

describe('stats(): rates a user can read', () => {
  it('under 20 % loss one way, the sender shows its lossRate and retransmissionRate; the receiver sees duplicates', async () => {
    const { net, client, server, conn, peer } = await simPair(10);
    // Loss only on the client -> server direction: the client is the one that loses and resends.
    net.link('10.0.0.1', '10.0.0.2', { delay: 10, loss: 0.2 });
    let received = 0;
    peer.on('message', () => received++);
    for (let i = 0; i < 200; i++) conn.send(Buffer.alloc(500, i));
    expect(await net.runUntilAsync(() => received === 200, 120_000)).toBe(true);
    const sender = conn.stats();
    expect(sender.packetsLost).toBeGreaterThan(0);
    expect(sender.lossRate).toBeCloseTo(sender.packetsLost / sender.packetsSent, 10);
    expect(sender.lossRate).toBeGreaterThan(0.05);
    expect(sender.lossRate).toBeLessThan(0.5);
    expect(sender.retransmissionRate).toBeCloseTo(sender.packetsRetransmitted / sender.packetsSent, 10);
    expect(sender.retransmissionRate).toBeGreaterThan(0);
    // The receiver's own direction (its ACKs) was not impaired: it lost nothing.
    expect(peer.stats().lossRate).toBe(0);
    client.destroy();
    server.destroy();
  });
});
