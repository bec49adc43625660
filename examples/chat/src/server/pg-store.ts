/**
 * The ChatStore on PostgreSQL (node-postgres), for several server nodes sharing one database.
 *
 * - Every write is one transaction; a method resolves after COMMIT.
 * - Events are NOTIFYs sent inside the writing transaction (pg-events.ts): PostgreSQL delivers
 *   them to every listening node only if the transaction commits, in commit order. Each node
 *   keeps one extra connection that LISTENs, and decodes payloads one at a time, in order.
 * - Ordering: inserting into a group takes the group's advisory lock before drawing the message
 *   id, so within a group ids rise in commit order, hence in event order, on every node.
 *   Traces are published in short batches (the server gathers receipts; one statement and
 *   NOTIFY per group and batch), each under the group's traces lock: counts never go backwards.
 * - Throttle buckets are rows locked FOR UPDATE: concurrent attempts on any node queue up.
 * - Presence: a row per (node, online user); a node beats every few seconds, and the rows of a
 *   node silent for longer than PRESENCE_TTL no longer count (a killed node's users go offline).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ChatError } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { Invitation, MessageKind } from '../protocol/messages.js';
import type { ChatStore, GroupWithMarks, Origin, StoreEvent, ThrottleKey } from './chat-store.js';
import { refilled } from './chat-store.js';
import { CHANNEL, decodeEvent, encodeEvent } from './pg-events.js';
import { migratePg } from './pg-migrations.js';
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from './message-row.js';
import type { GroupRef, SessionRow, StoredMessage, UserRow } from './store.js';

/** Advisory lock classes (first key); the second key is a group or user id. */
const LOCK_GROUP_WRITE = 1; // also taken in chat_insert_message
// 2: a group's trace batches, taken in chat_publish_traces
const LOCK_USER_GROUPS = 3;
const HEARTBEAT_MS = 2_000;
/** A node not heard of for this long is gone: its users no longer count as online. */
const PRESENCE_TTL_S = 8;
/** Rows of nodes gone for this long are deleted. */
const NODE_FORGET_S = 120;

/** BIGINT and COUNT(*) come back as JavaScript numbers (ids stay far below 2^53). */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === '23505';
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}

export interface PgStoreOptions {
  /** Connections in this node's pool (plus one that LISTENs). Default 10. */
  poolSize?: number;
  /** Told about a lost LISTEN connection and other background failures. */
  onError?: (what: string, err: unknown) => void;
}

type Tx = pg.PoolClient;

export class PgChatStore implements ChatStore {
  readonly description: string;
  readonly nodeId = randomBytes(4).toString('hex');
  schema: { from: number; to: number } = { from: 0, to: 0 };
  private readonly pool: pg.Pool;
  private listener: pg.Client | null = null;
  private readonly eventListeners: ((event: StoreEvent) => void)[] = [];
  private readonly resyncListeners: (() => void)[] = [];
  /** Payloads are decoded one after another (a spilled one waits for its row): order is kept. */
  private decoding: Promise<void> = Promise.resolve();
  private presenceChain: Promise<void> = Promise.resolve();
  private readonly localOnline = new Set<number>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly onError: (what: string, err: unknown) => void;

