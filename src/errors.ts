/**
 * Every error reliable-dgram raises or emits carries a stable `code`. Match on `err.code`, never
 * on the message text. The list is documented in README.md ("Error codes").
 */

export type ErrorCode =
  /** `connect()` got no answer within `connectTimeout`. */
  | 'ERR_CONNECTION_TIMEOUT'
  /** The server refused the connection (endpoint full, firewall, or closing). */
  | 'ERR_CONNECTION_REFUSED'
  /** The peer aborted the connection (`destroy()`), or a valid stateless reset arrived. */
  | 'ERR_CONNECTION_RESET'
  /** Nothing was heard from the peer for `idleTimeout` milliseconds. */
  | 'ERR_IDLE_TIMEOUT'
  /** The peer broke the protocol (e.g. acknowledged a packet that was never sent). */
  | 'ERR_PROTOCOL_VIOLATION'
  /**
   * The secure handshake failed: the server could not prove it holds the key the client named
   * (`serverKey`), does not encrypt, or a `verifyPeer` hook (either side's) rejected a key.
   */
  | 'ERR_AUTHENTICATION_FAILED'
  /** The peer does not speak a wire version we support. */
  | 'ERR_UNSUPPORTED_VERSION'
  /**
   * The server answered `connect()`'s handshake from another address or port than the one
   * dialled (a server bound to every interface of a host with several addresses).
   */
  | 'ERR_ADDRESS_MISMATCH'
  /** A message is larger than `maxMessageSize` (ours, or the smaller one the peer announced). */
  | 'ERR_MESSAGE_TOO_LARGE'
  /** The send queue is over its hard limit (`maxQueuedBytes`): the message was not queued. */
  | 'ERR_SEND_QUEUE_FULL'
  /** The connection is closing or closed: it no longer accepts messages. */
  | 'ERR_CONNECTION_CLOSED'
  /** The endpoint is closed. */
  | 'ERR_ENDPOINT_CLOSED'
  /** The operation was aborted through an `AbortSignal` (Node's own code). */
  | 'ABORT_ERR'
  /** An argument has the wrong type. */
  | 'ERR_INVALID_ARG_TYPE'
  /** An argument is outside its allowed range. */
  | 'ERR_INVALID_ARG_VALUE'
  /** The socket failed (the cause is attached). */
  | 'ERR_SOCKET'
  /** An unreliable message awaited with `sendAcked()` expired unsent (`maxAge`) or was lost. */
  | 'ERR_MESSAGE_DROPPED'
  /** `close({ timeout })` did not finish in time: the connection or endpoint was destroyed instead. */
  | 'ERR_CLOSE_TIMEOUT';

/** The error class of reliable-dgram: an `Error` with a stable {@link ErrorCode}. */
export class ReliableDgramError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReliableDgramError';
    this.code = code;
  }
}

/** A `TypeError` with `code: 'ERR_INVALID_ARG_TYPE'`, as Node's own argument checks throw. */
export class InvalidArgTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'TypeError';
  }
}

/** A `RangeError` with `code: 'ERR_INVALID_ARG_VALUE'`. */
export class InvalidArgValueError extends RangeError {
  readonly code = 'ERR_INVALID_ARG_VALUE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'RangeError';
  }
}

/**
 * A `TypeError` with `code: 'ERR_INVALID_ARG_VALUE'` for an options object with a name no option
 * has (a typo such as `idleTimout`). `option` is the unknown name, `suggestion` the closest known
 * one, if any is close.
 */
export class UnknownOptionError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_VALUE' as const;
  constructor(
    message: string,
    readonly option: string,
    readonly suggestion: string | undefined,
  ) {
    super(message);
    this.name = 'TypeError';
  }
}

/** The error an aborted wait rejects with, shaped like Node's own `AbortError`. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR' as const;
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

export function rdError(code: ErrorCode, message: string, cause?: unknown): ReliableDgramError {
  return cause === undefined
    ? new ReliableDgramError(code, message)
    : new ReliableDgramError(code, message, { cause });
}
