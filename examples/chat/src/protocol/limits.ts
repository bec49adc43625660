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
  /** Default page of `history`, and how much `/open` shows. */
  defaultHistoryPage: 20,
  /** Undelivered messages pushed per group before the client acknowledges them. */
  backlogBatch: 100,
  /** Requests queued on one connection while an earlier one (e.g. a login) is still running. */
  maxQueuedRequestsPerConnection: 256,
} as const;

/** User and group names: letters, digits, `_` and `-`, starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Session tokens on the wire: 32 bytes in base64url, 43 characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
