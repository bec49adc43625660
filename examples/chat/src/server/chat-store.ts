/**
 * What the chat server needs from its storage, whichever database holds it: SQLite for one node
 * (sqlite-store.ts, the default), PostgreSQL for several nodes sharing one database
 * (pg-store.ts). Every method is async because node-postgres is; when a write resolves, its
 * transaction has committed (that is what lets the server say "stored").
 *
 * Writes that other connections must hear about (a new message, delivery traces, group changes,
 * a revoked session) publish a StoreEvent **in the same transaction**: with PostgreSQL it is a
 * NOTIFY, which the database delivers to every node only if, and once, the transaction commits,
 * in commit order. The server does all its pushes from these events, on every node alike.
 */
import type { GroupSummary, Invitation, MessageKind } from '../protocol/messages.js';
import type { GroupRef, SessionRow, StoredMessage, UserRow } from './store.js';

export type { GroupRef, SessionRow, StoredMessage, UserRow } from './store.js';

/** Which connection caused an event (`<node>/<connection label>`), so that it can be skipped. */
export type Origin = string;

/** A delivery trace for one message: how many members have received and read it. */
export interface TraceRow {
  messageId: number;
  senderId: number;
  clientMsgId: string;
  delivered: number;
  read: number;
  recipients: number;
}

export type StoreEvent =
  | { kind: 'message'; groupId: number; message: StoredMessage; origin: Origin }
  | { kind: 'traces'; groupId: number; group: string; traces: TraceRow[] }
  /** A member joined (`joined`: by accepting an invitation, announced to the others) or created the group. */
  | { kind: 'added'; groupId: number; group: string; userId: number; user: string; how: 'created' | 'joined'; origin: Origin }
  | { kind: 'left'; groupId: number; userId: number }
  | { kind: 'invited'; userId: number; group: string; by: string; origin: Origin }
  | { kind: 'edited'; groupId: number; group: string; messageId: number; text: string; editedAt: number; origin: Origin }
  | { kind: 'deleted'; groupId: number; group: string; messageId: number; origin: Origin }
  /** Not stored: relayed to every node (`relay`). */
  | { kind: 'typing'; groupId: number; group: string; userId: number; user: string; origin: Origin }
  | { kind: 'revoked'; tokenHash: Buffer };

/** One token bucket of the shared throttle (login and registration attempts). */
export interface ThrottleKey {
  key: string;
  /** Attempts allowed in a burst. */
  burst: number;
  /** Milliseconds to regain one attempt. */
  refillMs: number;
}

export type GroupWithMarks = GroupSummary & { id: number; deliveredUpto: number };

export interface ChatStore {
  /** `sqlite` or `postgres`, and where (for the start-up log line; never a password). */
  readonly description: string;
  /** This node's name among the nodes sharing the database (random per start). */
  readonly nodeId: string;
  /** Schema version before and after this start's migrations. */
  readonly schema: { from: number; to: number };

  /** Hears every committed event, in commit order (from every node sharing the database). */
  onEvent(listener: (event: StoreEvent) => void): void;
  /**
   * Hears that events may have been missed (PostgreSQL: the LISTEN connection was lost and is
   * back). The server then drops its links: clients reconnect and catch up from the store.
   */
  onResync(listener: () => void): void;
  close(): Promise<void>;

  /** A secret kept in the database, made by `create` on first use (the same on every node). */
  secret(name: string, create: () => Buffer): Promise<Buffer>;

  createUser(name: string, passwordHash: string, now: number): Promise<number>;
  findUser(name: string): Promise<UserRow | undefined>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
  userCount(): Promise<number>;

  createSession(tokenHash: Buffer, userId: number, now: number): Promise<void>;
  findSession(tokenHash: Buffer): Promise<SessionRow | undefined>;
  touchSession(tokenHash: Buffer, now: number): Promise<void>;
  /** Deletes a session and publishes `revoked`; true when it existed. */
  deleteSession(tokenHash: Buffer): Promise<boolean>;
  deleteExpiredSessions(idleBefore: number, createdBefore: number): Promise<number>;

