/**
 * How an endpoint ends (endpoint.ts `close()` and `destroy()` lead here, and a flush that finds
 * a closing endpoint idle): its timer stops, pending connects reject, its listeners leave the
 * socket, the 'error' and 'close' events go out with the qlog files complete, and the socket
 * closes once the datagrams handed to it have left.
 */
import { rdError } from '../errors.js';
import type { EndpointShellParts } from './endpoint-parts.js';

export function finishClose(ep: EndpointShellParts, err: Error | undefined): void {
  if (ep.state === 'closed') return;
  ep.state = 'closed';
  if (ep.timer !== null) ep.clock.clearTimer(ep.timer);
  ep.timer = null;
  ep.armedAt = null;
  const closedErr = rdError('ERR_ENDPOINT_CLOSED', 'the endpoint closed');
  for (const p of ep.pending.values()) {
    p.cleanup();
    p.reject(closedErr);
  }
  ep.pending.clear();
  ep.socket.off('message', ep.onMessage);
  ep.socket.off('close', ep.onSocketClose);
  // Keep a no-op error listener: a late socket error must not crash the process.
  ep.socket.off('error', ep.onSocketError);
  ep.socket.on('error', () => {});
  // A close() still waiting hears the error (it rejects with it); otherwise, unheard, it is an
  // uncaught exception on the next tick (Node semantics), once this endpoint is consistent.
  if (err) {
    if (ep.listenerCount('error') > 0) ep.emit('error', err);
    else if (ep.closeWaiters.length === 0) process.nextTick(() => ep.emit('error', err));
  }
  const done = (): void => {
    // The qlog files are complete on disk before the endpoint reports that it closed.
    if (ep.traceOutput.openFiles.length > 0) void ep.traceOutput.end().then(emitClose);
    else emitClose();
  };
  const emitClose = (): void => {
    ep.emit('close');
    // A close() still waiting learns whether the endpoint ended cleanly.
    for (const w of ep.closeWaiters.splice(0)) {
      if (err) w.reject(err);
      else w.resolve();
    }
  };
  // Datagrams handed to the socket (the last ACKs, RESETs) leave before it closes: dgram
  // drops sends still pending when close() is called.
  const closeSocket = (): void => {
    clearTimeout(fallback);
    try {
      ep.socket.close(done);
    } catch {
      done(); // already closed
    }
  };
  let poll: NodeJS.Timeout | undefined;
  const fallback = setTimeout(() => {
    ep.afterSends = null;
    clearTimeout(poll);
    closeSocket();
  }, 1000);
  fallback.unref?.();
  const queued = ep.queuedSends;
  if (queued !== null) {
    // Sends dgram could not complete at once wait in its queue: close once it is empty.
    const check = (): void => {
      if (queued() <= 0) closeSocket();
      else poll = setTimeout(check, 1);
    };
    check();
  } else if (ep.sendsInFlight <= 0) closeSocket();
  else ep.afterSends = closeSocket;
}