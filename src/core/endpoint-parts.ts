import type { AddressCounts } from './address-counts.js';
import type { BufferBudget } from './buffer-budget.js';
import type { ClientHandshake, ConnectAttempt } from './client-handshake.js';
import type { ConnectionTable } from './connection-table.js';
import type { Deque } from './deque.js';
import type { EndpointConnection } from './endpoint-connection.js';
import type { EndpointCounters } from './endpoint-stats.js';
import type { DeadlineHeap, TimerEntry } from './endpoint-timers.js';
import type { ConnectionCoreFactory, DropReason, EndpointCoreConfig, EndpointError } from './endpoint-types.js';
import type { PeerTable } from './peer-table.js';
import type { ResetLimiter } from './reset-limiter.js';
import type { RetiredIds } from './retired-ids.js';
import type { ServerHandshake } from './server-handshake.js';
import type { TraceTarget } from './trace.js';
import type { LocalParams } from './transport-params.js';
import type { CoreEvent } from './types.js';

/**
 * What the modules carved out of endpoint.ts (endpoint-routing.ts, endpoint-registry.ts,
 * endpoint-deadlines.ts) read and write of an endpoint: its settings, its tables, the two sides
 * of the handshake, and the few things only the endpoint does (`touch`, `queue`, `drop`).
 * `EndpointCore` implements it (its fields, one object: every call stays monomorphic); the
 * modules import this type, not endpoint.ts, so that they do not import what imports them.
 * Field meanings: endpoint.ts. The types they share with it are here too: the endpoint's
 * events (endpoint.ts exports them) and the deadline heap's entries.
 */
export interface EndpointParts {
  readonly config: EndpointCoreConfig;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly createConnection: ConnectionCoreFactory;
  readonly trace: TraceTarget | null;
  readonly resetKey: Uint8Array;
  readonly params: LocalParams;
  readonly budget: BufferBudget;
  readonly maxDatagramSize: number;
  readonly server: ServerHandshake;
  readonly client: ClientHandshake;

  // --- the tables
  readonly connections: ConnectionTable<EndpointConnection>;
  readonly byCidLo: Map<number, EndpointConnection>;
  readonly byPeer: PeerTable<EndpointConnection>;
  readonly unfiled: Set<EndpointConnection>;
  readonly perAddress: AddressCounts;
  readonly retired: RetiredIds;
  readonly resetLimiter: ResetLimiter;
  readonly heap: DeadlineHeap<Timed>;
  readonly housekeeping: Housekeeping;
  readonly staleDeadlines: EndpointConnection[];
  readonly events: Deque<EndpointEvent | EndpointConnection | CoreEvent>;

  // --- counts, written by the modules too
  readonly counters: EndpointCounters;
  readonly dropped: Record<DropReason, number>;
  nextId: number;
  readonly lastNow: number;

  /** Drain `connection` next (EndpointCore.touch). */
  touch(connection: EndpointConnection): void;
  /** Queue a datagram of the endpoint's own (handshake, stateless reset, version negotiation). */
  queue(data: Uint8Array, address: string, port: number): void;
  drop(reason: DropReason): void;
}

/** What the endpoint reports (pollEvent, nextEvent). */
export type EndpointEvent =
  /** A new incoming connection was established (server side). */
  | { type: 'accepted'; connection: EndpointConnection }
  /** connect() succeeded. */
  | { type: 'connected'; attempt: number; connection: EndpointConnection }
  /** connect() failed. */
  | { type: 'connect-failed'; attempt: number; error: EndpointError }
  /** An event of one connection's engine. After `closed` the connection is gone from the endpoint. */
  | { type: 'connection-event'; connection: EndpointConnection; event: CoreEvent };

/** The endpoint's own entry in the deadline heap: retired IDs to prune (endpoint-deadlines.ts `pruneRetired`). */
export interface Housekeeping extends TimerEntry {
  readonly kind: 'housekeeping';
}

/** What the deadline heap holds: connections, outgoing handshakes, housekeeping. */
export type Timed = EndpointConnection | ConnectAttempt | Housekeeping;
