/**
 * Turns untrusted bytes into a typed Request, or into the error reply it deserves. Never throws:
 * every failure is a ChatError with its code (BAD_REQUEST, TOO_LARGE, UNKNOWN_TYPE,
 * INVALID_ARGUMENT). The returned request holds only the fields listed here, copied one by one,
 * so unknown fields never travel further.
 */
import { ChatError } from './codes.js';
import { CLIENT_MSG_ID_PATTERN, FORBIDDEN_TEXT, LIMITS, NAME_PATTERN, TOKEN_PATTERN } from './limits.js';
import type { Request, RequestId } from './messages.js';
import { isPlainObject, parseSafeJson } from './safe-json.js';

export type ParseResult =
  /** `notice`: a receipt or typing notice sent without an `id`, which gets no reply at all. */
  | { ok: true; request: Request; notice: boolean }
  | { ok: false; id: RequestId | null; error: ChatError };

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * `{"id":7,` or `{"id":"abc",` at the very start of a request: enough to answer a request that is
 * too large or too broken to parse with an id its client can match (clients write `id` first).
 */
const LEADING_ID = /^\s*\{\s*"id"\s*:\s*(?:(\d{1,15})|"([A-Za-z0-9_.:-]{1,64})")\s*[,}]/;

export function leadingId(data: Uint8Array): RequestId | null {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 96)).toString('latin1');
  const match = LEADING_ID.exec(head);
  if (!match) return null;
  if (match[1] !== undefined) {
    const n = Number(match[1]);
    return Number.isSafeInteger(n) ? n : null;
  }
  return match[2] ?? null;
}

export function parseRequest(data: Uint8Array): ParseResult {
  if (data.byteLength > LIMITS.maxRequestBytes) {
    return { ok: false, id: leadingId(data), error: new ChatError('TOO_LARGE', `Requests are limited to ${LIMITS.maxRequestBytes} bytes`) };
  }
  let value: unknown;
  try {
    value = parseSafeJson(decoder.decode(data));
  } catch {
    return { ok: false, id: leadingId(data), error: new ChatError('BAD_REQUEST', 'Not valid UTF-8 JSON, or uses a forbidden key') };
  }
  if (!isPlainObject(value)) {
    return { ok: false, id: null, error: new ChatError('BAD_REQUEST', 'A request is a JSON object') };
  }
  // Receipts and typing notices may omit `id`: the client does not wait for them, and at
  // fan-out rates their replies would be most of the server's traffic.
  if (value['id'] === undefined && typeof value['type'] === 'string' && NOTICE_TYPES.has(value['type'])) {
    try {
      return { ok: true, request: buildRequest(value, 0), notice: true };
    } catch (err) {
      return { ok: false, id: null, error: err instanceof ChatError ? err : new ChatError('BAD_REQUEST') };
    }
  }
  const id = readId(value['id']);
  if (id === undefined) {
    return { ok: false, id: null, error: new ChatError('BAD_REQUEST', 'A request needs an "id": an integer or a short string') };
  }
  try {
    return { ok: true, request: buildRequest(value, id), notice: false };
  } catch (err) {
    if (err instanceof ChatError) return { ok: false, id, error: err };
    return { ok: false, id, error: new ChatError('BAD_REQUEST') };
  }
}

/** Request types that may be sent as notices (no `id`, no reply). */
export const NOTICE_TYPES: ReadonlySet<string> = new Set(['received', 'read', 'typing']);

function readId(raw: unknown): RequestId | undefined {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string' && raw.length >= 1 && raw.length <= 64) return raw;
  return undefined;
}

function buildRequest(o: Record<string, unknown>, id: RequestId): Request {
  const type = o['type'];
  if (typeof type !== 'string') throw new ChatError('BAD_REQUEST', 'A request needs a string "type"');
  switch (type) {
    case 'register':
    case 'login':
      return { type, id, user: userName(o, 'user'), password: password(o) };
    case 'resume':
      return { type, id, token: token(o) };
    case 'logout':
    case 'listGroups':
    case 'ping':
      return { type, id };
    case 'createGroup':
      return { type, id, group: groupName(o, 'group'), members: memberList(o) };
    case 'addMember':
    case 'invite':
      return { type, id, group: groupName(o, 'group'), user: userName(o, 'user') };
    case 'invitations':
      return { type, id };
    case 'leaveGroup':
    case 'who':
    case 'accept':
    case 'decline':
    case 'typing':
      return { type, id, group: groupName(o, 'group') };
    case 'send':
      return { type, id, group: groupName(o, 'group'), clientMsgId: clientMsgId(o), text: text(o), kind: messageKind(o) };
    case 'edit':
      return { type, id, group: groupName(o, 'group'), messageId: messageId(o, 'messageId'), text: text(o) };
    case 'delete':
      return { type, id, group: groupName(o, 'group'), messageId: messageId(o, 'messageId') };
    case 'history':
      return { type, id, group: groupName(o, 'group'), limit: historyLimit(o), before: optionalMessageId(o, 'before') };
    case 'received':
    case 'read':
      return { type, id, group: groupName(o, 'group'), upTo: messageId(o, 'upTo') };
    default:
      throw new ChatError('UNKNOWN_TYPE', 'Unknown request type');
  }
}

