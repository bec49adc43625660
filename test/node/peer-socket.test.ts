import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { literalLookup } from '../../src/node/bind.js';
import { PeerSocket } from '../../src/node/peer-socket.js';
import { rawSocket, until } from './helpers.js';

/** PeerSocket (src/node/peer-socket.ts) on its own, over real sockets on 127.0.0.1 (and one stand-in). */
describe('PeerSocket: connecting loses and reorders nothing', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  /** A sink, and a socket with the endpoint's literal lookup (`literal`) or the default dns.lookup. */
  async function pair(literal: boolean): Promise<{ socket: Socket; sink: Socket; got: string[] }> {
    const sink = await rawSocket();
    const socket = literal ? createSocket({ type: 'udp4', lookup: literalLookup }) : createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push(sink, socket);
    const got: string[] = [];
    sink.on('message', (m) => got.push(m.toString()));
    return { socket, sink, got };
  }

  it("with the endpoint's literal lookup the socket is connected when connectTo() returns: datagrams before went with their address, after without, in order", async () => {
    const { socket, sink, got } = await pair(true);
    const peer = new PeerSocket(socket, true);
    const port = sink.address().port;
    for (let i = 0; i < 3; i++) peer.send(Buffer.from(`before ${i}`), port, '127.0.0.1');
    peer.connectTo('127.0.0.1', port);
    expect(peer.connected).toBe(true);
    expect(socket.remoteAddress().port).toBe(port);
    for (let i = 0; i < 3; i++) peer.send(Buffer.from(`after ${i}`), port, '127.0.0.1');
    await until(2_000, 'all datagrams', () => got.length === 6);
    expect(got).toEqual(['before 0', 'before 1', 'before 2', 'after 0', 'after 1', 'after 2']);
  });

  it('a connect that does not complete at once (an asynchronous lookup) is undone when it does, and never tried again', async () => {
    const { socket, sink, got } = await pair(false);
    const peer = new PeerSocket(socket, true);
    const port = sink.address().port;
    const connected = once(socket, 'connect');
    peer.connectTo('127.0.0.1', port);
    expect(peer.connected).toBe(false);
    expect(peer.connectable).toBe(false);
    await connected;
    expect(() => socket.remoteAddress()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' }));
    peer.connectTo('127.0.0.1', port);
    expect(() => socket.remoteAddress()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' }));
    peer.send(Buffer.from('unconnected'), port, '127.0.0.1');
    await until(2_000, 'the datagram', () => got.length === 1);
  });

  it('a send that meets node:dgram connected by a late connect (its callback not run yet) is not lost: the connect is undone and the datagram sent', () => {
    // A stand-in socket in the state node:dgram is in between connecting and the callback.
    const sent: string[] = [];
    let state: 'disconnected' | 'connecting' | 'connected' = 'disconnected';
    const fake = {
      address: () => ({ address: '127.0.0.1', port: 1000, family: 'IPv4' }),
      connect: () => {
        state = 'connecting';
      },
      disconnect: () => {
        state = 'disconnected';
      },
      remoteAddress: () => {
        if (state !== 'connected') throw Object.assign(new Error('not connected'), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
        return { address: '127.0.0.1', port: 2000 };
      },
      send: (msg: Uint8Array, port?: number, address?: string) => {
        if (state === 'connected' && port !== undefined) throw Object.assign(new Error('connected'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
        sent.push(`${Buffer.from(msg).toString()}${port === undefined ? '' : ` → ${address}:${port}`}`);
      },
    };
    const peer = new PeerSocket(fake as never, true);
    peer.connectTo('127.0.0.1', 2000);
    peer.send(Buffer.from('a'), 2000, '127.0.0.1');
    state = 'connected'; // the connect completed; its callback has not run
    peer.send(Buffer.from('b'), 2000, '127.0.0.1');
    expect(state).toBe('disconnected');
    peer.send(Buffer.from('c'), 3000, '127.0.0.1');
    expect(sent).toEqual(['a → 127.0.0.1:2000', 'b → 127.0.0.1:2000', 'c → 127.0.0.1:3000']);
    expect(peer.connectable).toBe(false);
  });

  it('an ICMP error counts only on a socket that was connected, and makes it leave', async () => {
    const { socket, sink } = await pair(true);
    const peer = new PeerSocket(socket, true);
    const refused = Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(peer.absorb(refused)).toBe(false); // never connected: a real error
    peer.connectTo('127.0.0.1', sink.address().port);
    await until(2_000, 'connected', () => peer.connected);
    expect(peer.absorb(Object.assign(new Error('EBADF'), { code: 'EBADF' }))).toBe(false);
    // Packet too big (a path-MTU probe): counted, but no hint about the peer's whereabouts.
    expect(peer.absorb(Object.assign(new Error('recvmsg EMSGSIZE'), { code: 'EMSGSIZE' }))).toBe(true);
    expect(peer.connected).toBe(true);
    expect(peer.absorb(refused)).toBe(true);
    expect(peer.icmpErrors).toBe(2);
    expect(peer.connected).toBe(false);
    // Hinted: not connected again until the connection changes.
    peer.connectTo('127.0.0.1', sink.address().port);
    expect(peer.connected).toBe(false);
    peer.clearHint();
    peer.connectTo('127.0.0.1', sink.address().port);
    await until(2_000, 'connected again', () => peer.connected);
  });
});