  private constructor(private readonly url: string, options: PgStoreOptions) {
    this.description = redactUrl(url);
    this.onError = options.onError ?? (() => {});
    this.pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types });
    // An idle pooled connection that dies is replaced on next use; never crash for it.
    this.pool.on('error', (err) => this.onError('pool', err));
  }

  /** Connects, migrates, starts listening and registers this node. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgChatStore> {
    const store = new PgChatStore(url, options);
    try {
      store.schema = await migratePg(store.pool);
      await store.listen();
      await store.beat();
      store.heartbeat = setInterval(() => {
        store.beat().catch((err: unknown) => store.onError('heartbeat', err));
      }, HEARTBEAT_MS);
      store.heartbeat.unref();
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
    return store;
  }

  // ---- events ----

  onEvent(listener: (event: StoreEvent) => void): void {
    this.eventListeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, types });
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || n.payload === undefined) return;
      const payload = n.payload;
      this.decoding = this.decoding.then(async () => {
        try {
          const event = await decodeEvent(payload, (id) => this.messageById(id));
          if (event) for (const l of this.eventListeners) l(event);
        } catch (err) {
          this.onError('event', err);
        }
      });
    });
    const lost = (err?: Error): void => {
      if (this.listener !== client) return;
      this.listener = null;
      client.end().catch(() => {});
      if (this.closing) return;
      this.onError('listen', err ?? new Error('LISTEN connection ended'));
      void this.relisten();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  /** The LISTEN connection is back after a loss: events in between are gone, so say so. */
  private async relisten(): Promise<void> {
    for (let delay = 100; !this.closing; delay = Math.min(delay * 2, 5_000)) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        await this.listen();
        for (const l of this.resyncListeners) l();
        return;
      } catch (err) {
        this.onError('listen', err);
      }
    }
  }

  private async notify(tx: Tx, event: StoreEvent): Promise<void> {
    for (const payload of encodeEvent(event)) await tx.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
  }

  // ---- plumbing ----

  private async tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  private async one<T extends pg.QueryResultRow>(text: string, values: unknown[] = [], on: pg.Pool | Tx = this.pool): Promise<T | undefined> {
    return (await on.query<T>(text, values)).rows[0];
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    await this.presenceChain.catch(() => {});
    // A clean stop takes this node's presence with it at once.
    await this.pool.query('DELETE FROM nodes WHERE id = $1', [this.nodeId]).catch(() => {});
    await this.pool.end();
  }

  // ---- secrets, users, sessions ----

  async secret(name: string, create: () => Buffer): Promise<Buffer> {
    const existing = await this.one<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name]);
    if (existing) return existing.value;
    // Two nodes starting at once: the first insert wins and both read it back.
    await this.pool.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, create()]);
    const row = await this.one<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name]);
    if (!row) throw new Error(`secret ${name} vanished`);
    return row.value;
  }

  async createUser(name: string, passwordHash: string, now: number): Promise<number> {
    try {
      const row = await this.one<{ id: number }>('INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id', [name, passwordHash, now]);
      return row?.id ?? 0;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ChatError('NAME_TAKEN', 'That user name is taken');
      throw err;
    }
  }

  async findUser(name: string): Promise<UserRow | undefined> {
    const row = await this.one<{ id: number; name: string; password_hash: string }>('SELECT id, name, password_hash FROM users WHERE lower(name) = lower($1)', [name]);
    return row && { id: row.id, name: row.name, passwordHash: row.password_hash };
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    await this.pool.query('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, userId]);
  }

  async userCount(): Promise<number> {
    return (await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM users'))?.n ?? 0;
  }

  async createSession(tokenHash: Buffer, userId: number, now: number): Promise<void> {
    await this.pool.query('INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)', [tokenHash, userId, now]);
  }

  async findSession(tokenHash: Buffer): Promise<SessionRow | undefined> {
    const row = await this.one<{ user_id: number; name: string; created_at: number; last_seen_at: number }>(
      'SELECT s.user_id, u.name, s.created_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1',
      [tokenHash],
    );
    return row && { userId: row.user_id, userName: row.name, createdAt: row.created_at, lastSeenAt: row.last_seen_at };
  }

  async touchSession(tokenHash: Buffer, now: number): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE token_hash = $2', [now, tokenHash]);
  }

  async deleteSession(tokenHash: Buffer): Promise<boolean> {
    return this.tx(async (tx) => {
      const deleted = ((await tx.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash])).rowCount ?? 0) > 0;
      if (deleted) await this.notify(tx, { kind: 'revoked', tokenHash });
      return deleted;
    });
  }

  async deleteExpiredSessions(idleBefore: number, createdBefore: number): Promise<number> {
    return (await this.pool.query('DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2', [idleBefore, createdBefore])).rowCount ?? 0;
  }

  // ---- groups ----

  /** Locks the users' group counts (in id order: no deadlock) and checks the per-user limit. */
  private async checkGroupsPerUser(tx: Tx, userIds: readonly number[]): Promise<void> {
    for (const userId of [...userIds].sort((a, b) => a - b)) await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_USER_GROUPS, userId]);
    const full = await this.one('SELECT user_id FROM members WHERE user_id = ANY($1) GROUP BY user_id HAVING COUNT(*) >= $2 LIMIT 1', [[...userIds], LIMITS.maxGroupsPerUser], tx);
    if (full) throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
  }

  async createGroup(name: string, creatorId: number, memberIds: readonly number[], now: number, _by: string, origin: Origin): Promise<GroupRef> {
    return this.tx(async (tx) => {
      await this.checkGroupsPerUser(tx, memberIds);
      let group: GroupRef | undefined;
      try {
        group = await this.one<GroupRef>('INSERT INTO groups (name, created_by, created_at) VALUES ($1, $2, $3) RETURNING id, name', [name, creatorId, now], tx);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ChatError('NAME_TAKEN', 'That group name is taken');
        throw err;
      }
      if (!group) throw new Error('group insert returned nothing');
      const added = (
        await tx.query<{ id: number; name: string }>(
          'INSERT INTO members (group_id, user_id, joined_after, delivered_upto, read_upto) SELECT $1::bigint, u, 0, 0, 0 FROM unnest($2::bigint[]) AS u RETURNING user_id AS id, (SELECT name FROM users WHERE id = user_id) AS name',
          [group.id, [...memberIds]],
        )
      ).rows;
      for (const m of added) await this.notify(tx, { kind: 'added', groupId: group.id, group: group.name, userId: m.id, user: m.name, how: 'created', origin });
      return group;
    });
  }

  async findGroupForMember(name: string, userId: number): Promise<GroupRef | undefined> {
    return this.one<GroupRef>('SELECT g.id, g.name FROM groups g JOIN members m ON m.group_id = g.id WHERE lower(g.name) = lower($1) AND m.user_id = $2', [name, userId]);
  }

  /** Makes `userId` a member (inside `tx`): ALREADY_MEMBER, LIMIT_REACHED. */
  private async addMember(tx: Tx, group: GroupRef, userId: number): Promise<void> {
    // The group's write lock: no message of the group commits between reading the newest id
    // and the new member's row, so "joined after" is exact.
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_GROUP_WRITE, group.id]);
    if (await this.one('SELECT 1 FROM members WHERE group_id = $1 AND user_id = $2', [group.id, userId], tx)) throw new ChatError('ALREADY_MEMBER');
    const count = (await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM members WHERE group_id = $1', [group.id], tx))?.n ?? 0;
    if (count >= LIMITS.maxGroupMembers) throw new ChatError('LIMIT_REACHED', `A group has at most ${LIMITS.maxGroupMembers} members`);
    await this.checkGroupsPerUser(tx, [userId]);
    await tx.query(
      `INSERT INTO members (group_id, user_id, joined_after, delivered_upto, read_upto)
       SELECT $1::bigint, $2::bigint, n, n, n FROM (SELECT COALESCE(MAX(id), 0) AS n FROM messages WHERE group_id = $1::bigint) x`,
      [group.id, userId],
    );
  }

  async groupCountOf(userId: number): Promise<number> {
    return (await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM members WHERE user_id = $1', [userId]))?.n ?? 0;
  }

  async invite(group: GroupRef, userId: number, invitedBy: number, byName: string, now: number, origin: Origin): Promise<boolean> {
    return this.tx(async (tx) => {
      if (await this.one('SELECT 1 FROM members WHERE group_id = $1 AND user_id = $2', [group.id, userId], tx)) return false;
      const inserted = await this.one(
        'INSERT INTO invitations (group_id, user_id, invited_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1 AS ok',
        [group.id, userId, invitedBy, now],
        tx,
      );
      if (!inserted) return false;
      await tx.query(
        `DELETE FROM invitations WHERE user_id = $1 AND group_id NOT IN
           (SELECT group_id FROM invitations WHERE user_id = $1 ORDER BY created_at DESC, group_id DESC LIMIT $2)`,
        [userId, LIMITS.maxPendingInvitations],
      );
      await this.notify(tx, { kind: 'invited', userId, group: group.name, by: byName, origin });
      return true;
    });
  }

  async invitationsOf(userId: number): Promise<Invitation[]> {
    return (
      await this.pool.query<Invitation>(
        `SELECT g.name AS "group", u.name AS "by" FROM invitations i JOIN groups g ON g.id = i.group_id JOIN users u ON u.id = i.invited_by
         WHERE i.user_id = $1 ORDER BY i.created_at, g.name`,
        [userId],
      )
    ).rows;
  }

  private async invitedGroup(groupName: string, userId: number, on: pg.Pool | Tx): Promise<GroupRef | undefined> {
    return this.one<GroupRef>('SELECT g.id, g.name FROM groups g JOIN invitations i ON i.group_id = g.id WHERE lower(g.name) = lower($1) AND i.user_id = $2', [groupName, userId], on);
  }

  async acceptInvitation(groupName: string, userId: number, userName: string, origin: Origin): Promise<GroupRef | undefined> {
    return this.tx(async (tx) => {
      const group = await this.invitedGroup(groupName, userId, tx);
      if (!group) return undefined;
      await this.addMember(tx, group, userId);
      await tx.query('DELETE FROM invitations WHERE group_id = $1 AND user_id = $2', [group.id, userId]);
      await this.notify(tx, { kind: 'added', groupId: group.id, group: group.name, userId, user: userName, how: 'joined', origin });
      return group;
    });
  }

  async declineInvitation(groupName: string, userId: number): Promise<GroupRef | undefined> {
    const group = await this.invitedGroup(groupName, userId, this.pool);
    if (group) await this.pool.query('DELETE FROM invitations WHERE group_id = $1 AND user_id = $2', [group.id, userId]);
    return group;
  }

  async removeMember(groupId: number, userId: number): Promise<void> {
    await this.tx(async (tx) => {
      await tx.query('DELETE FROM members WHERE group_id = $1 AND user_id = $2', [groupId, userId]);
      await this.notify(tx, { kind: 'left', groupId, userId });
    });
  }

  async members(groupId: number): Promise<{ userId: number; name: string }[]> {
    const rows = (await this.pool.query<{ id: number; name: string }>('SELECT u.id, u.name FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY lower(u.name)', [groupId])).rows;
    return rows.map((r) => ({ userId: r.id, name: r.name }));
  }

  async groupsOf(userId: number): Promise<GroupWithMarks[]> {
    return (
      await this.pool.query<GroupWithMarks>(
        `SELECT g.id, g.name, m.delivered_upto AS "deliveredUpto",
           (SELECT COUNT(*) FROM messages x WHERE x.group_id = g.id AND x.id > m.read_upto AND x.sender_id != m.user_id) AS unread,
           (SELECT COUNT(*) FROM members y WHERE y.group_id = g.id) AS members
         FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY lower(g.name)`,
        [userId],
      )
    ).rows;
  }

  // ---- messages ----

  async insertMessage(groupId: number, senderId: number, clientMsgId: string, text: string, now: number, kind: MessageKind, origin: Origin): Promise<{ message: StoredMessage; duplicate: boolean }> {
    // One statement (pg-migrations.ts, chat_insert_message): lock, insert, NOTIFY, commit. A
    // retry (perhaps on another node than the first try) finds the stored one: acknowledged
    // again, stored once.
    const r = await this.one<{
      o_id: number; o_duplicate: boolean; o_group: string; o_sender_name: string; o_text: string; o_sent_at: number; o_recipients: number;
      o_kind: string; o_edited_at: number | null; o_deleted_at: number | null;
    }>('SELECT * FROM chat_insert_message($1, $2, $3, $4, $5, $6, $7)', [groupId, senderId, clientMsgId, text, now, kind, origin]);
    if (!r?.o_id) throw new ChatError('NOT_FOUND');
    const message = toMessage({
      id: r.o_id, group_name: r.o_group, sender_id: senderId, sender_name: r.o_sender_name, client_msg_id: clientMsgId, text: r.o_text,
      sent_at: r.o_sent_at, recipients: r.o_recipients, kind: r.o_kind, edited_at: r.o_edited_at, deleted_at: r.o_deleted_at,
    });
    return { message, duplicate: r.o_duplicate };
  }

  async lastMessageOf(groupId: number, senderId: number): Promise<number> {
    return (await this.one<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM messages WHERE group_id = $1 AND sender_id = $2', [groupId, senderId]))?.n ?? 0;
  }

  async editMessage(group: GroupRef, messageId: number, text: string, now: number, origin: Origin): Promise<boolean> {
    return this.tx(async (tx) => {
      const done = ((await tx.query('UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3 AND deleted_at IS NULL', [text, now, messageId])).rowCount ?? 0) > 0;
      if (done) await this.notify(tx, { kind: 'edited', groupId: group.id, group: group.name, messageId, text, editedAt: now, origin });
      return done;
    });
  }

  async deleteMessage(group: GroupRef, messageId: number, now: number, origin: Origin): Promise<boolean> {
    return this.tx(async (tx) => {
      const done = ((await tx.query("UPDATE messages SET text = '', deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL", [now, messageId])).rowCount ?? 0) > 0;
      if (done) await this.notify(tx, { kind: 'deleted', groupId: group.id, group: group.name, messageId, origin });
      return done;
    });
  }

  async messageById(id: number): Promise<StoredMessage | undefined> {
    const row = await this.one<MessageRow>(`SELECT ${MESSAGE_COLUMNS} WHERE m.id = $1`, [id]);
    return row && toMessage(row);
  }

  async history(groupId: number, before: number | null, limit: number): Promise<{ messages: StoredMessage[]; more: boolean }> {
    const rows = (await this.pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} WHERE m.group_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3`, [groupId, before ?? Number.MAX_SAFE_INTEGER, limit + 1])).rows;
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more };
  }

  async messagesAfter(groupId: number, afterId: number, exceptSender: number, limit: number): Promise<StoredMessage[]> {
    return (await this.pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} WHERE m.group_id = $1 AND m.id > $2 AND m.sender_id != $3 ORDER BY m.id LIMIT $4`, [groupId, afterId, exceptSender, limit])).rows.map(toMessage);
  }

  async markDeliveredMany(marks: readonly { groupId: number; userId: number; upTo: number }[]): Promise<{ from: number; to: number }[]> {
    // One statement each (chat_mark_delivered), side by side on the pool.
    return Promise.all(
      marks.map(async (m) => {
        const row = await this.one<{ o_from: number; o_to: number }>('SELECT o_from, o_to FROM chat_mark_delivered($1, $2, $3)', [m.groupId, m.userId, m.upTo]);
        return { from: row?.o_from ?? 0, to: row?.o_to ?? 0 };
      }),
    );
  }

  async publishTraces(group: GroupRef, from: number, to: number, receivers: readonly number[], max: number): Promise<void> {
    // One statement (chat_publish_traces): the group's traces lock, the counts, the NOTIFYs.
    await this.pool.query('SELECT chat_publish_traces($1, $2, $3, $4, $5, $6)', [group.id, group.name, from, to, [...receivers], max]);
  }

  async relay(event: StoreEvent): Promise<void> {
    for (const payload of encodeEvent(event)) await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
  }

  async markRead(groupId: number, userId: number, upTo: number): Promise<{ from: number; to: number }> {
    const row = await this.one<{ o_from: number; o_to: number }>('SELECT o_from, o_to FROM chat_mark_read($1, $2, $3)', [groupId, userId, upTo]);
    return { from: row?.o_from ?? 0, to: row?.o_to ?? 0 };
  }

  async deliveredCount(groupId: number, messageId: number, senderId: number): Promise<number> {
    return (
      (await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM members WHERE group_id = $1 AND user_id != $2 AND joined_after < $3 AND delivered_upto >= $3', [groupId, senderId, messageId]))?.n ?? 0
    );
  }

  // ---- throttle ----

  /** Locks the buckets' rows (created full when missing), in key order so that no two lock in a cycle. */
  private async lockBuckets(tx: Tx, keys: readonly ThrottleKey[], now: number): Promise<Map<string, { tokens: number; updated_at: number }>> {
    const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await tx.query(
      'INSERT INTO throttle (key, tokens, updated_at, full_at) SELECT k, b, $3::bigint, $3::bigint FROM unnest($1::text[], $2::float8[]) AS t(k, b) ON CONFLICT (key) DO NOTHING',
      [sorted.map((k) => k.key), sorted.map((k) => k.burst), now],
    );
    const rows = (await tx.query<{ key: string; tokens: number; updated_at: number }>('SELECT key, tokens, updated_at FROM throttle WHERE key = ANY($1) ORDER BY key FOR UPDATE', [sorted.map((k) => k.key)])).rows;
    return new Map(rows.map((r) => [r.key, r]));
  }

  private async putBuckets(tx: Tx, levels: { key: ThrottleKey; tokens: number }[], now: number): Promise<void> {
    await tx.query(
      'UPDATE throttle t SET tokens = v.tokens, updated_at = $4, full_at = v.full_at FROM unnest($1::text[], $2::float8[], $3::bigint[]) AS v(key, tokens, full_at) WHERE t.key = v.key',
      [levels.map((l) => l.key.key), levels.map((l) => l.tokens), levels.map((l) => now + Math.ceil((l.key.burst - l.tokens) * l.key.refillMs)), now],
    );
  }

  async takeTokens(keys: readonly ThrottleKey[], now: number): Promise<number> {
    return this.tx(async (tx) => {
      const rows = await this.lockBuckets(tx, keys, now);
      const levels = keys.map((key) => {
        const row = rows.get(key.key);
        return { key, tokens: row ? refilled(row.tokens, row.updated_at, now, key) : key.burst };
      });
      const wait = Math.max(0, ...levels.map((l) => (l.tokens >= 1 ? 0 : Math.ceil((1 - l.tokens) * l.key.refillMs))));
      if (wait > 0) return wait;
      await this.putBuckets(tx, levels.map((l) => ({ key: l.key, tokens: l.tokens - 1 })), now);
      return 0;
    });
  }

  async returnTokens(keys: readonly ThrottleKey[], now: number): Promise<void> {
    await this.tx(async (tx) => {
      const rows = await this.lockBuckets(tx, keys, now);
      const levels = keys.map((key) => {
        const row = rows.get(key.key);
        return { key, tokens: Math.min(key.burst, (row ? refilled(row.tokens, row.updated_at, now, key) : key.burst) + 1) };
      });
      await this.putBuckets(tx, levels, now);
    });
  }

  async pruneTokens(now: number): Promise<void> {
    await this.pool.query('DELETE FROM throttle WHERE full_at <= $1', [now]);
  }

  // ---- presence ----

  setOnline(userId: number, online: boolean): void {
    if (online) this.localOnline.add(userId);
    else this.localOnline.delete(userId);
    // In order: an online/offline pair for one user must not be applied the other way round.
    this.presenceChain = this.presenceChain
      .then(() =>
        online
          ? this.pool.query('INSERT INTO presence (node_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [this.nodeId, userId])
          : this.pool.query('DELETE FROM presence WHERE node_id = $1 AND user_id = $2', [this.nodeId, userId]),
      )
      .then(
        () => {},
        (err: unknown) => this.onError('presence', err),
      );
  }

  async onlineElsewhere(userIds: readonly number[]): Promise<Set<number>> {
    if (userIds.length === 0) return new Set();
    const rows = (
      await this.pool.query<{ user_id: number }>(
        `SELECT DISTINCT p.user_id FROM presence p JOIN nodes n ON n.id = p.node_id
         WHERE n.id != $1 AND n.seen_at > now() - make_interval(secs => $2) AND p.user_id = ANY($3)`,
        [this.nodeId, PRESENCE_TTL_S, [...userIds]],
      )
    ).rows;
    return new Set(rows.map((r) => r.user_id));
  }

  /** This node is alive; nodes silent for long are forgotten (with their presence rows). */
  private async beat(): Promise<void> {
    const row = await this.one<{ inserted: boolean }>(
      'INSERT INTO nodes (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET seen_at = now() RETURNING (xmax = 0) AS inserted',
      [this.nodeId],
    );
    if (row?.inserted && this.localOnline.size > 0) {
      // Forgotten after a long stall (and our presence rows with it): write them again.
      await this.pool.query('INSERT INTO presence (node_id, user_id) SELECT $1::text, u FROM unnest($2::bigint[]) AS u ON CONFLICT DO NOTHING', [this.nodeId, [...this.localOnline]]);
    }
    await this.pool.query('DELETE FROM nodes WHERE seen_at < now() - make_interval(secs => $1)', [NODE_FORGET_S]);
  }
}
