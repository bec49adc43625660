/**
 * The few operations the chat needs from a message transport. The real implementation
 * (reliable-dgram.ts) maps them one to one onto reliable-dgram's public API; unit tests use an
 * in-memory one (test/support/memory-transport.ts), so server and client logic are tested
 * without sockets.
 */

/** One reliable, ordered, message-oriented connection. */
export interface Link {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Queues a message; false means "queue is over its soft limit, wait for onDrain". Throws when closed or over the hard limit. */
  send(data: Uint8Array): boolean;
  onMessage(listener: (data: Uint8Array) => void): void;
  /** Called once when the connection ends, with the reason unless it was a graceful close. */
  onClose(listener: (err?: Error) => void): void;
  onDrain(listener: () => void): void;
  /** Graceful close: resolves once everything sent was acknowledged (or the link died). */
  close(): Promise<void>;
  /** Abortive close. */
  destroy(err?: Error): void;
  /** Transport statistics, when the transport keeps any (for `/status`). */
  stats?(): LinkStats;
}

export interface LinkStats {
  /** Smoothed round-trip time, ms. */
  rttMs: number;
  packetsSent: number;
  packetsLost: number;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  onLink(listener: (link: Link) => void): void;
  close(): Promise<void>;
}

export interface Transport {
  listen(host: string, port: number): Promise<Listener>;
  connect(host: string, port: number, options?: { signal?: AbortSignal }): Promise<Link>;
}
