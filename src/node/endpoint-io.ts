/**
 * The endpoint's output, one flush at a time: what the engines want sent goes to the socket
 * (`transmit`), their events are handed on (endpoint-events.ts) until none is left, then the
 * connections waiting for 'drain' are checked and the timer re-armed (endpoint-timer.ts), or a
 * closing endpoint that has gone idle finishes (endpoint-close.ts). And when a flush runs: now
 * (a datagram in, a timer, close or destroy), on a microtask after send() (`scheduleFlush`), or
 * once after a socket batch (`batchFlush`).
 */
import type { EndpointEvent, Transmit } from '../core/endpoint.js';
import { finishClose } from './endpoint-close.js';
import { dispatch } from './endpoint-events.js';
import type { EndpointShellParts } from './endpoint-parts.js';
import { rearm as rearmTimer } from './endpoint-timer.js';
import { Stage, stageTrace } from './stage-trace.js';

/**
 * Send what the engines want sent, dispatch their events, re-arm the one timer (`at`: the
 * clock as the caller just read it, in the same turn). An exception
 * thrown by an application listener propagates (as in Node), but only after the timer is
 * re-armed, so the endpoint keeps running.
 */
export function flush(ep: EndpointShellParts, batch = false, at?: number): void {
  if (ep.flushing || ep.state === 'closed') return;
  ep.flushing = true;
  const now = at ?? ep.clock.now();
  try {
    for (;;) {
      let tx: Transmit | null;
      const core = ep.core;
      while ((tx = core.pollTransmit(now, batch)) !== null) {
        // A connection stopped sending data before this datagram: its own have left by now
        // (stats' time blocked counts from then, not from the flush's `now`: core/blocked-time.ts).
        if (core.sendingStopped) core.flushed(ep.clock.now());
        transmit(ep, tx);
      }
      if (core.sendingStopped) core.flushed(ep.clock.now());
      let ev: EndpointEvent | null;
      let any = false;
      while ((ev = ep.core.nextEvent()) !== null) {
        any = true;
        dispatch(ep, ev);
      }
      if (!any) break;
    }
  } catch (e) {
    // A listener threw: finish the remaining work on the next microtask, then let it surface.
    ep.flushing = false;
    scheduleFlush(ep);
    throw e;
  } finally {
    ep.flushing = false;
    // In the middle of a socket batch whose flush is already scheduled (`onIoFlush`, an
    // immediate: it runs before any setTimeout timer can fire; the endpoint's own timer, if it
    // was armed as an immediate earlier in the batch, may run first and re-arms itself), the
    // timer is re-armed there, once per batch, not after every datagram (issue 11:
    // pollTimeout's ten deadlines per datagram). Scheduled here by the batch's first datagram
    // that leaves packets waiting for an ACK, so that it too leaves the timer to it.
    afterFlush(ep, now, !(batch && batchFlush(ep, now)));
  }
}

function transmit(ep: EndpointShellParts, tx: Transmit): void {
  if (stageTrace !== null) stageTrace.mark(Stage.Built, tx.data.length);
  if (ep.queuedSends !== null) {
    try {
      // Without an address when the socket is connected there (peer-socket.ts).
      ep.peer.send(tx.data, tx.port, tx.address);
      // Sent at once, nothing queued: the kernel has its copy; the next datagram may reuse the buffer.
      if (ep.reuseSent && ep.queuedSends() === 0) ep.core.transmitted(tx.data);
    } catch {
      // e.g. the socket closed under us: the datagram is lost, the engines recover or time out.
      ep.sendErrors++;
    }
  } else {
    try {
      ep.sendsInFlight++;
      ep.socket.send(tx.data, tx.port, tx.address, ep.onSent);
    } catch {
      ep.sendsInFlight--;
      ep.sendErrors++;
    }
  }
  if (stageTrace !== null) stageTrace.mark(Stage.Sent);
}

/**
 * `now`: the flush's time (for the timer's bookkeeping; moving it asks the clock afresh).
 * `rearm` false: the batch's own flush, already scheduled, re-arms the timer.
 */
function afterFlush(ep: EndpointShellParts, now: number, rearm: boolean): void {
  try {
    // forEach, not for…of: no iterator object per flush (a bulk sender always has one to check).
    if (ep.drainWatch.size > 0) ep.drainWatch.forEach(ep.checkWatched);
  } finally {
    if (rearm) rearmTimer(ep, now);
    if (stageTrace !== null) stageTrace.mark(Stage.FlushDone);
    if (ep.state === 'closing' && ep.core.idle) finishClose(ep, undefined);
  }
}

/**
 * In a socket batch: schedule the batch's own flush (`onIoFlush`) if the engine left an ACK
 * for it or has packets waiting for one (EndpointCore.batchAckWaits). True: one is scheduled,
 * and it re-arms the timer.
 */
export function batchFlush(ep: EndpointShellParts, now: number): boolean {
  if (!ep.ioFlushScheduled && (ep.core.hasDeferredAcks || ep.core.batchAckWaits)) {
    ep.ioFlushScheduled = true;
    ep.clock.setTimer(now, ep.onIoFlush);
  }
  return ep.ioFlushScheduled;
}

export function scheduleFlush(ep: EndpointShellParts): void {
  // Inside a flush (a 'message' handler that replies): the flush loop picks the connection up.
  if (ep.flushing || ep.flushScheduled) return;
  ep.flushScheduled = true;
  queueMicrotask(ep.onScheduledFlush);
}