function str(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new ChatError('BAD_REQUEST', `"${field}" must be a string`);
  return v;
}

function name(o: Record<string, unknown>, field: string, what: string): string {
  const v = str(o, field);
  if (!NAME_PATTERN.test(v)) {
    throw new ChatError('INVALID_ARGUMENT', `${what} names are 1-${LIMITS.maxNameLength} letters, digits, "_" or "-", starting with a letter or digit`);
  }
  return v;
}

const userName = (o: Record<string, unknown>, field: string): string => name(o, field, 'User');
const groupName = (o: Record<string, unknown>, field: string): string => name(o, field, 'Group');

function password(o: Record<string, unknown>): string {
  const v = str(o, 'password');
  const length = [...v].length;
  if (length < LIMITS.minPasswordLength || length > LIMITS.maxPasswordLength) {
    throw new ChatError('INVALID_ARGUMENT', `Passwords are ${LIMITS.minPasswordLength}-${LIMITS.maxPasswordLength} characters`);
  }
  return v;
}

function token(o: Record<string, unknown>): string {
  const v = str(o, 'token');
  // A token of the wrong shape cannot be valid: same code as an unknown one.
  if (!TOKEN_PATTERN.test(v)) throw new ChatError('INVALID_SESSION');
  return v;
}

function memberList(o: Record<string, unknown>): string[] {
  const v = o['members'];
  if (!Array.isArray(v)) throw new ChatError('BAD_REQUEST', '"members" must be an array of user names');
  if (v.length > LIMITS.maxInitialMembers) {
    throw new ChatError('INVALID_ARGUMENT', `At most ${LIMITS.maxInitialMembers} members when creating a group`);
  }
  const members: string[] = [];
  for (const m of v) {
    if (typeof m !== 'string' || !NAME_PATTERN.test(m)) throw new ChatError('INVALID_ARGUMENT', `Invalid user name in "members"`);
    members.push(m);
  }
  return members;
}

function clientMsgId(o: Record<string, unknown>): string {
  const v = str(o, 'clientMsgId');
  if (!CLIENT_MSG_ID_PATTERN.test(v)) {
    throw new ChatError('INVALID_ARGUMENT', `"clientMsgId" is 1-${LIMITS.maxClientMsgIdLength} characters of A-Z a-z 0-9 _ -`);
  }
  return v;
}

function text(o: Record<string, unknown>): string {
  const v = str(o, 'text');
  if (v.length === 0 || v.trim().length === 0) throw new ChatError('INVALID_ARGUMENT', 'Empty message');
  if (v.length > LIMITS.maxTextLength || Buffer.byteLength(v, 'utf8') > LIMITS.maxTextBytes) {
    throw new ChatError('TOO_LARGE', `Messages are limited to ${LIMITS.maxTextLength} characters (${LIMITS.maxTextBytes} bytes)`);
  }
  // Control characters (newlines, ANSI escapes, C1 codes) would let a sender forge lines or
  // rewrite other users' terminals; tabs are the only one allowed. Line separators, bidi
  // overrides and invisible characters would do the same more quietly.
  if (FORBIDDEN_TEXT.test(v)) {
    throw new ChatError('INVALID_ARGUMENT', 'Messages may not contain control, line-separator, bidi-override or invisible characters');
  }
  return v;
}

function messageKind(o: Record<string, unknown>): 'text' | 'me' {
  const v = o['kind'];
  if (v === undefined || v === null || v === 'text') return 'text';
  if (v === 'me') return 'me';
  throw new ChatError('BAD_REQUEST', '"kind" is "text" or "me"');
}

function messageId(o: Record<string, unknown>, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ChatError('BAD_REQUEST', `"${field}" must be a non-negative integer`);
  }
  return v;
}

function optionalMessageId(o: Record<string, unknown>, field: string): number | null {
  return o[field] === undefined || o[field] === null ? null : messageId(o, field);
}

function historyLimit(o: Record<string, unknown>): number {
  if (o['limit'] === undefined || o['limit'] === null) return LIMITS.defaultHistoryPage;
  const v = messageId(o, 'limit');
  if (v < 1 || v > LIMITS.maxHistoryPage) {
    throw new ChatError('INVALID_ARGUMENT', `"limit" is 1-${LIMITS.maxHistoryPage}`);
  }
  return v;
}
