import { once } from 'node:events';
import { createSocket, Socket as DgramSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import { destroyAll, loopbackEndpoint, rawSocket, roundTrip, until, within } from './helpers.js';

/**
 * A client endpoint's own socket is `connect()`ed to its one server (src/node/peer-socket.ts,
 * issue 11): sends then take no address. Real sockets on 127.0.0.1.
 */

/** The endpoint's dgram socket (private): only to ask the kernel what it is connected to. */
function socketOf(ep: Endpoint): DgramSocket {
  return (ep as unknown as { socket: DgramSocket }).socket;
}

/** The peer the socket is connected to ('ip:port'), or null when it is not connected. */
function connectedTo(ep: Endpoint): string | null {
  try {
    const r = socketOf(ep).remoteAddress();
    return `${r.address}:${r.port}`;
  } catch (e) {
    expect((e as { code?: string }).code).toBe('ERR_SOCKET_DGRAM_NOT_CONNECTED');
    return null;
  }
}

/** An echo server on 127.0.0.1 that hands its connections to `accepted`. */
async function echoServer(endpoints: Endpoint[], accepted: Connection[] = []): Promise<Endpoint> {
  const server = await loopbackEndpoint(endpoints);
  server.on('connection', (c) => {
    accepted.push(c);
    c.on('message', (m: Buffer) => c.send(Buffer.concat([Buffer.from('echo:'), m])));
  });
  return server;
}

describe('a client endpoint connects its socket to its one server', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('the socket is connected once the handshake is done, sends go without an address, and data flows both ways', async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    const port = client.address().port;
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    expect(connectedTo(client)).toBe(`127.0.0.1:${server.address().port}`);
    expect(client.stats().socketConnected).toBe(true);
    // The endpoint still reports the address it bound, not the connected socket's.
    expect(client.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
    // Count the client socket's sends by form: with an address, or without (connected).
    const proto = DgramSocket.prototype as unknown as { send: (...args: unknown[]) => void };
    const original = proto.send;
    const clientSocket = socketOf(client);
    let withAddress = 0;
    let without = 0;
    proto.send = function (this: unknown, ...args: unknown[]) {
      if (this === clientSocket) {
        if (args.length === 1) without++;
        else withAddress++;
      }
      return original.apply(this, args);
    };
    try {
      for (let i = 0; i < 20; i++) expect(await roundTrip(conn, `m${i}`)).toBe(`echo:m${i}`);
      const big = Buffer.alloc(200_000, 7);
      const back = new Promise<Buffer>((resolve) => conn.once('message', (m: Buffer) => resolve(m)));
      conn.send(big);
      expect((await within(5_000, 'big echo', back)).subarray(5).equals(big)).toBe(true);
    } finally {
      proto.send = original;
    }
    expect(without).toBeGreaterThan(20);
    expect(withAddress).toBe(0);
    // The server's socket is never connected: it serves any number of peers.
    expect(connectedTo(server)).toBeNull();
    expect(server.stats().socketConnected).toBe(false);
  });

  it('a second connection to another server disconnects the socket; both work; closing it connects the socket to the first again', async () => {
    const a = await echoServer(endpoints);
    const b = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    const port = client.address().port;
    const toA = await within(5_000, 'connect a', client.connect(a.address().port, '127.0.0.1'));
    expect(connectedTo(client)).toBe(`127.0.0.1:${a.address().port}`);
    const toB = await within(5_000, 'connect b', client.connect(b.address().port, '127.0.0.1'));
    expect(connectedTo(client)).toBeNull();
    expect(client.stats().socketConnected).toBe(false);
    for (let i = 0; i < 5; i++) {
      expect(await roundTrip(toA, `a${i}`)).toBe(`echo:a${i}`);
      expect(await roundTrip(toB, `b${i}`)).toBe(`echo:b${i}`);
    }
    // Disconnecting kept the port (bound by number: bind.ts pinPort); both servers see it.
    expect(client.address().port).toBe(port);
    await within(5_000, 'close b', toB.close());
    await until(5_000, 'connected to a again', () => connectedTo(client) === `127.0.0.1:${a.address().port}`);
    expect(await roundTrip(toA, 'again')).toBe('echo:again');
    expect(client.address().port).toBe(port);
  });

  it('a connect to another server that fails (aborted, or timed out) connects the socket to the first again', async () => {
    const a = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints, { connectTimeout: 300 });
    const toA = await within(5_000, 'connect a', client.connect(a.address().port, '127.0.0.1'));
    const atA = `127.0.0.1:${a.address().port}`;
    expect(connectedTo(client)).toBe(atA);
    // A peer that reads and never answers.
    const hole = await rawSocket();
    hole.on('message', () => {});
    try {
      const controller = new AbortController();
      const aborted = client.connect(hole.address().port, '127.0.0.1', { signal: controller.signal }).catch((e: Error) => e);
      // Its INITIAL leaves unconnected (connect() resolves the host first: a tick or so later).
      await until(5_000, 'the INITIAL left', () => connectedTo(client) === null);
      controller.abort();
      expect(await aborted).toMatchObject({ name: 'AbortError' });
      expect(connectedTo(client)).toBe(atA);
      expect(await roundTrip(toA, 'after abort')).toBe('echo:after abort');
      const timedOut = client.connect(hole.address().port, '127.0.0.1').catch((e: Error) => e);
      await until(5_000, 'the INITIAL left', () => connectedTo(client) === null);
      expect(await within(5_000, 'connect timeout', timedOut)).toMatchObject({ code: 'ERR_CONNECTION_TIMEOUT' });
      expect(connectedTo(client)).toBe(atA);
      expect(await roundTrip(toA, 'after timeout')).toBe('echo:after timeout');
    } finally {
      hole.close();
    }
  });

  it('closing the connection disconnects the socket; a new connection connects it again, on the same port', async () => {
    const accepted: Connection[] = [];
    const server = await echoServer(endpoints, accepted);
    const client = await loopbackEndpoint(endpoints);
    const port = client.address().port;
    for (let round = 0; round < 3; round++) {
      const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
      expect(connectedTo(client)).toBe(`127.0.0.1:${server.address().port}`);
      expect(await roundTrip(conn, `r${round}`)).toBe(`echo:r${round}`);
      expect(accepted[round]!.remotePort).toBe(port);
      await within(5_000, 'close', conn.close());
      expect(connectedTo(client)).toBeNull();
      expect(client.address().port).toBe(port);
    }
  });

  it('closing many connections to the server one after another does not walk every connection at each close; the last one disconnects', async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints, { maxPendingConnects: 40 });
    const target = `127.0.0.1:${server.address().port}`;
    const conns = await within(5_000, 'connect', Promise.all(Array.from({ length: 40 }, () => client.connect(server.address().port, '127.0.0.1'))));
    expect(connectedTo(client)).toBe(target);
    // Count how often the endpoint reads its whole table of connections (each read is a walk).
    const core = (client as unknown as { core: { connectionRecords(): Iterable<unknown> } }).core;
    const records = core.connectionRecords.bind(core);
    let walks = 0;
    core.connectionRecords = () => {
      walks++;
      return records();
    };
    for (let i = 0; i < conns.length - 1; i++) {
      await within(5_000, 'close', conns[i]!.close());
      // The others still all go to the one server: the socket stays connected to it.
      expect(connectedTo(client)).toBe(target);
    }
    // Each close walked all 40 (draining ones too): 39 walks, ~800 records for 40 closes.
    expect(walks).toBe(0);
    expect(await roundTrip(conns[conns.length - 1]!, 'last')).toBe('echo:last');
    await within(5_000, 'close', conns[conns.length - 1]!.close());
    expect(connectedTo(client)).toBeNull();
  });

  it('an endpoint bound to all interfaces on an ephemeral port keeps its port across connect and disconnect', async () => {
    const a = await echoServer(endpoints);
    const b = await echoServer(endpoints);
    const client = await createEndpoint();
    endpoints.push(client);
    const { address, port } = client.address();
    expect(address).toBe('0.0.0.0');
    const toA = await within(5_000, 'connect a', client.connect(a.address().port, '127.0.0.1'));
    expect(connectedTo(client)).not.toBeNull();
    expect(client.address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port });
    const toB = await within(5_000, 'connect b', client.connect(b.address().port, '127.0.0.1'));
    expect(connectedTo(client)).toBeNull();
    // Linux forgets a port bound as 0 on disconnect: the socket would report port 0 here.
    expect(socketOf(client).address().port).toBe(port);
    expect(await roundTrip(toA, 'x')).toBe('echo:x');
    expect(await roundTrip(toB, 'y')).toBe('echo:y');
  });

  it("an application's socket is never connected", async () => {
    const server = await echoServer(endpoints);
    const raw = await rawSocket();
    const client = await createEndpoint({ socket: raw });
    endpoints.push(client);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    expect(await roundTrip(conn, 'hi')).toBe('echo:hi');
    expect(() => raw.remoteAddress()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' }));
    expect(client.stats().socketConnected).toBe(false);
  });

  it('an endpoint that accepts connections is not connected, and one that starts listening is disconnected so that others reach it', async () => {
    const server = await echoServer(endpoints);
    const accepting = await loopbackEndpoint(endpoints, { acceptConnections: true });
    await within(5_000, 'connect', accepting.connect(server.address().port, '127.0.0.1'));
    expect(connectedTo(accepting)).toBeNull();

    const client = await loopbackEndpoint(endpoints);
    await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    expect(connectedTo(client)).not.toBeNull();
    // Now it listens: a third endpoint connects to it (the kernel would drop that INITIAL on a connected socket).
    const incoming = once(client, 'connection');
    expect(connectedTo(client)).toBeNull();
    const third = await loopbackEndpoint(endpoints);
    const conn = await within(5_000, 'connect to the former client', third.connect(client.address().port, '127.0.0.1'));
    const [peer] = (await within(5_000, 'accepted', incoming)) as [Connection];
    peer.on('message', (m: Buffer) => peer.send(Buffer.concat([Buffer.from('echo:'), m])));
    expect(await roundTrip(conn, 'z')).toBe('echo:z');
  });

  it("a 'connection' listener disconnects the socket while it is there (unless acceptConnections: false says the endpoint never accepts)", async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    const listener = (): void => {};
    client.on('connection', listener);
    expect(connectedTo(client)).toBeNull();
    client.off('connection', listener);
    expect(connectedTo(client)).toBe(`127.0.0.1:${server.address().port}`);

    const never = await loopbackEndpoint(endpoints, { acceptConnections: false });
    never.on('connection', listener);
    await within(5_000, 'connect', never.connect(server.address().port, '127.0.0.1'));
    expect(connectedTo(never)).toBe(`127.0.0.1:${server.address().port}`);
  });

  it("removeAllListeners() keeps the endpoint's own hooks: a 'connection' listener added afterwards still disconnects the socket", async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    const atServer = `127.0.0.1:${server.address().port}`;
    expect(connectedTo(client)).toBe(atServer);
    client.on('connection', () => {});
    expect(connectedTo(client)).toBeNull();
    client.removeAllListeners();
    // The last 'connection' listener went: connected again.
    expect(connectedTo(client)).toBe(atServer);
    client.on('connection', () => {});
    expect(connectedTo(client)).toBeNull();
    client.removeAllListeners('connection');
    expect(connectedTo(client)).toBe(atServer);
    client.removeAllListeners('newListener');
    client.removeAllListeners('removeListener');
    const incoming = once(client, 'connection');
    expect(connectedTo(client)).toBeNull();
    const third = await loopbackEndpoint(endpoints);
    await within(5_000, 'connect to the former client', third.connect(client.address().port, '127.0.0.1'));
    await within(5_000, 'accepted', incoming);
  });

  it("the server's port closing (ICMP port unreachable) is no socket error: counted, and the socket goes back to unconnected sends", async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    conn.on('error', () => {});
    expect(connectedTo(client)).not.toBeNull();
    // The server's socket goes away without a word (no RESET, no CLOSE): its port is closed.
    const serverSocket = socketOf(server);
    serverSocket.removeAllListeners('close');
    serverSocket.close();
    for (let i = 0; i < 5; i++) conn.send(`after ${i}`);
    await until(5_000, 'an ICMP error', () => client.stats().icmpErrors > 0);
    expect(errors).toEqual([]);
    expect(client.closed).toBe(false);
    expect(client.stats().socketConnected).toBe(false);
    expect(connectedTo(client)).toBeNull();
  });

  it('a server that moved to a new port is followed: the ICMP error from its old port disconnects the socket, the new address is validated', async () => {
    const accepted: Connection[] = [];
    const server = await echoServer(endpoints, accepted);
    const client = await loopbackEndpoint(endpoints);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    expect(await roundTrip(conn, 'before')).toBe('echo:before');
    expect(connectedTo(client)).not.toBeNull();
    const moved = once(conn, 'migrated');
    await within(5_000, 'server rebind', server.rebind({ host: '127.0.0.1' }));
    // The client's sends to the old port bring the ICMP error that tells it to listen wider.
    const reply = new Promise<string>((resolve) => conn.once('message', (m: Buffer) => resolve(m.toString())));
    conn.send('after');
    expect(await within(10_000, 'echo after the move', reply)).toBe('echo:after');
    await within(10_000, 'migrated', moved);
    expect(conn.remotePort).toBe(server.address().port);
    expect(client.stats().icmpErrors).toBeGreaterThan(0);
    // Moved: the socket is connected again, to the new address.
    await until(5_000, 'connected to the new address', () => connectedTo(client) === `127.0.0.1:${server.address().port}`);
    expect(await roundTrip(conn, 'later')).toBe('echo:later');
  });

  it('a server that moved while its old port swallows datagrams (no ICMP) is followed once the client heard nothing for PEER_SILENCE', async () => {
    const server = await echoServer(endpoints);
    const client = await loopbackEndpoint(endpoints);
    const conn = await within(5_000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    expect(await roundTrip(conn, 'before')).toBe('echo:before');
    expect(connectedTo(client)).not.toBeNull();
    const oldPort = server.address().port;
    await within(5_000, 'server rebind', server.rebind({ host: '127.0.0.1' }));
    // The old port reads and drops: no ICMP error tells the client anything.
    const hole = createSocket('udp4');
    hole.on('message', () => {});
    await new Promise<void>((resolve) => hole.bind(oldPort, '127.0.0.1', resolve));
    try {
      const oldPeer = `127.0.0.1:${oldPort}`;
      expect(connectedTo(client)).toBe(oldPeer);
      expect(await roundTrip(conn, 'after')).toBe('echo:after');
      // Not while connected to the old port: the kernel drops the server's datagrams from its new
      // one until the silence rule disconnects the socket (a state, not a stopwatch).
      expect(connectedTo(client)).not.toBe(oldPeer);
      expect(client.stats().icmpErrors).toBe(0);
      expect(conn.remotePort).toBe(server.address().port);
      await until(5_000, 'connected to the new address', () => connectedTo(client) === `127.0.0.1:${server.address().port}`);
      expect(await roundTrip(conn, 'later')).toBe('echo:later');
    } finally {
      hole.close();
    }
  }, 20_000);
});
