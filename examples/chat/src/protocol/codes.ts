/**
 * Error codes of the chat protocol. Every error reply carries one; clients match on the code,
 * never on the message text. PROTOCOL.md lists them with their meaning.
 */
export const ERROR_CODES = {
  /** Not JSON, not an object, a forbidden key such as `__proto__`, or a field of the wrong shape. */
  BAD_REQUEST: 'The request is malformed',
  /** `type` names no request this server knows. */
  UNKNOWN_TYPE: 'Unknown request type',
  /** The request is larger than LIMITS.maxRequestBytes. */
  TOO_LARGE: 'The request is too large',
  /** A field is well-formed JSON but breaks a documented limit (name, password, text). */
  INVALID_ARGUMENT: 'Invalid argument',
  /** Unknown user or wrong password: deliberately the same code for both. */
  AUTH_FAILED: 'Wrong user name or password',
  /** Too many failed logins for this user or from this address; see `retryAfterMs`. */
  RATE_LIMITED: 'Too many attempts, try again later',
  /** The server is saturated (password hashing queue full, or too many queued requests). */
  BUSY: 'The server is busy, try again',
  /** `register` with a name that is already taken, or `group` with a taken group name. */
  NAME_TAKEN: 'That name is taken',
  /** The request needs a logged-in connection. */
  UNAUTHENTICATED: 'Log in first',
  /** The session token is unknown, forged, expired or revoked (one code for all four). */
  INVALID_SESSION: 'Invalid or expired session',
  /** No such group, or you are not a member of it (one code for both, on purpose). */
  NOT_FOUND: 'No such group',
  /** `group`/`add` named a user that does not exist. */
  UNKNOWN_USER: 'No such user',
  /** `add` named a user who is already a member. */
  ALREADY_MEMBER: 'Already a member',
  /** A limit on membership was reached (group size, groups per user). */
  LIMIT_REACHED: 'Limit reached',
  /** The server failed unexpectedly; nothing was changed. */
  INTERNAL: 'Internal error',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error the server turns into an error reply. */
export class ChatError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], retryAfterMs?: number) {
    super(message);
    this.name = 'ChatError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}
