import { unreliableHeaderSize } from '../wire/frames.js';
import { DATA_OVERHEAD } from '../wire/types.js';
import { OBJECT_OVERHEAD } from './retention.js';
import type { CoreConfig } from './types.js';

/** Smallest datagram a peer may use (every maxDatagramSize is at least this). */
const MIN_DATAGRAM = 1200;

/**
 * The unreliable byte budget that lets an unreliable message of `bytes` complete: while it is
 * reassembled each fragment is charged its whole datagram plus OBJECT_OVERHEAD (retention.ts),
 * 1,456 bytes per 1,159-byte fragment at the smallest datagram (the worst ratio).
 */
export function unreliableBudgetFor(bytes: number): number {
  const fragment = MIN_DATAGRAM - DATA_OVERHEAD - unreliableHeaderSize(0xffff_ffff, 0xffff_ffff);
  return Math.ceil(bytes / fragment) * (MIN_DATAGRAM + OBJECT_OVERHEAD);
}

/**
 * The defaults of the engine, in one table. Each value says why it is what it is.
 */
export const DEFAULT_CORE_CONFIG: Readonly<CoreConfig> = {
  // The ceiling of path-MTU discovery, which starts at QUIC's floor of 1,200 (fits every path,
  // RFC 9000 §14): 1,500-byte Ethernet minus IPv6 (40) and UDP (8) headers, as quinn and quic-go.
  maxDatagramSize: 1452,
  // At most the receive window (a message must fit it) and the send queue (it must fit it too).
  maxMessageSize: 4 * 1024 * 1024,
  // 4 MiB: enough for ~330 Mbit/s at 100 ms RTT, bounded memory per connection.
  receiveWindow: 4 * 1024 * 1024,
  // 4 BDPs at 60 MB/s × 20 ms (4.8 MB); the window grows there only for an application that
  // consumes that fast (window-tuner.ts), and the endpoint's budget caps it as well.
  maxReceiveWindow: 16 * 1024 * 1024,
  // RFC 9002 says 333 ms for the open Internet; LAN and loopback peers are far closer, and the
  // first real sample replaces this anyway.
  initialRtt: 100,
  // Recover in milliseconds on a LAN, not after the 1 s of RFC 6298.
  minPto: 5,
  maxPto: 10_000,
  // Short so that loopback RTTs are not dominated by delayed ACKs.
  maxAckDelay: 5,
  // Chrome's ACK decimation: every 10th packet once a flow is established (the first 100 are
  // acknowledged every second packet, see AckScheduler). Each ACK is a datagram each way
  // through the kernel; one per two packets was a third of a bulk transfer's syscalls.
  ackEveryPackets: 10,
  idleTimeout: 30_000,
  keepAliveInterval: 10_000,
  congestion: 'bbr',
  pacing: true,
  // Exact timers (virtual time); a shell with coarser timers says so (the Node endpoint: 1 ms).
  timerGranularity: 0,
  // An unreliable message of maxMessageSize must fit, fragment overhead included.
  maxUnreliableReassembly: unreliableBudgetFor(4 * 1024 * 1024),
  // As net.Socket: a peer's end closes this side too unless the application asks otherwise.
  allowHalfOpen: false,
  random: Math.random,
  // Plaintext: every datagram carries its CRC-32.
  sealed: false,
  // Zeroed, as any Uint8Array; a shell with an unzeroed allocator passes it (the Node endpoint).
  allocateMessage: (size: number) => new Uint8Array(size),
};

/** Resolved configs by the partial they came from: every connection of an endpoint shares one. */
const resolved = new WeakMap<Partial<CoreConfig>, CoreConfig>();

export function resolveCoreConfig(partial: Partial<CoreConfig> | undefined): CoreConfig {
  if (partial === undefined) return DEFAULT_CORE_CONFIG as CoreConfig;
  const cached = resolved.get(partial);
  if (cached) return cached;
  const config = { ...DEFAULT_CORE_CONFIG };
  for (const key of Object.keys(partial) as (keyof CoreConfig)[]) {
    const value = partial[key];
    if (value !== undefined) (config as Record<string, unknown>)[key] = value;
  }
  resolved.set(partial, config);
  return config;
}

/**
 * The transport parameters a configuration announces (docs/protocol.md §4): the TSN window, so
 * that every TSN of credit may cost a whole datagram plus bookkeeping and the bytes still fit
 * `receiveWindow`; and the largest message, never more than the receive window can hold.
 */
export function announcedWindow(config: CoreConfig): number {
  return Math.max(1, Math.min(0x4000_0000, Math.floor(config.receiveWindow / (config.maxDatagramSize + OBJECT_OVERHEAD))));
}

export function announcedMaxMessageSize(config: CoreConfig): number {
  return Math.min(config.maxMessageSize, config.receiveWindow, 0xffff_ffff);
}
