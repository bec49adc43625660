/**
 * The few operations the chat needs from a message transport. The real implementation
 * (reliable-dgram.ts) maps them one to one onto reliable-dgram's public API; unit tests use an
 * in-memory one (test/support/memory-transport.ts), so server and client logic are tested
 * without sockets.
 */

/**
 * Which of a link's two ordered streams a message travels on (PROTOCOL.md, "Channels"):
 * - `live`: everything small and urgent (requests, replies, notices, every pushed event). The
 *   default, sent first.
 * - `bulk`: large replies (a `history` page), sent at a lower priority on a stream of its own, so
 *   that a long page, or a lost packet of one, never holds back a live message.
 * Order is kept within a lane, not between lanes: a live message may overtake a bulk one.
 */
export type Lane = 'live' | 'bulk';

/** One reliable, message-oriented connection with two ordered lanes. */
export interface Link {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Queues a message on `lane` (default `live`); false means "queue is over its soft limit, wait
   * for onDrain". Throws when closed or over the hard limit.
   */
  send(data: Uint8Array, lane?: Lane): boolean;
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
