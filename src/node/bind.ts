import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { rdError } from '../errors.js';
import type { ResolvedEndpointOptions } from '../options.js';

/**
 * Create and bind a `dgram` socket. Default address: every interface ('0.0.0.0' / '::'), as
 * `dgram.Socket.bind()` does; pass `host: '127.0.0.1'` to stay on loopback.
 * Buffer sizes are best effort: the OS caps them (Linux: net.core.rmem_max / wmem_max).
 */
export function bindSocket(options: ResolvedEndpointOptions): Promise<Socket> {
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
      // Bound: an unbound socket queues sends in JavaScript, out of its send queue count's sight.
      sendsAtOnce.add(socket);
      setBufferSizes(socket, options.recvBufferSize, options.sendBufferSize);
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    const host = options.host ?? (options.type === 'udp6' ? '::' : '0.0.0.0');
    socket.bind(options.port, host);
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

/** Was `socket` bound by {@link bindSocket} (bound, and its sends to IP literals leave inside `send()`)? */
export function sendsInsideSend(socket: object): boolean {
  return sendsAtOnce.has(socket);
}
