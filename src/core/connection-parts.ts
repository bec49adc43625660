import type { ConnectionId } from '../wire/types.js';
import type { AckScheduler } from './ack-scheduler.js';
import type { BlockedTime } from './blocked-time.js';
import type { BufferBudget } from './buffer-budget.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import type { DormantStages } from './dormant.js';
import type { LossRecovery } from './loss-recovery.js';
import type { PacketBuilder } from './packet-builder.js';
import type { PathManager } from './path-manager.js';
import type { PathMtu, PathMtuListener } from './path-mtu.js';
import type { Receiver } from './receiver.js';
import type { SendScheduler } from './send-scheduler.js';
import type { Stages } from './stages.js';
import type { ConnectionState, Sleep } from './state.js';
import type { Tracer } from './trace.js';
import type { CloseError, CoreConfig, CoreEvent } from './types.js';

/**
 * What the modules carved out of connection.ts (dormancy.ts, receive-budget.ts,
 * frame-dispatch.ts, receive-prediction.ts, close-handshake.ts, send-decision.ts) read and
 * write of a connection: its stages, its lifecycle fields and the transitions they call.
 * `ConnectionCore` implements it (its fields, one object: every call stays monomorphic); the
 * modules import this type, not connection.ts, so that they do not import what imports them.
 * Field meanings: connection.ts.
 */
export interface ConnectionParts extends PathMtuListener {
  readonly localCidHi: number;
  readonly localCidLo: number;
  readonly remoteCid: ConnectionId;
  readonly config: CoreConfig;
  readonly trace: Tracer | null;
  readonly localMaxDatagram: number;
  readonly idleTimeout: number;
  readonly events: Deque<CoreEvent>;
  readonly budget: BufferBudget | null;
  readonly _state: ConnectionState;

  // --- the stages
  readonly mtu: PathMtu;
  readonly path: PathManager;
  readonly acks: AckScheduler;
  readonly receiver: Receiver;
  readonly recovery: LossRecovery;
  readonly sender: SendScheduler;
  readonly builder: PacketBuilder;
  readonly counters: Counters;
  readonly blocked: BlockedTime;

  // --- lifecycle, budget, dormancy: written by the modules too
  budgetReported: number;
  lastReceivedAt: number;
  readonly awaitingFirstPacket: boolean;
  readonly closeRequested: boolean;
  peerClosed: boolean;
  drainUntil: number;
  pendingReset: { code: number; reason: string } | null;
  resting: boolean;
  ackDeferred: boolean;
  dormant: DormantStages | null;
  sleep: Sleep;

  // --- the transitions and the wiring they call
  close(now: number): void;
  abort(now: number, code?: number, reason?: string): void;
  finish(now: number, error: CloseError | undefined): void;
  setState(now: number, to: ConnectionState): void;
  isClosed(): boolean;
  useStages(s: Stages): void;
  pollTimeout(): number | null;
}
