/**
 * The shapes of every message of the chat protocol (PROTOCOL.md). Client to server: requests,
 * each with a `type` and an `id` echoed in exactly one reply. Server to client: replies
 * (`ok`/`error`) and events (`message`, `trace`, `added`), which carry no request id.
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
  | { type: 'send'; id: RequestId; group: string; clientMsgId: string; text: string }
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

export interface ChatMessage {
  group: string;
  messageId: number;
  from: string;
  text: string;
  /** Milliseconds since the epoch, server clock. */
  sentAt: number;
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
  createGroup: { group: string; members: string[] };
  addMember: { group: string; user: string };
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
      recipients: number;
    }
  | { type: 'added'; group: string; by: string };

export type ServerMessage = OkReply | ErrorReply | ServerEvent;
