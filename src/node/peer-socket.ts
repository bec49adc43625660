import type { DatagramSocket, SocketAddress } from './socket.js';

/** What connecting takes beyond {@link DatagramSocket}: a `dgram.Socket` has it. */
interface Connectable {
  connect(port: number, address: string, callback: (err?: Error) => void): void;
  disconnect(): void;
  remoteAddress(): { address: string; port: number };
  send(msg: Uint8Array): void;
}

/**
 * Errors the kernel reports only on a connected UDP socket: an ICMP message about an earlier
 * datagram (port or host unreachable, packet too big), surfaced by the next recvmsg as the
 * socket's 'error'. None says the socket is broken; anyone on the path can forge the ICMP.
 */
const ICMP_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EMSGSIZE', 'EPROTO']);
/**
 * "Packet too big" (a path-MTU probe larger than the path) says nothing about where the peer
 * is: counted, but the socket stays connected.
 */
const NOT_A_HINT = 'EMSGSIZE';

/** Silence of the peer (no datagram at all) after which a connected socket is disconnected, ms. */
export const PEER_SILENCE = 1000;

/**
 * The endpoint's socket `connect()`ed to its one peer, or not (issue 11): while every datagram
 * goes to one address, a connected socket sends without one, and node:dgram then skips the
 * per-send lookup, port and address checks, the C++ side the address parsing, and the kernel
 * the route lookup per sendmsg (it keeps the route). The endpoint says when to connect and
 * when to stop ({@link connectTo}, {@link leave}); this module keeps the socket's state and
 * {@link send} keeps every datagram correct:
 *
 * - a datagram to another address than the connected one disconnects the socket first (a
 *   second peer, a path being validated): it leaves, unconnected, to where it was meant;
 * - connecting is asynchronous in node:dgram only as far as its lookup is: with the endpoint's
 *   literal lookup (bind.ts) and an IP literal, the kernel's connect happens inside
 *   `connect()` (only the 'connect' event comes a tick later), which {@link connectTo} checks.
 *   Datagrams before it went out unconnected, synchronously; the ones after, connected: no
 *   window, no reordering. An asynchronous lookup would open one: a send whose own lookup
 *   completes after the connect is refused by libuv (EISCONN) and silently lost. So a connect
 *   that did not complete inside `connect()` is undone when it does, and the socket is never
 *   connected again ({@link connectable} turns false);
 * - a connected socket reports ICMP errors ({@link absorb}): counted, never fatal, and taken
 *   as a hint only: the socket goes back to unconnected sends for the rest of the connection.
 *
 * Only a socket the endpoint bound itself by port number is ever connected (bind.ts `pinPort`:
 * disconnecting keeps the port); an application's socket is left as it was given.
 */
export class PeerSocket {
  /** The connected peer: `send()` to it takes no address. '' / 0 while not connected. */
  private address = '';
  private port = 0;
  /**
   * socket.connect() called and not completed: 'connect' only inside {@link connectTo}; 'leave'
   * when it did not complete at once (undone once it does).
   */
  private pending: 'no' | 'connect' | 'leave' = 'no';
  private pendingAddress = '';
  private pendingPort = 0;
  /** Numbers the connect() calls: a late callback of an earlier one is ignored. */
  private attempt = 0;
  /** The bound address as it was before connecting (a connected socket reports the route's source address). */
  private bound: SocketAddress | null = null;
  /** The socket has been connected once: a late ICMP error may still surface after disconnecting. */
  private everConnected = false;
  /** ICMP errors the socket reported (see {@link absorb}). */
  icmpErrors = 0;
  /** An ICMP error came: do not connect again until the endpoint says the connection changed ({@link clearHint}). */
  hinted = false;
  /** Datagrams received as last counted, and when that count last moved ({@link heard}). */
  private heardCount = 0;
  private heardAt = 0;
  /** Disconnected because the peer fell silent ({@link checkSilence}): connected again once it is heard. */
  private silenced = false;

  constructor(
    private readonly socket: DatagramSocket,
    /**
     * May this socket be connected: the endpoint bound it by port number, with its literal
     * lookup (bind.ts)? Turns false if a connect ever fails to complete at once.
     */
    public connectable: boolean,
  ) {}

  /** Connected (sends to the peer take no address)? */
  get connected(): boolean {
    return this.port !== 0;
  }

  /** Connected to exactly this peer? */
  isConnectedTo(address: string, port: number): boolean {
    return this.port === port && this.address === address;
  }

  /** The bound address: as bound, also while connected. */
  localAddress(): SocketAddress {
    return this.bound ?? this.socket.address();
  }

