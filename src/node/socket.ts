/**
 * The one socket interface every shell and test double implements: the subset of `dgram.Socket`
 * reliable-dgram uses. A real `dgram.Socket` satisfies it, and so do `LossySocket` and the
 * simulator's sockets (`reliable-dgram/testing`).
 */
export interface RemoteInfo {
  address: string;
  port: number;
  family?: string;
  size?: number;
}

/** A bound address, as `dgram.Socket.address()` returns it. */
export interface SocketAddress {
  address: string;
  port: number;
  family: string;
}

/**
 * What an endpoint needs from a socket (`createEndpoint({ socket })`): a `dgram.Socket`, a
 * `LossySocket` or a simulator socket.
 */
export interface DatagramSocket {
  /** Send one datagram; the callback reports an error instead of throwing. */
  send(
    msg: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void;
  /** The bound address. */
  address(): SocketAddress;
  /** Optional: the kernel receive buffer size as granted (dgram.Socket has it; test doubles may not). */
  getRecvBufferSize?(): number;
  /** Optional: the kernel send buffer size as granted. */
  getSendBufferSize?(): number;
  /**
   * Optional (a `dgram.Socket` has it): datagrams handed to `send()` and not yet sent. A socket
   * that has it promises that a datagram is no longer read once `send()` returned with a count
   * of 0: the endpoint then writes the next datagram into the same buffer. A socket that keeps
   * or delays datagrams (a test double) must not have it.
   */
  getSendQueueCount?(): number;
  /** Close the socket; `callback` runs once it is closed. */
  close(callback?: () => void): void;
  /** Optional (a `dgram.Socket` has them): let the process exit while the socket is open, and undo it. */
  unref?(): unknown;
  /** Optional: undo `unref()`. */
  ref?(): unknown;
  /** A datagram arrived. */
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** The socket failed. */
  on(event: 'error', listener: (err: Error) => void): this;
  /** The socket closed. */
  on(event: 'close', listener: () => void): this;
  /** Remove a 'message' listener. */
  off(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** Remove an 'error' listener. */
  off(event: 'error', listener: (err: Error) => void): this;
  /** Remove a 'close' listener. */
  off(event: 'close', listener: () => void): this;
}
