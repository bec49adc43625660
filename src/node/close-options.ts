import { AbortError, InvalidArgTypeError, InvalidArgValueError, rdError } from '../errors.js';
import { rejectUnknownOptions } from '../unknown-options.js';

/** Options of `Connection.close()` and `Endpoint.close()`. */
export interface CloseOptions {
  /** Give up waiting when this signal aborts: destroy instead, and reject with an AbortError (ABORT_ERR). */
  signal?: AbortSignal;
  /** Give up waiting after this many ms: destroy instead, and reject with ERR_CLOSE_TIMEOUT. */
  timeout?: number;
}

const CLOSE_OPTIONS = ['signal', 'timeout'] as const;

/** Validate close() options: TypeError/RangeError with a code. */
export function checkCloseOptions(options: CloseOptions | undefined): CloseOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError('options must be an object');
  rejectUnknownOptions(options, CLOSE_OPTIONS);
  const { signal, timeout } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgTypeError('options.signal must be an AbortSignal');
  }
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw new InvalidArgTypeError('options.timeout must be a number');
    if (timeout < 0 || timeout > 2 ** 31 - 1) {
      throw new InvalidArgValueError(`options.timeout must be in [0, ${2 ** 31 - 1}] ms, got ${timeout}`);
    }
  }
  const out: CloseOptions = {};
  if (signal !== undefined) out.signal = signal;
  if (timeout !== undefined) out.timeout = timeout;
  return out;
}

/** The clock of the endpoint (real or virtual): deadlines are values of `now()`. */
export interface WaitClock {
  now(): number;
  setTimer(deadline: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * Wait for `closed`, but at most until `timeout` ms pass or `signal` aborts: then call
 * `fallback` (destroy) and reject with ERR_CLOSE_TIMEOUT or an AbortError. Whatever `closed`
 * does after that is ignored.
 */
export function boundedWait(
  closed: Promise<void>,
  bound: CloseOptions & { clock: WaitClock; what: string },
  fallback: () => void,
): Promise<void> {
  const { signal, timeout, clock, what } = bound;
  if (signal === undefined && timeout === undefined) return closed;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let timer: unknown = null;
    const cleanup = (): void => {
      settled = true;
      if (timer !== null) clock.clearTimer(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (err: Error): void => {
      if (settled) return;
      cleanup();
      // The promise being waited for rejects when destroy() ends it: that is expected now.
      closed.catch(() => {});
      fallback();
      reject(err);
    };
    const onAbort = (): void => giveUp(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) {
      timer = clock.setTimer(clock.now() + timeout, () => {
        timer = null;
        giveUp(rdError('ERR_CLOSE_TIMEOUT', `${what} did not complete within ${timeout} ms; destroyed instead`));
      });
    }
    closed.then(
      () => {
        if (settled) return;
        cleanup();
        resolve();
      },
      (err: unknown) => {
        if (settled) return;
        cleanup();
        reject(err);
      },
    );
  });
}
