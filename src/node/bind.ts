import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { rdError } from '../errors.js';
import type { ResolvedEndpointOptions } from '../options.js';

/**
 * Create and bind a `dgram` socket. Default address: every interface ('0.0.0.0' / '::'), as
 * `dgram.Socket.bind()` does; pass `host: '127.0.0.1'` to stay on loopback.
 * Buffer sizes are best effort: the OS caps them (Linux: net.core.rmem_max / wmem_max).
 *
 * An ephemeral port (port 0) is bound again by number ({@link pinPort}), so that the socket may
 * be `connect()`ed to its one peer and disconnected again without losing its port (peer-socket.ts).
 */
export async function bindSocket(options: ResolvedEndpointOptions): Promise<Socket> {
  const host = options.host ?? (options.type === 'udp6' ? '::' : '0.0.0.0');
  let socket = await bindAt(options, host, options.port);
  if (options.port === 0) socket = await pinPort(options, socket);
  else pinned.add(socket);
  // Bound: an unbound socket queues sends in JavaScript, out of its send queue count's sight.
  sendsAtOnce.add(socket);
  setBufferSizes(socket, options.recvBufferSize, options.sendBufferSize);
  return socket;
}

/**
 * Linux forgets the port of a UDP socket bound to port 0 when it is disconnected
 * (`__udp_disconnect`: the port was not "locked" by the bind), and the next send binds another
 * ephemeral port: the peers would see the endpoint move. A port bound by number stays. So the
 * port the kernel chose is freed and bound again at once, by number (the same turn, two
 * syscalls apart: with an IP literal, dgram binds synchronously). Should another process take
 * it in between, the endpoint gets a fresh ephemeral port, not pinned (never connected).
 */
async function pinPort(options: ResolvedEndpointOptions, first: Socket): Promise<Socket> {
  const { address, port } = first.address();
  first.close();
  try {
    const socket = await bindAt(options, address, port);
    pinned.add(socket);
    return socket;
  } catch {
    return bindAt(options, address, 0);
  }
}

function bindAt(options: ResolvedEndpointOptions, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: options.type, ipv6Only: options.ipv6Only, lookup: literalLookup });
    const onError = (err: Error): void => {
      socket.off('listening', onListening);
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(rdError('ERR_SOCKET', `cannot bind ${options.host ?? 'all interfaces'}:${options.port}: ${err.message}`, err));
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind(port, host);
  });
}

function setBufferSizes(socket: Socket, recv: number, send: number): void {
  // Large buffers absorb bursts (a congestion window of packets arriving at once).
  try {
    if (recv > 0) socket.setRecvBufferSize(recv);
  } catch {
    // The OS refused: keep its default.
  }
  try {
    if (send > 0) socket.setSendBufferSize(send);
  } catch {
    // The OS refused: keep its default.
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * `dgram.Socket.send(msg, port, address)` resolves `address` with `dns.lookup` before every send,
 * and `dns.lookup` answers even an IP literal on the next tick: each datagram would cost a
 * closure, a nextTick hop and the syscall one tick late. The endpoint only ever sends to
 * addresses it already resolved (a peer's source address, or connect()'s resolved host), so an
 * IP literal is answered at once and the datagram leaves inside `send()`. Names still go to DNS.
 */
export function literalLookup(hostname: string, family: unknown, callback: LookupCallback): void {
  // The same peer address datagram after datagram: remembered, so that isIP's regular
  // expression runs once per address rather than once per datagram.
  if (hostname === lastLiteral) {
    callback(null, hostname, lastFamily);
    return;
  }
  const literal = isIP(hostname);
  if (literal !== 0) {
    lastLiteral = hostname;
    lastFamily = literal;
    callback(null, hostname, literal);
  } else dnsLookup(hostname, family as number, callback);
}

/** The last IP literal literalLookup answered, and its family (4 or 6). */
let lastLiteral = '';
let lastFamily = 0;

/**
 * Sockets bound here (added once listening), with `literalLookup`: `send()` to an IP literal
 * hands the datagram to the kernel before it returns (unless libuv queues it, which its send
 * queue count shows). A socket the application made (the `socket` option) resolves with
 * `dns.lookup`, which answers on the next tick: the datagram is still only referenced when
 * `send()` returns, and its send queue count is 0 all the same, so its buffer must not be
 * reused (src/core/slab.ts `release`).
 */
const sendsAtOnce = new WeakSet<object>();

/** Sockets {@link bindSocket} bound to a port by number: disconnect() keeps their port. */
const pinned = new WeakSet<object>();

/** Was `socket` bound by {@link bindSocket} to a port by number (it may be connected and disconnected again)? */
export function portPinned(socket: object): boolean {
  return pinned.has(socket);
}

/** Was `socket` bound by {@link bindSocket} (bound, and its sends to IP literals leave inside `send()`)? */
export function sendsInsideSend(socket: object): boolean {
  return sendsAtOnce.has(socket);
}
