/**
 * Turns untrusted bytes into a typed Request, or into the error reply it deserves. Never throws:
 * every failure is a ChatError with its code (BAD_REQUEST, TOO_LARGE, UNKNOWN_TYPE,
 * INVALID_ARGUMENT). The returned request holds only the fields listed here, copied one by one,
 * so unknown fields never travel further.
 */
import { ChatError } from './codes.js';
import { CLIENT_MSG_ID_PATTERN, LIMITS, NAME_PATTERN, TOKEN_PATTERN } from './limits.js';
import type { Request, RequestId } from './messages.js';
import { isPlainObject, parseSafeJson } from './safe-json.js';

export type ParseResult =
  | { ok: true; request: Request }
  | { ok: false; id: RequestId | null; error: ChatError };

const decoder = new TextDecoder('utf-8', { fatal: true });

export function parseRequest(data: Uint8Array): ParseResult {
  if (data.byteLength > LIMITS.maxRequestBytes) {
    return { ok: false, id: null, error: new ChatError('TOO_LARGE', `Requests are limited to ${LIMITS.maxRequestBytes} bytes`) };
  }
  let value: unknown;
  try {
    value = parseSafeJson(decoder.decode(data));
  } catch {
    return { ok: false, id: null, error: new ChatError('BAD_REQUEST', 'Not valid UTF-8 JSON, or uses a forbidden key') };
  }
  if (!isPlainObject(value)) {
    return { ok: false, id: null, error: new ChatError('BAD_REQUEST', 'A request is a JSON object') };
  }
  const id = readId(value['id']);
  if (id === undefined) {
    return { ok: false, id: null, error: new ChatError('BAD_REQUEST', 'A request needs an "id": an integer or a short string') };
  }
  try {
    return { ok: true, request: buildRequest(value, id) };
  } catch (err) {
    if (err instanceof ChatError) return { ok: false, id, error: err };
    return { ok: false, id, error: new ChatError('BAD_REQUEST') };
  }
}

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
      return { type, id, group: groupName(o, 'group'), user: userName(o, 'user') };
    case 'leaveGroup':
    case 'who':
      return { type, id, group: groupName(o, 'group') };
    case 'send':
      return { type, id, group: groupName(o, 'group'), clientMsgId: clientMsgId(o), text: text(o) };
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
  // rewrite other users' terminals; tabs are the only one allowed.
  if (/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/.test(v)) {
    throw new ChatError('INVALID_ARGUMENT', 'Messages may not contain control characters');
  }
  return v;
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
