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

export interface SocketAddress {
  address: string;
  port: number;
  family: string;
}

export interface DatagramSocket {
  send(
    msg: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void;
  address(): SocketAddress;
  /** Kernel buffer sizes as granted (dgram.Socket has them; test doubles may not). */
  getRecvBufferSize?(): number;
  getSendBufferSize?(): number;
  close(callback?: () => void): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  off(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  off(event: 'error', listener: (err: Error) => void): this;
  off(event: 'close', listener: () => void): this;
}
