/**
 * The connection's states and the rules that move between them (docs/protocol.md "Closing").
 *
 *   open ──close()/peer CLOSE──▶ closing ──both CLOSEs acknowledged──▶ draining ──quiet──▶ closed
 *     └──────────── abort(), RESET, stateless reset, idle timeout ─────────────────────▶ closed
 *
 * Only rules live here, as plain functions of their inputs; `ConnectionCore` holds the state and
 * applies them. RFC 9000 §10.1 (idle timeout, keepalive) and §10.2 (closing and draining).
 */

export type ConnectionState = 'open' | 'closing' | 'draining' | 'closed';

/** RESET frame codes (docs/protocol.md). */
export const ResetCode = { Abort: 0, ProtocolViolation: 1, FlowControl: 2, Internal: 3 } as const;

/** The error code a RESET with this code reports, whichever side sent it. */
export function resetErrorCode(code: number): 'ERR_PROTOCOL_VIOLATION' | 'ERR_CONNECTION_RESET' {
  // The side that detected a violation (codes 1 and 2) and the side told about it report the same.
  return code === ResetCode.ProtocolViolation || code === ResetCode.FlowControl ? 'ERR_PROTOCOL_VIOLATION' : 'ERR_CONNECTION_RESET';
}

/** RFC 9000 §10.1: the effective idle timeout is the smaller of the two announced values (0: none). */
export function effectiveIdleTimeout(local: number, remote: number): number {
  if (local > 0 && remote > 0) return Math.min(local, remote);
  if (local > 0) return local;
  if (remote > 0) return remote;
  return 0;
}

/**
 * Keep alive well within the idle timeout actually in force (the peer's may be shorter than
 * ours): RFC 9000 §10.1.2. A third leaves room for two lost keepalives.
 */
export function keepAliveInterval(configured: number, idleTimeout: number): number {
  return configured > 0 && idleTimeout > 0 ? Math.min(configured, idleTimeout / 3) : configured;
}

/**
 * How long the side that still waits for the ACK of its CLOSE keeps repeating it after the
 * peer (which had already sent its own CLOSE) went silent. Long enough for ≥16 copies, so
 * that losing all of them is negligible even at 50 % loss; never longer than the idle timeout,
 * which would otherwise turn a graceful end into an error.
 */
export function lingerPeriod(pto: number, idleTimeout: number): number {
  const linger = Math.max(16 * pto, 2000);
  return idleTimeout > 0 ? Math.min(linger, idleTimeout) : linger;
}

/** Draining answers a repeated CLOSE with an ACK until the peer has been quiet this long. */
export function drainPeriod(pto: number): number {
  return 3 * pto;
}

/**
 * A connection quiet this long (nothing ack-eliciting in flight, no probe due, no event
 * waiting) gives back the storage of its empty queues, receive maps and sent-packet history
 * (dormancy.ts `compactIdle`), and its stages go dormant (dormant.ts: only what differs from
 * a fresh build is kept): an idle connection costs less heap (issue 11), and the next send or
 * datagram allocates and builds them again. A fixed time, not a number of PTOs: waiting for an ACK
 * is not quiet anyway, and a busy flow (bulk, ping-pong, a game's 60 Hz updates) never pauses
 * this long; a connection that does (a chat, an RPC every second) pays a few small arrays per
 * message.
 */
export const COMPACT_AFTER_MS = 100;

/** Where a quiet connection is on its way to the dormant form (`ConnectionCore.sleep`; dormancy.ts decides). */
export const enum Sleep {
  Awake = 0,
  /** Quiet long enough: dormant at the next pollTransmit that returns null. */
  Wanted = 1,
  /** It stays awake for good: the application's own congestion controller (the walk cannot see it). */
  Never = 2,
  /**
   * Its stages could not be rebuilt exactly the last time (dormant.ts `freeze` said why: a Map
   * with entries, a closure of its own): awake until its next quiet period after new activity
   * (`compactIdle`), when what held it may be gone. A keep-alive's PING and its ACK are such
   * activity, so a connection the application leaves alone is tried again at every keep-alive
   * (its only timer but the idle timeout, which ends it) without a timer of its own; with
   * keep-alives off it waits for traffic (test/core/dormant-stages.test.ts).
   */
  Refused = 3,
}