  /** Creates a group with its members (creator included) and publishes `added` (`created`) for each. */
  createGroup(name: string, creatorId: number, memberIds: readonly number[], now: number, by: string, origin: Origin): Promise<GroupRef>;
  findGroupForMember(name: string, userId: number): Promise<GroupRef | undefined>;
  /** Removes a member and publishes `left`. */
  removeMember(groupId: number, userId: number): Promise<void>;
  members(groupId: number): Promise<{ userId: number; name: string }[]>;
  groupsOf(userId: number): Promise<GroupWithMarks[]>;
  groupCountOf(userId: number): Promise<number>;

  /**
   * Invites a user (nothing for a member or one invited already; the invitee's oldest
   * invitation gives way beyond the limit) and publishes `invited`. True when new.
   */
  invite(group: GroupRef, userId: number, invitedBy: number, byName: string, now: number, origin: Origin): Promise<boolean>;
  invitationsOf(userId: number): Promise<Invitation[]>;
  /** Turns the invitation into membership and publishes `added` (`joined`); undefined without one. */
  acceptInvitation(groupName: string, userId: number, userName: string, origin: Origin): Promise<GroupRef | undefined>;
  declineInvitation(groupName: string, userId: number): Promise<GroupRef | undefined>;

  /**
   * Stores a message (ids increase per group in commit order, on every node) and publishes
   * `message`; or returns the one already stored under (sender, clientMsgId), publishing nothing.
   */
  insertMessage(groupId: number, senderId: number, clientMsgId: string, text: string, now: number, kind: MessageKind, origin: Origin): Promise<{ message: StoredMessage; duplicate: boolean }>;
  /** The newest message `senderId` sent in the group (only that one may be edited or deleted). */
  lastMessageOf(groupId: number, senderId: number): Promise<number>;
  /** Replaces the text of a message not deleted and publishes `edited`; false when there is none such. */
  editMessage(group: GroupRef, messageId: number, text: string, now: number, origin: Origin): Promise<boolean>;
  /** Deletes a message's text for good and publishes `deleted`; false when there is none such. */
  deleteMessage(group: GroupRef, messageId: number, now: number, origin: Origin): Promise<boolean>;
  history(groupId: number, before: number | null, limit: number): Promise<{ messages: StoredMessage[]; more: boolean }>;
  messagesAfter(groupId: number, afterId: number, exceptSender: number, limit: number): Promise<StoredMessage[]>;
  /**
   * Raises members' delivered marks (never lowers them, never past the newest message), all in
   * one transaction; returns each (from, to] that rose (from == to: nothing changed).
   */
  markDeliveredMany(marks: readonly { groupId: number; userId: number; upTo: number }[]): Promise<{ from: number; to: number }[]>;
  /** Raises a member's read mark (and delivered mark with it); returns the range newly read. */
  markRead(groupId: number, userId: number, upTo: number): Promise<{ from: number; to: number }>;
  deliveredCount(groupId: number, messageId: number, senderId: number): Promise<number>;
  /**
   * Publishes `traces` for the newest `max` messages in (from, to] whose marks `receivers`
   * raised (a message only its own sender's marks moved is left out), with their counts now.
   */
  publishTraces(group: GroupRef, from: number, to: number, receivers: readonly number[], max: number): Promise<void>;
  /** Publishes an event that is not stored (typing) to every node. */
  relay(event: StoreEvent): Promise<void>;

  /**
   * Takes one attempt from every bucket atomically, or from none when one is empty (then
   * resolves with the milliseconds until all have one again; 0 when taken). Concurrent callers,
   * on any node, never take more than the buckets hold.
   */
  takeTokens(keys: readonly ThrottleKey[], now: number): Promise<number>;
  /** Gives one attempt back to every bucket (the attempt turned out not to count: a success). */
  returnTokens(keys: readonly ThrottleKey[], now: number): Promise<void>;
  /** Forgets buckets that are full again. */
  pruneTokens(now: number): Promise<void>;

  /** This node's users with at least one logged-in connection (writes are queued in order). */
  setOnline(userId: number, online: boolean): void;
  /** Which of `userIds` are online on *other* live nodes (empty for a single-node store). */
  onlineElsewhere(userIds: readonly number[]): Promise<Set<number>>;
}

/** Token-bucket arithmetic shared by both stores: the bucket's state after `elapsed` ms. */
export function refilled(tokens: number, updatedAt: number, now: number, key: ThrottleKey): number {
  return Math.min(key.burst, tokens + Math.max(0, now - updatedAt) / key.refillMs);
}
