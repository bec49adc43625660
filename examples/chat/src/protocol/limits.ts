/**
 * Documented limits of the chat protocol (PROTOCOL.md, "Limits"). The server enforces every one;
 * the client checks them too so that a typo fails fast with the same code.
 */
export const LIMITS = {
  /** Largest request the server parses, in bytes of UTF-8 JSON. */
  maxRequestBytes: 64 * 1024,
  /** User and group names: 1 to 32 characters from NAME_PATTERN. */
  maxNameLength: 32,
  /** Passwords: 8 to 256 characters (OWASP: allow at least 64). */
  minPasswordLength: 8,
  maxPasswordLength: 256,
  /** Message text: 1 to 4000 characters and at most 16 KiB of UTF-8. */
  maxTextLength: 4000,
  maxTextBytes: 16 * 1024,
  /** Client message ids: 1 to 64 characters of [A-Za-z0-9_-]. */
  maxClientMsgIdLength: 64,
  /** Members named when creating a group (the creator comes on top). */
  maxInitialMembers: 64,
  /** Members of one group, in total. */
  maxGroupMembers: 256,
  /** Groups a user may belong to. */
  maxGroupsPerUser: 200,
  /** `history` returns at most this many messages per request. */
  maxHistoryPage: 200,
  /**
   * A `history` reply carries at most this many bytes of messages (UTF-8 JSON): 200 messages of
   * 16 KiB would pass the transport's 1 MiB message limit. A page cut short keeps its newest
   * messages and says `more`.
   */
  maxHistoryReplyBytes: 512 * 1024,
  /** Default page of `history`, and how much `/open` shows. */
  defaultHistoryPage: 20,
  /** Undelivered messages pushed per group before the client acknowledges them. */
  backlogBatch: 100,
  /** Requests queued on one connection while an earlier one (e.g. a login) is still running. */
  maxQueuedRequestsPerConnection: 256,
  /** Pending invitations one user can have; a new one beyond this replaces the oldest. */
  maxPendingInvitations: 50,
} as const;

/** User and group names: letters, digits, `_` and `-`, starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Session tokens on the wire: 32 bytes in base64url, 43 characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Characters refused in message text (and escaped on display, in case a server lets one through):
 * C0 controls except tab, DEL, C1 controls (ANSI escapes, CR: forged lines or a rewritten
 * terminal), U+2028/U+2029 (line and paragraph separators), bidi embeddings, overrides and
 * isolates U+202A-U+202E and U+2066-U+2069 (text that reads differently from what it is),
 * and zero-width or invisible characters U+200B, U+2060-U+2064, U+FEFF. (U+200C/U+200D stay:
 * Persian and emoji sequences need them.)
 */
export const FORBIDDEN_TEXT = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200b\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
