/**
 * How a connection ends: a graceful close() (bounded by its timeout or signal), destroy() (one
 * RESET, closed at once), the endpoint going away (forceClose), and `finish`, where every end
 * leads once the engine reported `closed`: the waiters settle, 'error' (only for a failure the
 * application did not choose) and 'close' go out.
 */
import { AbortError, rdError, type ReliableDgramError } from '../errors.js';
import type { CloseError } from '../core/types.js';
import { boundedWait, checkCloseOptions, type CloseOptions } from './close-options.js';
import { checkDestroyArgs, type DestroyOptions } from './connection-options.js';
import type { ConnectionShellParts } from './connection-parts.js';
import { wakeWaiters } from './connection-delivery.js';

export function closeGracefully(conn: ConnectionShellParts, options: CloseOptions | undefined): Promise<void> {
  const bound = checkCloseOptions(options);
  const signal = bound.signal;
  if (conn.finished) {
    return conn.closeError && !conn.destroyed ? Promise.reject(conn.closeError) : Promise.resolve();
  }
  if (signal?.aborted) {
    conn.destroy();
    return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  }
  const closed = new Promise<void>((resolve, reject) => {
    (conn.ensureWaits().closeWaiters ??= []).push({ resolve, reject });
    if (conn.record.core.state === 'open') {
      conn.record.core.close(conn.host.now());
      conn.host.scheduleFlush(conn.record);
    }
  });
  return boundedWait(closed, { ...bound, clock: conn.host, what: 'connection close' }, () => conn.destroy());
}
export function destroyNow(conn: ConnectionShellParts, err: Error | undefined, options: DestroyOptions | undefined): void {
  const reason = checkDestroyArgs(err, options);
  if (conn.finished || conn.destroyed) return;
  conn.destroyed = true;
  conn.closeError = err;
  conn.record.core.abort(conn.host.now(), 0, reason ?? '');
  conn.host.flushNow(conn.record);
  // The engine closes at once on abort; make sure, even if it did not report it.
  if (!conn.finished) finish(conn, undefined);
}
/**
 * The endpoint is going away: end this connection now. `err` ends its iterators and
 * close() promises and is passed to 'close', but no 'error' is emitted: the application (or the
 * endpoint's own 'error') decided.
 */
export function forceClose(conn: ConnectionShellParts, err: Error): void {
  if (conn.finished) return;
  conn.closeError = err;
  finish(conn, undefined);
}


export function finish(conn: ConnectionShellParts, coreError: CloseError | undefined): void {
  if (conn.finished) return;
  conn.finished = true;
  conn.host.finished();
  // destroy(err) and forceClose left theirs in closeError; otherwise the engine's says why.
  let err: Error | undefined = conn.closeError;
  if (!conn.destroyed && coreError) err = toError(coreError);
  conn.closeError = err;
  // Pending close() promises learn how it ended.
  // A pending sendAcked()/flush() or a channel iterator (createStream) hears it too.
  const w = conn.waits;
  const heard =
    w !== null &&
    ((w.closeWaiters !== null && w.closeWaiters.length > 0) ||
      (w.receipts !== null && w.receipts.size > 0) ||
      (w.flushWaiters !== null && w.flushWaiters.length > 0) ||
      (!conn.destroyed && (w.iterating > 0 || (w.waiters !== null && w.waiters.length > 0) || w.channelIterating !== null)));
  const pendingErr = err ?? (conn.destroyed ? rdError('ERR_CONNECTION_CLOSED', 'the connection was destroyed') : undefined);
  const closeWaiters = w?.closeWaiters ?? [];
  if (w !== null) w.closeWaiters = null;
  for (const w of closeWaiters) {
    if (pendingErr) w.reject(pendingErr);
    else w.resolve();
  }
  // Whatever still waits for an acknowledgement will not get one now.
  const ackErr = pendingErr ?? rdError('ERR_CONNECTION_CLOSED', 'the connection closed before the message was acknowledged');
  const flushWaiters = w?.flushWaiters ?? [];
  if (w !== null) w.flushWaiters = null;
  for (const w of flushWaiters) {
    if (conn.record.core.ackedThrough >= w.mark) w.resolve();
    else w.reject(ackErr);
  }
  const receipts = w?.receipts ?? null;
  if (receipts !== null) {
    w!.receipts = null;
    for (const r of receipts.values()) r.reject(ackErr);
  }
  wakeWaiters(conn);
  // 'error' only for failures the application did not choose: a peer reset, an idle timeout,
  // a protocol violation, or destroy(err). Not for destroy() or the endpoint going away.
  const report = err !== undefined && (conn.destroyed || coreError !== undefined);
  const listened = conn.listenerCount('error') > 0;
  if (report && listened) conn.emit('error', err!);
  conn.emit('close', err);
  // Node semantics: an 'error' nobody listens to is not lost. Rejected close() promises and
  // iterators count as listeners; otherwise it surfaces as an uncaught exception (on the next
  // tick, so that this connection and its endpoint are consistent when it does).
  if (report && !listened && !heard) {
    process.nextTick(() => conn.emit('error', err!));
  }
}

function toError(e: CloseError): ReliableDgramError {
  return rdError(e.code, e.message);
}
