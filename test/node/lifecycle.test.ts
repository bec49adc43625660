import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { createEndpoint, ReliableDgramError } from '../../src/index.js';
import { LossySocket } from '../../src/testing/index.js';
import { codeOf, destroyAll, loopbackEndpoint, loopbackPair, once, rawSocket, within } from './helpers.js';

describe('connect()', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('rejects with ERR_CONNECTION_TIMEOUT within connectTimeout when nobody listens', async () => {
    const silent = await rawSocket(); // bound, never answers
    const client = await loopbackEndpoint(endpoints, { connectTimeout: 400 });
    const started = performance.now();
    const err = await client.connect(silent.address().port, '127.0.0.1').catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    silent.close();
    expect(err).toBeInstanceOf(ReliableDgramError);
    expect((err as ReliableDgramError).code).toBe('ERR_CONNECTION_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(400 + 1500);
    expect(client.stats().pendingConnects).toBe(0);
  });

  it('honours an AbortSignal, before and during the handshake', async () => {
    const silent = await rawSocket();
    const client = await loopbackEndpoint(endpoints);
    const port = silent.address().port;
    const pre = AbortSignal.abort();
    await expect(codeOf(client.connect(port, '127.0.0.1', { signal: pre }))).resolves.toBe('ABORT_ERR');
    const ac = new AbortController();
    const p = client.connect(port, '127.0.0.1', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = await p.catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((err as { code: string }).code).toBe('ABORT_ERR');
    expect(client.stats().pendingConnects).toBe(0);
    silent.close();
  });

  it('is refused (ERR_CONNECTION_REFUSED) by a server at maxConnections', async () => {
    const server = await loopbackEndpoint(endpoints, { maxConnections: 1, acceptConnections: true });
    const a = await loopbackEndpoint(endpoints);
    const b = await loopbackEndpoint(endpoints);
    await a.connect(server.address().port, '127.0.0.1');
    await expect(codeOf(b.connect(server.address().port, '127.0.0.1'))).resolves.toBe('ERR_CONNECTION_REFUSED');
    expect(server.stats().refused).toBe(1);
  });

  it('throws TypeError/RangeError with codes on bad arguments', async () => {
    const client = await loopbackEndpoint(endpoints);
    expect(() => client.connect('80' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => client.connect(0)).toThrow(RangeError);
    expect(() => client.connect(70000)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => client.connect(80, 5 as unknown as string)).toThrow(TypeError);
    expect(() => client.connect(80, '127.0.0.1', { signal: {} as AbortSignal })).toThrow(TypeError);
    expect(() => createEndpoint({ port: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => createEndpoint({ maxDatagramSize: 500 })).toThrow(RangeError);
    expect(() => createEndpoint({ idleTimeout: 'x' as unknown as number })).toThrow(TypeError);
    expect(() => createEndpoint({ socket: {} as never })).toThrow(TypeError);
    expect(() => createEndpoint({ congestion: 'cubic' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => createEndpoint({ congestion: 5 as never })).toThrow(TypeError);
  });

  it('rejects pending connects with ERR_ENDPOINT_CLOSED when the endpoint closes, and refuses new ones', async () => {
    const silent = await rawSocket();
    const client = await loopbackEndpoint(endpoints);
    const p = codeOf(client.connect(silent.address().port, '127.0.0.1'));
    await new Promise((r) => setTimeout(r, 10));
    const closed = once(client, 'close');
    await client.close();
    await closed;
    await expect(p).resolves.toBe('ERR_ENDPOINT_CLOSED');
    await expect(codeOf(client.connect(silent.address().port, '127.0.0.1'))).resolves.toBe('ERR_ENDPOINT_CLOSED');
    silent.close();
  });
});

describe('udp6', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('binds udp6 and connects over ::1 (default host of a udp6 endpoint)', async (ctx) => {
    let server: Endpoint;
    try {
      server = await createEndpoint({ type: 'udp6', host: '::1' });
    } catch {
      ctx.skip(); // no IPv6 loopback here
      return;
    }
    endpoints.push(server);
    server.on('connection', (c) => c.on('message', (m) => c.send(m)));
    const client = await createEndpoint({ type: 'udp6' });
    endpoints.push(client);
    expect(client.address().family).toBe('IPv6');
    const conn = await within(5000, 'connect', client.connect(server.address().port));
    expect(conn.remoteAddress).toBe('::1');
    conn.send('six');
    const [m] = (await within(5000, 'echo', once(conn, 'message'))) as [Buffer];
    expect(m.toString()).toBe('six');
  });
});

describe('connection lifecycle', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('destroy() is seen by the peer as ERR_CONNECTION_RESET: error, close, rejected close(), throwing iterator', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const peerError = once(peer, 'error');
    const peerClose = once(peer, 'close');
    const peerClosePromise = codeOf(new Promise<void>((r) => setTimeout(r, 5)).then(() => peer.close()));
    const iteration = (async () => {
      for await (const _ of peer) {
        // nothing arrives
      }
    })().then(
      () => 'ended',
      (e: { code?: string }) => e.code,
    );
    const localClose = once(conn, 'close');
    conn.destroy();
    const [err] = await within(3000, 'peer error', peerError);
    expect((err as ReliableDgramError).code).toBe('ERR_CONNECTION_RESET');
    const [closeErr] = await within(3000, 'peer close', peerClose);
    expect((closeErr as ReliableDgramError).code).toBe('ERR_CONNECTION_RESET');
    // close() called during the reset: rejected; iterator: throws the error.
    await expect(peerClosePromise).resolves.toMatch(/ERR_CONNECTION_RESET|resolved/);
    await expect(iteration).resolves.toBe('ERR_CONNECTION_RESET');
    // Locally: closed without error (the application chose it).
    const [localErr] = await localClose;
    expect(localErr).toBeUndefined();
    expect(() => conn.send(Buffer.from('late'))).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
    expect(peer.state).toBe('closed');
  });

  it('destroy(err) emits err locally', async () => {
    const { conn } = await loopbackPair(endpoints);
    const boom = new Error('boom');
    const errored = once(conn, 'error');
    conn.destroy(boom);
    const [e] = await errored;
    expect(e).toBe(boom);
  });

  it('a peer that vanishes is detected by the idle timeout (ERR_IDLE_TIMEOUT)', async () => {
    const server = await loopbackEndpoint(endpoints, { idleTimeout: 400, keepAliveInterval: 100 });
    let blackhole = false;
    const lossy = new LossySocket(await rawSocket(), { drop: () => blackhole });
    const client = await createEndpoint({ socket: lossy, idleTimeout: 400, keepAliveInterval: 100 });
    endpoints.push(client);
    const accepted = once(server, 'connection');
    const conn = await client.connect(server.address().port, '127.0.0.1');
    const [peer] = (await accepted) as [Connection];
    // Both ends fail with ERR_IDLE_TIMEOUT: listen, or (Node semantics) the error is uncaught.
    conn.on('error', () => {});
    peer.on('error', () => {});
    // Keepalives hold the connection open past the idle timeout while the network works.
    await new Promise((r) => setTimeout(r, 700));
    expect(peer.state).toBe('open');
    expect(conn.state).toBe('open');
    blackhole = true; // the client vanishes: nothing in or out
    const started = performance.now();
    const [err] = await within(3000, 'idle timeout', once(peer, 'close'));
    expect((err as ReliableDgramError).code).toBe('ERR_IDLE_TIMEOUT');
    // Not before the idle timeout could have run out: the last keepalive arrived at most 100 ms
    // before the blackhole, so ≥ 300 ms, minus slack for timer rounding between the two clocks.
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(server.connections.length).toBe(0);
  });

  it('close() resolves after everything sent was acknowledged, and the peer sees end then close', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const got: string[] = [];
    peer.on('message', (m) => got.push(m.toString()));
    const ended = once(peer, 'end');
    const peerClosed = once(peer, 'close');
    for (let i = 0; i < 100; i++) conn.send(Buffer.from(`m${i}`));
    await within(5000, 'close', conn.close());
    expect(got.length).toBe(100);
    await ended;
    const [err] = await peerClosed;
    expect(err).toBeUndefined();
    expect(conn.state).toBe('closed');
    expect(conn.stats()).toMatchObject({ remoteAddress: '127.0.0.1', messagesSent: 100 });
  });

  it('endpoint.close() closes its connections gracefully, then the socket', async () => {
    const { server, client, conn, peer } = await loopbackPair(endpoints);
    const peerClosed = once(peer, 'close');
    const connClosed = once(conn, 'close');
    await within(5000, 'client endpoint close', client.close());
    expect(client.closed).toBe(true);
    expect((await connClosed)[0]).toBeUndefined();
    expect((await peerClosed)[0]).toBeUndefined();
    expect(server.connections.length).toBe(0);
  });

  it('endpoint.destroy() resets every connection at once', async () => {
    const { server, conn, peer } = await loopbackPair(endpoints);
    conn.on('error', () => {}); // the client is reset
    const connClosed = once(conn, 'close');
    const peerClosed = once(peer, 'close');
    server.destroy();
    expect(server.closed).toBe(true);
    expect(((await within(3000, 'client sees reset', connClosed))[0] as ReliableDgramError).code).toBe('ERR_CONNECTION_RESET');
    expect(((await peerClosed)[0] as ReliableDgramError).code).toBe('ERR_ENDPOINT_CLOSED');
  });

  it('messages wait (holding flow-control credit) until someone listens', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    for (let i = 0; i < 5; i++) conn.send(Buffer.from(`early${i}`));
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.stats().queuedMessages).toBe(5);
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      peer.on('message', (m) => {
        got.push(m.toString());
        if (got.length === 5) resolve();
      }),
    );
    await within(2000, 'late listener', all);
    expect(got).toEqual(['early0', 'early1', 'early2', 'early3', 'early4']);
  });

  it('unordered and unreliable messages arrive too (loopback loses nothing)', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const got: string[] = [];
    peer.on('message', (m) => got.push(m.toString()));
    conn.send('u1', { delivery: 'unordered' });
    conn.send('r1', { delivery: 'unreliable' });
    conn.send(Buffer.alloc(5000, 'x'), { delivery: 'unreliable' }); // fragmented, reassembled
    conn.send('o1');
    await within(3000, 'all four', (async () => {
      while (got.length < 4) await new Promise((r) => setTimeout(r, 5));
    })());
    expect(got.sort()).toEqual(['o1', 'r1', 'u1', 'x'.repeat(5000)].sort());
  });

  it('messages({ signal }) stops with an AbortError', async () => {
    const { peer } = await loopbackPair(endpoints);
    const ac = new AbortController();
    const it = peer.messages({ signal: ac.signal });
    const next = it.next();
    ac.abort();
    await expect(codeOf(next)).resolves.toBe('ABORT_ERR');
  });

  it('send() validates its arguments and sizes', async () => {
    const { conn } = await loopbackPair(endpoints, { maxMessageSize: 1000 });
    expect(() => conn.send(42 as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => conn.send(Buffer.alloc(1), { delivery: 'sometimes' as never })).toThrow(RangeError);
    expect(() => conn.send(Buffer.alloc(1001))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }));
    expect(conn.send('text is fine')).toBe(true);
    expect(conn.send(Buffer.alloc(10), { delivery: 'unreliable' })).toBe(true);
    expect(conn.send(Buffer.alloc(10), { delivery: 'unordered' })).toBe(true);
  });
});

describe('application errors', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('a listener that throws does not stall the endpoint', async () => {
    const { conn, peer } = await loopbackPair(endpoints);
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown) => thrown.push(e);
    // vitest reports uncaught errors; catch the one we provoke.
    process.prependListener('uncaughtException', onUncaught);
    try {
      let first = true;
      const got: string[] = [];
      peer.on('message', (m) => {
        got.push(m.toString());
        if (first) {
          first = false;
          throw new Error('listener bug');
        }
      });
      conn.send('a');
      conn.send('b');
      await new Promise((r) => setTimeout(r, 50));
      conn.send('c');
      await within(3000, 'later messages', (async () => {
        while (got.length < 3) await new Promise((r) => setTimeout(r, 10));
      })());
      expect(got).toEqual(['a', 'b', 'c']);
      expect(thrown).toHaveLength(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
