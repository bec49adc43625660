/**
 * The shapes of every message of the chat protocol (PROTOCOL.md). Client to server: requests,
 * each with a `type` and an `id` echoed in exactly one reply. Server to client: replies
 * (`ok`/`error`) and events (`message`, `trace`, `invited`, `joined`, `edited`, `deleted`, `typing`, `goodbye`), which carry no request id.
 */
import type { ErrorCode } from './codes.js';

export type RequestId = number | string;

export type Request =
  | { type: 'register'; id: RequestId; user: string; password: string }
  | { type: 'login'; id: RequestId; user: string; password: string }
  | { type: 'resume'; id: RequestId; token: string }
  | { type: 'logout'; id: RequestId }
  | { type: 'createGroup'; id: RequestId; group: string; members: string[] }
  | { type: 'addMember'; id: RequestId; group: string; user: string }
  | { type: 'leaveGroup'; id: RequestId; group: string }
  | { type: 'listGroups'; id: RequestId }
  | { type: 'invite'; id: RequestId; group: string; user: string }
  | { type: 'invitations'; id: RequestId }
  | { type: 'accept'; id: RequestId; group: string }
  | { type: 'decline'; id: RequestId; group: string }
  | { type: 'send'; id: RequestId; group: string; clientMsgId: string; text: string; kind: MessageKind }
  | { type: 'edit'; id: RequestId; group: string; messageId: number; text: string }
  | { type: 'delete'; id: RequestId; group: string; messageId: number }
  | { type: 'typing'; id: RequestId; group: string }
  | { type: 'history'; id: RequestId; group: string; limit: number; before: number | null }
  | { type: 'who'; id: RequestId; group: string }
  | { type: 'received'; id: RequestId; group: string; upTo: number }
  | { type: 'read'; id: RequestId; group: string; upTo: number }
  | { type: 'ping'; id: RequestId };

export type RequestType = Request['type'];

/** Distributes Omit over a union, so each request keeps its own fields. */
type OmitId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** A request as the client builds it, before an id is assigned. */
export type RequestBody = OmitId<Request>;

export interface GroupSummary {
  name: string;
  unread: number;
  members: number;
}

/** `text`: an ordinary message; `me`: an action ("/me waves" shows as "* alice waves"). */
export type MessageKind = 'text' | 'me';

export interface ChatMessage {
  group: string;
  messageId: number;
  from: string;
  /** Empty when the message was deleted. */
  text: string;
  /** Milliseconds since the epoch, server clock. */
  sentAt: number;
  kind: MessageKind;
  /** Server time of the last edit, when edited. */
  editedAt?: number;
  /** Set when the sender deleted it (its text is gone from the server too). */
  deleted?: true;
}

export interface Invitation {
  group: string;
  by: string;
}

export interface MemberPresence {
  user: string;
  online: boolean;
}

/** Data of the `ok` reply for each request type. */
export interface ReplyData {
  register: { user: string };
  login: { user: string; token: string; groups: GroupSummary[] };
  resume: { user: string; groups: GroupSummary[] };
  logout: Record<string, never>;
  /** `members`: the creator only; `invited`: the names the invitations went to. */
  createGroup: { group: string; members: string[]; invited: string[] };
  /** Same answer whether or not the user exists, is invited already or is a member. */
  addMember: { group: string; user: string };
  invite: { group: string; user: string };
  invitations: { invitations: Invitation[] };
  accept: { group: string; members: number };
  decline: { group: string };
  leaveGroup: { group: string };
  listGroups: { groups: GroupSummary[] };
  send: {
    group: string;
    messageId: number;
    clientMsgId: string;
    recipients: number;
    delivered: number;
    /** True when this clientMsgId had been stored before: the original is acknowledged again. */
    duplicate: boolean;
  };
  edit: { group: string; messageId: number };
  delete: { group: string; messageId: number };
  typing: Record<string, never>;
  history: { group: string; messages: ChatMessage[]; more: boolean };
  who: { group: string; members: MemberPresence[] };
  received: Record<string, never>;
  read: Record<string, never>;
  ping: Record<string, never>;
}

export type OkReply<T extends RequestType = RequestType> = { type: 'ok'; id: RequestId } & ReplyData[T];

export interface ErrorReply {
  type: 'error';
  /** The request's id, or null when the request was too broken to read one. */
  id: RequestId | null;
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
}

export type ServerEvent =
  | ({ type: 'message' } & ChatMessage)
  | {
      type: 'trace';
      group: string;
      messageId: number;
      clientMsgId: string;
      delivered: number;
      /** How many of the recipients have shown it (their read mark passed it). */
      read: number;
      recipients: number;
    }
  | { type: 'invited'; group: string; by: string }
  | { type: 'joined'; group: string; user: string }
  | { type: 'edited'; group: string; messageId: number; text: string; editedAt: number }
  | { type: 'deleted'; group: string; messageId: number }
  | { type: 'typing'; group: string; user: string }
  /** The server is shutting down this connection on purpose (`reason`: e.g. "restarting"). */
  | { type: 'goodbye'; reason: string };

export type ServerMessage = OkReply | ErrorReply | ServerEvent;
