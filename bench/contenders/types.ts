/**
 * What a contender (a transport under test) can do. Each role runs inside its own child process
 * (bench/child.ts); a role that a contender cannot play is simply left out, and the workload skips it.
 */

import type { GcCounts, HalfFields } from '../lib/measure.js';

/** Called by a server/receiver role once it listens, so the parent can start the other side. */
export type Ready = (info: { port: number }) => void;

export interface BulkReceiveOptions {
  host: string;
  /** Payload bytes to expect before reporting. */
  bytes: number;
}
export interface BulkSendOptions {
  host: string;
  port: number;
  bytes: number;
  /** Bytes per write()/send() call. */
  chunk: number;
}
/**
 * halfAt/halfBytes/secondHalfCpuMs (HalfFields, optional: absent in results saved before them): when the
 * bytes received (sent) first reached half the total, and the CPU from then to when cpuMs was taken.
 */
export interface BulkReceiveResult extends HalfFields {
  bytes: number;
  /** Wall-clock ms (performance.timeOrigin + now): first and last payload byte seen. */
  firstAt: number;
  lastAt: number;
  cpuMs: number;
  maxRssBytes: number;
  /** Datagram contenders only: datagrams counted, and the sender's count if it told us. */
  datagrams?: number;
  /** Extra counters the contender exposes (retransmits, ...). */
  extra?: Record<string, number>;
  /** GCs of the receiving process during the transfer (added by bench/child.ts). */
  gc?: GcCounts;
}
export interface BulkSendResult extends HalfFields {
  bytes: number;
  startAt: number;
  /** When the last write was accepted (and, for reliable transports, flushed/acknowledged). */
  doneAt: number;
  cpuMs: number;
  maxRssBytes: number;
  datagrams?: number;
  extra?: Record<string, number>;
  /** GCs of the sending process during the transfer (added by bench/child.ts). */
  gc?: GcCounts;
}

export interface PingServerOptions {
  host: string;
}
export interface PingClientOptions {
  host: string;
  port: number;
  size: number;
  warmup: number;
  trips: number;
}
export interface PingClientResult {
  /** Round-trip times in microseconds, one per measured trip (warm-up excluded). */
  rttUs: number[];
  lost: number;
}

export interface ManyServerOptions {
  host: string;
  /** Connections to wait for (each must exchange one message) before measuring. */
  expected: number;
}
export interface ManyServerResult {
  connections: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
}
export interface ManyClientOptions {
  host: string;
  port: number;
  count: number;
  /** Connection attempts in flight at once. */
  concurrency: number;
}
export interface ManyClientResult {
  established: number;
  failed: number;
  startAt: number;
  doneAt: number;
}

export interface Contender {
  readonly name: string;
  bulkReceiver?(o: BulkReceiveOptions, ready: Ready): Promise<BulkReceiveResult>;
  bulkSender?(o: BulkSendOptions): Promise<BulkSendResult>;
  pingServer?(o: PingServerOptions, ready: Ready): Promise<void>;
  pingClient?(o: PingClientOptions): Promise<PingClientResult>;
  manyServer?(o: ManyServerOptions, ready: Ready): Promise<ManyServerResult>;
  /** Resolves once all are established; the process is then kept alive (idle) until killed. */
  manyClients?(o: ManyClientOptions): Promise<ManyClientResult>;
  /**
   * Optional: where the running role is (bytes so far, its connection's counters), for a parent
   * that timed out waiting for it (bench/child.ts answers SIGUSR2 with it).
   */
  status?(): Record<string, unknown>;
}

export type Role = 'bulkReceiver' | 'bulkSender' | 'pingServer' | 'pingClient' | 'manyServer' | 'manyClients';
