import type { ConnectionParts } from './connection-parts.js';
import { drainPeriod, lingerPeriod } from './state.js';

/**
 * The graceful close's handshake (docs/protocol.md "Closing", RFC 9000 §10.2): our CLOSE
 * queued once everything before it is sent (`maybeQueueClose`), the peer's CLOSE
 * (`onPeerClose`), both acknowledged → draining (`maybeFinishClose`, `enterDraining`), and how
 * long our CLOSE is repeated once the peer went quiet (`closeWithoutBackoff`, `lingerDeadline`).
 * The transitions themselves (`setState`, `finish`, `becomeClosed`) and the abortive close are
 * connection.ts's state machine; the periods are state.ts's rules.
 */

/** Once the peer's CLOSE arrived, our CLOSE is repeated every PTO without backoff. */
export function closeWithoutBackoff(c: ConnectionParts): boolean {
  return c.peerClosed && c._state === 'closing';
}

/** Our CLOSE waits for its ACK after the peer's CLOSE: give up (gracefully) after the linger. */
export function lingerDeadline(c: ConnectionParts): number {
  if (c._state !== 'closing' || !c.peerClosed || c.sender.closeAcked || c.sender.closeSentPn < 0) return Infinity;
  return c.lastReceivedAt + lingerPeriod(c.recovery.basePto(), c.idleTimeout);
}

/** After close(): our CLOSE goes out once the send side has nothing before it (SendScheduler.queueCloseWhenIdle). */
export function maybeQueueClose(c: ConnectionParts): void {
  if (c.closeRequested) c.sender.queueCloseWhenIdle();
}

/** The peer's CLOSE frame: acknowledged at once; the first one also closes our half unless half-open is allowed. */
export function onPeerClose(c: ConnectionParts, now: number): void {
  c.resting = false;
  c.acks.requestImmediate();
  if (c.peerClosed) return;
  c.peerClosed = true;
  c.events.push({ type: 'peer-closed' });
  // The peer is done sending. Unless the application keeps its half open (it then
  // closes when it is done, docs/protocol.md §18.1), we finish too.
  if (c._state === 'open' && !c.config.allowHalfOpen) c.close(now);
  maybeFinishClose(c, now);
}

/** Both CLOSEs sent, ours acknowledged: draining. */
export function maybeFinishClose(c: ConnectionParts, now: number): void {
  if (c._state !== 'closing' || !c.sender.closeAcked || !c.peerClosed) return;
  enterDraining(c, now);
}

/**
 * Both CLOSEs are through: the close is complete for the application ('closed' event), but
 * the engine lingers in 'draining' so that a CLOSE the peer repeats (because our ACK was
 * lost) is acknowledged again. The shell keeps routing to it until `state` is 'closed'.
 */
export function enterDraining(c: ConnectionParts, now: number): void {
  c.setState(now, 'draining');
  c.drainUntil = now + drainPeriod(c.recovery.basePto());
  c.events.push({ type: 'closed' });
}
