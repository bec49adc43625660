/**
 * Everything the server keeps, in SQLite through better-sqlite3. Calls are synchronous: when a
 * method returns, its transaction is committed (WAL mode), which is what lets the server
 * acknowledge a message only after it is durable against a crash of the process.
 */
import Database from 'better-sqlite3';
import { ChatError } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { ChatMessage, GroupSummary, Invitation, MessageKind } from '../protocol/messages.js';
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from './message-row.js';
import { migrate } from './migrations.js';

export interface StoreOptions {
  /** `normal` (default) survives a killed process; `full` also survives power loss, slower. */
  synchronous?: 'normal' | 'full';
}

export interface UserRow {
  id: number;
  name: string;
  passwordHash: string;
}

export interface SessionRow {
  userId: number;
  userName: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface GroupRef {
  id: number;
  name: string;
}

export interface StoredMessage extends ChatMessage {
  senderId: number;
  clientMsgId: string;
  recipients: number;
}

export interface TraceTarget {
  messageId: number;
  senderId: number;
  clientMsgId: string;
  recipients: number;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class Store {
  readonly db: Database.Database;
  readonly schema: { from: number; to: number };

  constructor(file: string, options: StoreOptions = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.schema = migrate(this.db);
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared statements are cached: preparing costs more than running most of these queries. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A secret kept in the database, made by `create` on first use. */
  secret(name: string, create: () => Buffer): Buffer {
    const row = this.sql('SELECT value FROM secrets WHERE name = ?').get(name) as { value: Buffer } | undefined;
    if (row) return row.value;
    const value = create();
    this.sql('INSERT INTO secrets (name, value) VALUES (?, ?)').run(name, value);
    return value;
  }

  // ---- users ----

  createUser(name: string, passwordHash: string, now: number): number {
    try {
      const r = this.sql('INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)').run(name, passwordHash, now);
      return Number(r.lastInsertRowid);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ChatError('NAME_TAKEN', 'That user name is taken');
      throw err;
    }
  }

  findUser(name: string): UserRow | undefined {
    const row = this.sql('SELECT id, name, password_hash FROM users WHERE name = ?').get(name) as
      | { id: number; name: string; password_hash: string }
      | undefined;
    return row && { id: row.id, name: row.name, passwordHash: row.password_hash };
  }

  setPasswordHash(userId: number, passwordHash: string): void {
    this.sql('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, userId);
  }

  userCount(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  // ---- sessions ----

  createSession(tokenHash: Buffer, userId: number, now: number): void {
    this.sql('INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)').run(tokenHash, userId, now, now);
  }

  findSession(tokenHash: Buffer): SessionRow | undefined {
    const row = this.sql('SELECT s.user_id, u.name, s.created_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?')
      .get(tokenHash) as { user_id: number; name: string; created_at: number; last_seen_at: number } | undefined;
    return row && { userId: row.user_id, userName: row.name, createdAt: row.created_at, lastSeenAt: row.last_seen_at };
  }

  touchSession(tokenHash: Buffer, now: number): void {
    this.sql('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, tokenHash);
  }

  deleteSession(tokenHash: Buffer): boolean {
    return this.sql('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash).changes > 0;
  }

  deleteExpiredSessions(idleBefore: number, createdBefore: number): number {
    return this.sql('DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?').run(idleBefore, createdBefore).changes;
  }

  // ---- groups ----

  /** Creates a group with its creator and members (ids, deduplicated by the caller). */
  createGroup(name: string, creatorId: number, memberIds: readonly number[], now: number): GroupRef {
    const create = this.db.transaction((): GroupRef => {
      for (const userId of memberIds) {
        if (this.groupCountOf(userId) >= LIMITS.maxGroupsPerUser) {
          throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
        }
      }
      let groupId: number;
      try {
        groupId = Number(this.sql('INSERT INTO groups (name, created_by, created_at) VALUES (?, ?, ?)').run(name, creatorId, now).lastInsertRowid);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ChatError('NAME_TAKEN', 'That group name is taken');
        throw err;
      }
      const insert = this.sql('INSERT INTO members (group_id, user_id, joined_after, delivered_upto, read_upto) VALUES (?, ?, 0, 0, 0)');
      for (const userId of memberIds) insert.run(groupId, userId);
      return { id: groupId, name };
    });
    return create();
  }

  /** The group, only if `userId` is a member: a non-member cannot tell it from a missing one. */
  findGroupForMember(name: string, userId: number): GroupRef | undefined {
    return this.sql('SELECT g.id, g.name FROM groups g JOIN members m ON m.group_id = g.id WHERE g.name = ? AND m.user_id = ?')
      .get(name, userId) as GroupRef | undefined;
  }

  addMember(groupId: number, userId: number): void {
    const add = this.db.transaction(() => {
      if (this.isMember(groupId, userId)) throw new ChatError('ALREADY_MEMBER');
      if (this.memberCount(groupId) >= LIMITS.maxGroupMembers) {
        throw new ChatError('LIMIT_REACHED', `A group has at most ${LIMITS.maxGroupMembers} members`);
      }
      if (this.groupCountOf(userId) >= LIMITS.maxGroupsPerUser) {
        throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
      }
      // A new member starts at the present: older messages are in /history but are not theirs
      // to acknowledge, and do not count as unread.
      const newest = this.newestMessageId(groupId);
      this.sql('INSERT INTO members (group_id, user_id, joined_after, delivered_upto, read_upto) VALUES (?, ?, ?, ?, ?)').run(groupId, userId, newest, newest, newest);
    });
    add();
  }

  removeMember(groupId: number, userId: number): void {
    this.sql('DELETE FROM members WHERE group_id = ? AND user_id = ?').run(groupId, userId);
  }

  isMember(groupId: number, userId: number): boolean {
    return this.sql('SELECT 1 FROM members WHERE group_id = ? AND user_id = ?').get(groupId, userId) !== undefined;
  }

  memberCount(groupId: number): number {
    return (this.sql('SELECT COUNT(*) AS n FROM members WHERE group_id = ?').get(groupId) as { n: number }).n;
  }

  groupCountOf(userId: number): number {
    return (this.sql('SELECT COUNT(*) AS n FROM members WHERE user_id = ?').get(userId) as { n: number }).n;
  }

  members(groupId: number): { userId: number; name: string }[] {
    return (this.sql('SELECT u.id, u.name FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.name COLLATE NOCASE')
      .all(groupId) as { id: number; name: string }[]).map((r) => ({ userId: r.id, name: r.name }));
  }

  /** The user's groups with unread counts (messages from others after their read mark). */
  groupsOf(userId: number): (GroupSummary & { id: number; deliveredUpto: number })[] {
    return this.sql(
        `SELECT g.id, g.name, m.delivered_upto AS deliveredUpto,
           (SELECT COUNT(*) FROM messages x WHERE x.group_id = g.id AND x.id > m.read_upto AND x.sender_id != m.user_id) AS unread,
           (SELECT COUNT(*) FROM members y WHERE y.group_id = g.id) AS members
         FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name COLLATE NOCASE`,
      )
      .all(userId) as (GroupSummary & { id: number; deliveredUpto: number })[];
  }

  // ---- messages ----

  /**
   * Stores a message, or returns the one already stored under the same (sender, clientMsgId):
   * a retry is acknowledged again and never stored twice.
   */
  insertMessage(groupId: number, senderId: number, clientMsgId: string, text: string, now: number, kind: MessageKind = 'text'): { message: StoredMessage; duplicate: boolean } {
    const insert = this.db.transaction(() => {
      // One statement in the common case: the UNIQUE (sender, clientMsgId) constraint finds a
      // retry, and the recipients are counted inside the INSERT.
      const r = this.sql(
        `INSERT INTO messages (group_id, sender_id, client_msg_id, text, sent_at, recipients, kind)
         VALUES (?, ?, ?, ?, ?, (SELECT COUNT(*) - 1 FROM members WHERE group_id = ?), ?)
         ON CONFLICT (sender_id, client_msg_id) DO NOTHING`,
      ).run(groupId, senderId, clientMsgId, text, now, groupId, kind);
      if (r.changes === 0) {
        const existing = this.findByClientMsgId(senderId, clientMsgId);
        if (!existing) throw new Error('a conflicting message vanished inside its own transaction');
        return { message: existing, duplicate: true };
      }
      const id = Number(r.lastInsertRowid);
      // The sender's own marks are left alone: raising them here would skip messages from others
      // that were pushed to it but not yet acknowledged. Own messages never count as unread nor
      // as backlog, so they need no mark.
      const stored = this.messageById(id);
      if (!stored) throw new Error('message vanished inside its own transaction');
      return { message: stored, duplicate: false };
    });
    return insert();
  }

  findByClientMsgId(senderId: number, clientMsgId: string): StoredMessage | undefined {
    const row = this.sql(`SELECT ${MESSAGE_COLUMNS} WHERE m.sender_id = ? AND m.client_msg_id = ?`).get(senderId, clientMsgId) as MessageRow | undefined;
    return row && toMessage(row);
  }

  messageById(id: number): StoredMessage | undefined {
    const row = this.sql(`SELECT ${MESSAGE_COLUMNS} WHERE m.id = ?`).get(id) as MessageRow | undefined;
    return row && toMessage(row);
  }

  /** One page of history, oldest first: the `limit` newest messages with id < `before`. */
  history(groupId: number, before: number | null, limit: number): { messages: StoredMessage[]; more: boolean } {
    const rows = this.sql(`SELECT ${MESSAGE_COLUMNS} WHERE m.group_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`)
      .all(groupId, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as MessageRow[];
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more };
  }

  /** Messages after `afterId` not sent by `exceptSender`, oldest first, at most `limit` (backlog). */
  messagesAfter(groupId: number, afterId: number, exceptSender: number, limit: number): StoredMessage[] {
    return (this.sql(`SELECT ${MESSAGE_COLUMNS} WHERE m.group_id = ? AND m.id > ? AND m.sender_id != ? ORDER BY m.id LIMIT ?`)
      .all(groupId, afterId, exceptSender, limit) as MessageRow[]).map(toMessage);
  }

  newestMessageId(groupId: number): number {
    return (this.sql('SELECT COALESCE(MAX(id), 0) AS n FROM messages WHERE group_id = ?').get(groupId) as { n: number }).n;
  }

  /**
   * Raises a member's delivered mark to `upTo` (never lowers it, never past the newest message).
   * Returns the range of newly delivered ids, empty when nothing changed.
   */
  markDelivered(groupId: number, userId: number, upTo: number): { from: number; to: number } {
    return this.db.transaction(() => this.advanceDelivered(groupId, userId, upTo))();
  }

  /** Many `markDelivered` in one transaction (one commit for a whole turn's receipts). */
  markDeliveredMany(marks: readonly { groupId: number; userId: number; upTo: number }[]): { from: number; to: number }[] {
    return this.db.transaction(() => marks.map((m) => this.advanceDelivered(m.groupId, m.userId, m.upTo)))();
  }

  private advanceDelivered(groupId: number, userId: number, upTo: number): { from: number; to: number } {
    const row = this.sql('SELECT delivered_upto FROM members WHERE group_id = ? AND user_id = ?').get(groupId, userId) as { delivered_upto: number } | undefined;
    if (!row) return { from: 0, to: 0 };
    const to = Math.min(upTo, this.newestMessageId(groupId));
    if (to <= row.delivered_upto) return { from: row.delivered_upto, to: row.delivered_upto };
    this.sql('UPDATE members SET delivered_upto = ? WHERE group_id = ? AND user_id = ?').run(to, groupId, userId);
    return { from: row.delivered_upto, to };
  }

  /** Raises a member's read mark (and delivered mark) like `markDelivered`; returns the range of newly read ids. */
  markRead(groupId: number, userId: number, upTo: number): { from: number; to: number } {
    const advance = this.db.transaction(() => {
      const row = this.sql('SELECT read_upto FROM members WHERE group_id = ? AND user_id = ?').get(groupId, userId) as { read_upto: number } | undefined;
      if (!row) return { from: 0, to: 0 };
      const to = Math.min(upTo, this.newestMessageId(groupId));
      if (to <= row.read_upto) return { from: row.read_upto, to: row.read_upto };
      // Shown implies received: the delivered mark rises with it (a `read` can overtake the
      // `received` it follows, which the server writes a turn later).
      this.sql('UPDATE members SET read_upto = ?, delivered_upto = MAX(delivered_upto, ?) WHERE group_id = ? AND user_id = ?').run(to, to, groupId, userId);
      return { from: row.read_upto, to };
    });
    return advance();
  }

  /** How many members other than the sender, present when it was sent, have read message `id`. */
  readCount(groupId: number, messageId: number, senderId: number): number {
    return (this.sql('SELECT COUNT(*) AS n FROM members WHERE group_id = ? AND user_id != ? AND joined_after < ? AND read_upto >= ?')
      .get(groupId, senderId, messageId, messageId) as { n: number }).n;
  }

  /** `deliveredCount` and `readCount` in one query (for a trace). */
  receiptCounts(groupId: number, messageId: number, senderId: number): { delivered: number; read: number } {
    const row = this.sql(
      `SELECT COALESCE(SUM(delivered_upto >= ?), 0) AS delivered, COALESCE(SUM(read_upto >= ?), 0) AS read
       FROM members WHERE group_id = ? AND user_id != ? AND joined_after < ?`,
    ).get(messageId, messageId, groupId, senderId, messageId) as { delivered: number; read: number };
    return { delivered: row.delivered, read: row.read };
  }

  /** The newest message `senderId` sent in the group (only that one may be edited or deleted). */
  lastMessageOf(groupId: number, senderId: number): number {
    return (this.sql('SELECT COALESCE(MAX(id), 0) AS n FROM messages WHERE group_id = ? AND sender_id = ?').get(groupId, senderId) as { n: number }).n;
  }

  /** Replaces the text of a message that is not deleted. False when there is none such. */
  editMessage(messageId: number, text: string, now: number): boolean {
    return this.sql('UPDATE messages SET text = ?, edited_at = ? WHERE id = ? AND deleted_at IS NULL').run(text, now, messageId).changes > 0;
  }

  /** Deletes a message's text for good (the row stays: ids, marks and traces keep their meaning). */
  deleteMessage(messageId: number, now: number): boolean {
    return this.sql("UPDATE messages SET text = '', deleted_at = ? WHERE id = ? AND deleted_at IS NULL").run(now, messageId).changes > 0;
  }

  // ---- invitations ----

  /**
   * Invites a user to a group. Nothing happens for a member or an already invited user; beyond
   * LIMITS.maxPendingInvitations the invitee's oldest invitation gives way. True when new.
   */
  invite(groupId: number, userId: number, invitedBy: number, now: number): boolean {
    const add = this.db.transaction((): boolean => {
      if (this.isMember(groupId, userId)) return false;
      const r = this.sql('INSERT OR IGNORE INTO invitations (group_id, user_id, invited_by, created_at) VALUES (?, ?, ?, ?)').run(groupId, userId, invitedBy, now);
      if (r.changes === 0) return false;
      this.sql(
        `DELETE FROM invitations WHERE user_id = ? AND group_id NOT IN
           (SELECT group_id FROM invitations WHERE user_id = ? ORDER BY created_at DESC, group_id DESC LIMIT ?)`,
      ).run(userId, userId, LIMITS.maxPendingInvitations);
      return true;
    });
    return add();
  }

  invitationsOf(userId: number): Invitation[] {
    return this.sql(
      `SELECT g.name AS "group", u.name AS "by" FROM invitations i JOIN groups g ON g.id = i.group_id JOIN users u ON u.id = i.invited_by
       WHERE i.user_id = ? ORDER BY i.created_at, g.name`,
    ).all(userId) as Invitation[];
  }

  /** Turns the user's invitation to the named group into membership; undefined when there is none. */
  acceptInvitation(groupName: string, userId: number): GroupRef | undefined {
    const accept = this.db.transaction((): GroupRef | undefined => {
      const group = this.invitedGroup(groupName, userId);
      if (!group) return undefined;
      this.addMember(group.id, userId);
      this.sql('DELETE FROM invitations WHERE group_id = ? AND user_id = ?').run(group.id, userId);
      return group;
    });
    return accept();
  }

  /** Drops the user's invitation to the named group; undefined when there is none. */
  declineInvitation(groupName: string, userId: number): GroupRef | undefined {
    const group = this.invitedGroup(groupName, userId);
    if (group) this.sql('DELETE FROM invitations WHERE group_id = ? AND user_id = ?').run(group.id, userId);
    return group;
  }

  private invitedGroup(groupName: string, userId: number): GroupRef | undefined {
    return this.sql('SELECT g.id, g.name FROM groups g JOIN invitations i ON i.group_id = g.id WHERE g.name = ? AND i.user_id = ?')
      .get(groupName, userId) as GroupRef | undefined;
  }

  deliveredMark(groupId: number, userId: number): number | undefined {
    const row = this.sql('SELECT delivered_upto FROM members WHERE group_id = ? AND user_id = ?').get(groupId, userId) as { delivered_upto: number } | undefined;
    return row?.delivered_upto;
  }

  /** How many members other than the sender, present when it was sent, have received message `id`. */
  deliveredCount(groupId: number, messageId: number, senderId: number): number {
    return (this.sql('SELECT COUNT(*) AS n FROM members WHERE group_id = ? AND user_id != ? AND joined_after < ? AND delivered_upto >= ?')
      .get(groupId, senderId, messageId, messageId) as { n: number }).n;
  }

  /** The newest `limit` messages in (from, to] of a group not sent by `exceptSender` (-1: anyone), oldest first, for delivery traces. */
  traceTargets(groupId: number, from: number, to: number, exceptSender: number, limit: number): TraceTarget[] {
    return this.sql(
      `SELECT id AS messageId, sender_id AS senderId, client_msg_id AS clientMsgId, recipients FROM messages
       WHERE group_id = ? AND id > ? AND id <= ? AND sender_id != ? ORDER BY id DESC LIMIT ?`,
    ).all(groupId, from, to, exceptSender, limit).reverse() as TraceTarget[];
  }

  /** A snapshot of row counts, for tests that check "nothing changed". */
  counts(): Record<'users' | 'sessions' | 'groups' | 'members' | 'messages' | 'invitations', number> {
    const n = (table: string): number => (this.sql(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { users: n('users'), sessions: n('sessions'), groups: n('groups'), members: n('members'), messages: n('messages'), invitations: n('invitations') };
  }
}
