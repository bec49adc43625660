import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, type Connection, type Endpoint } from '../../src/index.js';
import { destroyAll, loopbackEndpoint, rawSocket, roundTrip, within } from './helpers.js';

/** Encryption through the public API, over real sockets on 127.0.0.1 (README "Encryption"). */
const endpoints: Endpoint[] = [];
afterEach(() => destroyAll(endpoints));

async function echoServer(options: Parameters<typeof loopbackEndpoint>[1] = {}): Promise<{ server: Endpoint; port: number; accepted: Connection[] }> {
  const server = await loopbackEndpoint(endpoints, options);
  const accepted: Connection[] = [];
  server.on('connection', (conn) => {
    accepted.push(conn);
    // A client that rejects the server's key resets its half-open connection: heard here.
    conn.on('error', () => {});
    conn.on('message', (m: Buffer) => conn.send(m));
  });
  return { server, port: server.address().port, accepted };
}

describe('encrypted connections over real sockets', () => {
  it('generateKeyPair gives 32-byte Buffers that pin the server: a round trip is encrypted both ways', async () => {
    const keyPair = generateKeyPair();
    expect(Buffer.isBuffer(keyPair.publicKey) && keyPair.publicKey.length).toBe(32);
    expect(Buffer.isBuffer(keyPair.privateKey) && keyPair.privateKey.length).toBe(32);
    const { port, accepted } = await echoServer({ keyPair });
    const client = await loopbackEndpoint(endpoints);
    const conn = await within(5000, 'connect', client.connect(port, '127.0.0.1', { serverKey: keyPair.publicKey }));
    expect(conn.encrypted).toBe(true);
    expect(conn.remotePublicKey?.equals(keyPair.publicKey)).toBe(true);
    expect(await roundTrip(conn, 'hello, sealed world')).toBe('hello, sealed world');
    expect(accepted[0]!.encrypted).toBe(true);
    expect(accepted[0]!.remotePublicKey).toBeNull();
    // A big message (many full-size packets) goes through too.
    const big = Buffer.alloc(200_000, 7).toString('latin1');
    expect((await roundTrip(conn, big)).length).toBe(big.length);
  });

  it('accepts the server key as base64, and the key pair as base64 strings', async () => {
    const keyPair = generateKeyPair();
    const { port } = await echoServer({ keyPair: { publicKey: keyPair.publicKey.toString('base64'), privateKey: keyPair.privateKey.toString('base64') } });
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect(port, '127.0.0.1', { serverKey: keyPair.publicKey.toString('base64') });
    expect(conn.encrypted).toBe(true);
    expect(await roundTrip(conn, 'b64')).toBe('b64');
  });

  it('a server with a different key: connect() rejects with ERR_AUTHENTICATION_FAILED', async () => {
    const { port } = await echoServer({ keyPair: generateKeyPair() });
    const client = await loopbackEndpoint(endpoints);
    await expect(client.connect(port, '127.0.0.1', { serverKey: generateKeyPair().publicKey })).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
  });

  it('a server without keys: a client that asked for serverKey is never downgraded', async () => {
    const { port, server } = await echoServer();
    const client = await loopbackEndpoint(endpoints);
    await expect(client.connect(port, '127.0.0.1', { serverKey: generateKeyPair().publicKey })).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    expect(server.stats().connectionsAccepted).toBe(0);
  });

  it("a plaintext client is refused by a server with a key pair (default 'required')", async () => {
    const { port } = await echoServer({ keyPair: generateKeyPair() });
    const client = await loopbackEndpoint(endpoints);
    await expect(client.connect(port, '127.0.0.1')).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
  });

  it("encryption: 'optional' serves plaintext and encrypted clients side by side", async () => {
    const keyPair = generateKeyPair();
    const { port } = await echoServer({ keyPair, encryption: 'optional' });
    const client = await loopbackEndpoint(endpoints);
    const plain = await client.connect(port, '127.0.0.1');
    const sealed = await client.connect(port, '127.0.0.1', { serverKey: keyPair.publicKey });
    expect([plain.encrypted, sealed.encrypted]).toEqual([false, true]);
    expect(plain.remotePublicKey).toBeNull();
    expect(await roundTrip(plain, 'p')).toBe('p');
    expect(await roundTrip(sealed, 's')).toBe('s');
  });

  it('without keys on either side: plaintext as before', async () => {
    const { port } = await echoServer();
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect(port, '127.0.0.1');
    expect(conn.encrypted).toBe(false);
    expect(await roundTrip(conn, 'plain')).toBe('plain');
  });

  it('mutual authentication: the server sees the client key, and verifyPeer can refuse it', async () => {
    const serverKeys = generateKeyPair();
    const allowed = generateKeyPair();
    const seen: string[] = [];
    const { port, accepted } = await echoServer({
      keyPair: serverKeys,
      verifyPeer: (publicKey, address) => {
        seen.push(`${address} ${publicKey.toString('base64')}`);
        return publicKey.equals(allowed.publicKey);
      },
    });
    const good = await loopbackEndpoint(endpoints, { keyPair: allowed });
    const conn = await good.connect(port, '127.0.0.1', { serverKey: serverKeys.publicKey });
    expect(await roundTrip(conn, 'mutual')).toBe('mutual');
    expect(accepted[0]!.remotePublicKey?.equals(allowed.publicKey)).toBe(true);
    expect(seen).toEqual([`127.0.0.1 ${allowed.publicKey.toString('base64')}`]);

    const stranger = await loopbackEndpoint(endpoints, { keyPair: generateKeyPair() });
    await expect(stranger.connect(port, '127.0.0.1', { serverKey: serverKeys.publicKey })).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    // verifyPeer makes client keys mandatory: a keyless client is refused too.
    const anonymous = await loopbackEndpoint(endpoints);
    await expect(anonymous.connect(port, '127.0.0.1', { serverKey: serverKeys.publicKey })).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    await expect(anonymous.connect(port, '127.0.0.1')).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
  });

  it('trust on first use: a client without the key learns it and judges it with verifyPeer', async () => {
    const keyPair = generateKeyPair();
    const { port, server } = await echoServer({ keyPair });
    const learned: Buffer[] = [];
    const client = await loopbackEndpoint(endpoints, {
      encryption: 'required',
      verifyPeer: (publicKey) => (learned.push(publicKey), true),
    });
    const conn = await client.connect(port, '127.0.0.1');
    expect(conn.encrypted).toBe(true);
    expect(learned.map((k) => k.toString('hex'))).toEqual([keyPair.publicKey.toString('hex')]);
    expect(conn.remotePublicKey?.equals(keyPair.publicKey)).toBe(true);
    const picky = await loopbackEndpoint(endpoints, { encryption: 'required', verifyPeer: () => false });
    await expect(picky.connect(port, '127.0.0.1')).rejects.toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
    // The server had accepted that handshake: the client's sealed RESET ends it at once.
    await within(5000, 'server side closed', (async () => {
      while (server.stats().connections > 1) await new Promise((r) => setTimeout(r, 5));
    })());
  });

  it('the injection attack: a DATA datagram with the live connection ID from another port changes nothing', async () => {
    const keyPair = generateKeyPair();
    const { port, server, accepted } = await echoServer({ keyPair });
    const client = await loopbackEndpoint(endpoints);
    const conn = await client.connect(port, '127.0.0.1', { serverKey: keyPair.publicKey });
    expect(await roundTrip(conn, 'before')).toBe('before');
    const attacker = await rawSocket();
    try {
      // Capture nothing: the attacker knows the server's CID only from the clear header. Build a
      // plaintext DATA with a RESET frame and a PROTECTED packet with garbage, both for that CID.
      const serverConn = accepted[0]!;
      const serverCid = (serverConn as unknown as { record: { localCid: bigint } }).record.localCid;
      const wire = await import('../../src/wire/index.js');
      const reset = wire.encodePacket({ type: 'data', dcid: serverCid, packetNumber: 123, frames: [{ type: 'reset', code: 1, reason: 'injected' }] });
      const data = wire.encodePacket({ type: 'data', dcid: serverCid, packetNumber: 124, frames: [{ type: 'data', tsn: 0, first: true, last: true, unordered: false, payload: Buffer.from('evil') }] });
      const forged = Buffer.from(reset);
      forged[1] = 0x0a;
      // Each is dropped as 'decrypt' (its tag fails, or it is plaintext) or as 'replay' (a packet
      // number below the replay window: the forged one may land there, the real ones being random).
      const rejected = (): number => server.stats().dropped.decrypt + server.stats().dropped.replay;
      const before = rejected();
      for (const d of [reset, data, forged]) attacker.send(d, port, '127.0.0.1');
      await within(5000, 'drops counted', (async () => {
        while (rejected() < before + 3) await new Promise((r) => setTimeout(r, 5));
      })());
    } finally {
      attacker.close();
    }
    expect(accepted[0]!.state).toBe('open');
    expect(await roundTrip(conn, 'after')).toBe('after');
  });
});
