/**
 * The single-node ChatStore: the synchronous SQLite Store (store.ts) behind the async interface.
 * better-sqlite3 commits before each call returns, so a resolved write is a committed one, and
 * events are published to this process's listeners right after the commit (there is no other
 * node to tell). Presence is this process's own: no other node exists.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ChatStore, GroupWithMarks, Origin, StoreEvent, ThrottleKey, TraceRow } from './chat-store.js';
import { refilled } from './chat-store.js';
import { Store, type GroupRef, type SessionRow, type StoredMessage, type StoreOptions, type UserRow } from './store.js';

export class SqliteChatStore implements ChatStore {
  readonly description: string;
  readonly nodeId = randomBytes(4).toString('hex');
  readonly schema: { from: number; to: number };
  private readonly listeners: ((event: StoreEvent) => void)[] = [];
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /** `sync` is the synchronous store, exposed for tests and tools that seed a database. */
  constructor(readonly sync: Store, file: string) {
    this.description = file;
    this.schema = sync.schema;
    this.db = sync.db;
  }

  static open(file: string, options: StoreOptions = {}): SqliteChatStore {
    return new SqliteChatStore(new Store(file, options), file);
  }

  onEvent(listener: (event: StoreEvent) => void): void {
    this.listeners.push(listener);
  }

  onResync(): void {
    // Events never get lost inside one process.
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement;
  }

  private publish(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  async close(): Promise<void> {
    this.sync.close();
  }

  async secret(name: string, create: () => Buffer): Promise<Buffer> {
    return this.sync.secret(name, create);
  }

  async createUser(name: string, passwordHash: string, now: number): Promise<number> {
    return this.sync.createUser(name, passwordHash, now);
  }

  async findUser(name: string): Promise<UserRow | undefined> {
    return this.sync.findUser(name);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    this.sync.setPasswordHash(userId, passwordHash);
  }

  async userCount(): Promise<number> {
    return this.sync.userCount();
  }

  async createSession(tokenHash: Buffer, userId: number, now: number): Promise<void> {
    this.sync.createSession(tokenHash, userId, now);
  }

  async findSession(tokenHash: Buffer): Promise<SessionRow | undefined> {
    return this.sync.findSession(tokenHash);
  }

  async touchSession(tokenHash: Buffer, now: number): Promise<void> {
    this.sync.touchSession(tokenHash, now);
  }

  async deleteSession(tokenHash: Buffer): Promise<boolean> {
    const deleted = this.sync.deleteSession(tokenHash);
    if (deleted) this.publish({ kind: 'revoked', tokenHash });
    return deleted;
  }

  async deleteExpiredSessions(idleBefore: number, createdBefore: number): Promise<number> {
    return this.sync.deleteExpiredSessions(idleBefore, createdBefore);
  }

  async createGroup(name: string, creatorId: number, memberIds: readonly number[], now: number, by: string, origin: Origin): Promise<GroupRef> {
    const group = this.sync.createGroup(name, creatorId, memberIds, now);
    for (const userId of memberIds) this.publish({ kind: 'added', groupId: group.id, group: group.name, userId, by, origin });
    return group;
  }

  async findGroupForMember(name: string, userId: number): Promise<GroupRef | undefined> {
    return this.sync.findGroupForMember(name, userId);
  }

  async addMember(group: GroupRef, userId: number, by: string, origin: Origin): Promise<void> {
    this.sync.addMember(group.id, userId);
    this.publish({ kind: 'added', groupId: group.id, group: group.name, userId, by, origin });
  }

  async removeMember(groupId: number, userId: number): Promise<void> {
    this.sync.removeMember(groupId, userId);
    this.publish({ kind: 'left', groupId, userId });
  }

  async members(groupId: number): Promise<{ userId: number; name: string }[]> {
    return this.sync.members(groupId);
  }

  async groupsOf(userId: number): Promise<GroupWithMarks[]> {
    return this.sync.groupsOf(userId);
  }

  async insertMessage(groupId: number, senderId: number, clientMsgId: string, text: string, now: number, origin: Origin): Promise<{ message: StoredMessage; duplicate: boolean }> {
    const result = this.sync.insertMessage(groupId, senderId, clientMsgId, text, now);
    if (!result.duplicate) this.publish({ kind: 'message', groupId, message: result.message, origin });
    return result;
  }

  async history(groupId: number, before: number | null, limit: number): Promise<{ messages: StoredMessage[]; more: boolean }> {
    return this.sync.history(groupId, before, limit);
  }

  async messagesAfter(groupId: number, afterId: number, exceptSender: number, limit: number): Promise<StoredMessage[]> {
    return this.sync.messagesAfter(groupId, afterId, exceptSender, limit);
  }

  async markDelivered(groupId: number, group: string, userId: number, upTo: number, maxTraces: number): Promise<{ from: number; to: number }> {
    const advance = this.db.transaction(() => {
      const range = this.sync.markDelivered(groupId, userId, upTo);
      const traces = range.to > range.from ? this.traceRows(groupId, range.from, range.to, userId, maxTraces) : [];
      return { range, traces };
    });
    const { range, traces } = advance();
    if (traces.length > 0) this.publish({ kind: 'traces', groupId, group, traces });
    return range;
  }

  /** The newest `limit` messages in (from, to] not sent by `receiverId`, oldest first, with their delivered counts. */
  private traceRows(groupId: number, from: number, to: number, receiverId: number, limit: number): TraceRow[] {
    return (this
      .sql(
        `SELECT m.id AS messageId, m.sender_id AS senderId, m.client_msg_id AS clientMsgId, m.recipients,
           (SELECT COUNT(*) FROM members x WHERE x.group_id = m.group_id AND x.user_id != m.sender_id
              AND x.joined_after < m.id AND x.delivered_upto >= m.id) AS delivered
         FROM messages m WHERE m.group_id = ? AND m.id > ? AND m.id <= ? AND m.sender_id != ? ORDER BY m.id DESC LIMIT ?`,
      )
      .all(groupId, from, to, receiverId, limit) as TraceRow[]).reverse();
  }

  async markRead(groupId: number, userId: number, upTo: number): Promise<void> {
    this.sync.markRead(groupId, userId, upTo);
  }

  async deliveredCount(groupId: number, messageId: number, senderId: number): Promise<number> {
    return this.sync.deliveredCount(groupId, messageId, senderId);
  }

  async takeTokens(keys: readonly ThrottleKey[], now: number): Promise<number> {
    const take = this.db.transaction((): number => {
      const get = this.sql('SELECT tokens, updated_at FROM throttle WHERE key = ?');
      const levels = keys.map((key) => {
        const row = get.get(key.key) as { tokens: number; updated_at: number } | undefined;
        return row ? refilled(row.tokens, row.updated_at, now, key) : key.burst;
      });
      const wait = Math.max(0, ...keys.map((key, i) => ((levels[i] ?? 0) >= 1 ? 0 : Math.ceil((1 - (levels[i] ?? 0)) * key.refillMs))));
      if (wait > 0) return wait;
      keys.forEach((key, i) => this.putBucket(key, (levels[i] ?? 0) - 1, now));
      return 0;
    });
    return take();
  }

  async returnTokens(keys: readonly ThrottleKey[], now: number): Promise<void> {
    const give = this.db.transaction(() => {
      const get = this.sql('SELECT tokens, updated_at FROM throttle WHERE key = ?');
      for (const key of keys) {
        const row = get.get(key.key) as { tokens: number; updated_at: number } | undefined;
        if (row) this.putBucket(key, Math.min(key.burst, refilled(row.tokens, row.updated_at, now, key) + 1), now);
      }
    });
    give();
  }

  private putBucket(key: ThrottleKey, tokens: number, now: number): void {
    const fullAt = now + Math.ceil((key.burst - tokens) * key.refillMs);
    this
      .sql('INSERT INTO throttle (key, tokens, updated_at, full_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, full_at = excluded.full_at')
      .run(key.key, tokens, now, fullAt);
  }

  async pruneTokens(now: number): Promise<void> {
    this.sql('DELETE FROM throttle WHERE full_at <= ?').run(now);
  }

  setOnline(): void {
    // One node: the server's own map of connections is the whole truth.
  }

  async onlineElsewhere(): Promise<Set<number>> {
    return new Set();
  }
}