  /** Send one datagram to `address:port` (without an address when the socket is connected there). Throws as `dgram.Socket.send`. */
  send(data: Uint8Array, port: number, address: string): void {
    if (port === this.port && address === this.address) {
      (this.socket as unknown as Connectable).send(data);
      return;
    }
    if (this.port !== 0) this.leave();
    try {
      this.socket.send(data, port, address);
    } catch (e) {
      // An asynchronous connect completed meanwhile (node:dgram refuses an address from then on):
      // settle it, then send again, connected or not.
      if (this.pending === 'no' || (e as { code?: string }).code !== 'ERR_SOCKET_DGRAM_IS_CONNECTED') throw e;
      this.settle(this.attempt);
      this.send(data, port, address);
    }
  }

  /** What the endpoint decided: be connected to `address:port`, or (port 0) to nobody. */
  follow(address: string, port: number): void {
    this.silenced = false;
    if (port !== 0) this.connectTo(address, port);
    else this.leave();
  }

  /**
   * `received`: the endpoint's count of datagrams received. Was any received within
   * PEER_SILENCE before `now`, as far as the calls tell (the count is read at each call)?
   */
  heard(received: number, now: number): boolean {
    if (received !== this.heardCount) {
      this.heardCount = received;
      this.heardAt = now;
    }
    return now - this.heardAt < PEER_SILENCE;
  }

  /**
   * At the endpoint's timer: a connected socket whose peer has been silent for PEER_SILENCE is
   * disconnected (a server that moved is heard only by an unconnected socket: its datagrams from
   * the new address then start path validation). True: the silent peer was heard again, the
   * endpoint is to decide afresh ({@link follow}). A busy connection's timer seldom fires: this
   * costs the data path nothing.
   */
  checkSilence(received: number, now: number): boolean {
    const heard = this.heard(received, now);
    if (this.port !== 0 && !heard) {
      this.leave();
      this.silenced = true;
      return false;
    }
    return this.silenced && heard;
  }

  /** Connect the socket to `address:port` (after {@link leave} if it is connected elsewhere). */
  connectTo(address: string, port: number): void {
    if (!this.connectable || this.hinted || this.isConnectedTo(address, port)) return;
    this.leave();
    if (this.pending !== 'no') return; // still connecting elsewhere: that one is undone first
    const bound = this.socket.address();
    const attempt = ++this.attempt;
    try {
      this.pending = 'connect';
      this.pendingAddress = address;
      this.pendingPort = port;
      (this.socket as unknown as Connectable).connect(port, address, (err) => this.settle(attempt, err));
    } catch {
      this.pending = 'no';
      return;
    }
    this.bound = bound;
    // With an IP literal and the endpoint's synchronous lookup, node:dgram connected it already.
    if (this.remotePort() === port) {
      this.settle(attempt);
      return;
    }
    // Not at once (an asynchronous lookup): undone as soon as it completes, and never again.
    this.connectable = false;
    this.pending = 'leave';
  }

  /** Back to unconnected sends (now, or as soon as a connect in progress completes). */
  leave(): void {
    if (this.pending !== 'no') {
      this.pending = 'leave';
      return;
    }
    if (this.port === 0) return;
    this.address = '';
    this.port = 0;
    this.bound = null;
    try {
      (this.socket as unknown as Connectable).disconnect();
    } catch {
      // Closed meanwhile: nothing to undo.
    }
  }

  /**
   * The socket reported `err`. True when it is an ICMP error of a connected socket (see
   * ICMP_ERRORS): counted and dropped, and (but for "packet too big") the socket goes back to
   * unconnected sends (the peer may have moved; a forged ICMP costs no more than the connected
   * sends). False: a real error.
   */
  absorb(err: Error): boolean {
    const code = (err as { code?: string }).code ?? '';
    if (!this.everConnected || !ICMP_ERRORS.has(code)) return false;
    this.icmpErrors++;
    if (code !== NOT_A_HINT) {
      this.hinted = true;
      this.leave();
    }
    return true;
  }

  /** The connection the hint was about is gone or moved: connecting is allowed again. */
  clearHint(): void {
    this.hinted = false;
  }

  /** connect() number `attempt` completed (`err`: it failed), or was found completed. */
  private settle(attempt: number, err?: Error): void {
    if (attempt !== this.attempt || this.pending === 'no') return;
    const leave = this.pending === 'leave';
    this.pending = 'no';
    if (err || this.remotePort() !== this.pendingPort) {
      this.bound = null;
      return; // not connected: sends keep their address
    }
    this.address = this.pendingAddress;
    this.port = this.pendingPort;
    this.everConnected = true;
    if (leave) this.leave();
  }

  private remotePort(): number {
    try {
      return (this.socket as unknown as Connectable).remoteAddress().port;
    } catch {
      return 0; // not connected (yet)
    }
  }
}
