/**
 * The single-node ChatStore: the synchronous SQLite Store (store.ts) behind the async interface.
 * better-sqlite3 commits before each call returns, so a resolved write is a committed one, and
 * events are published to this process's listeners right after the commit (there is no other
 * node to tell). Presence is this process's own: no other node exists.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Invitation, MessageKind } from '../protocol/messages.js';
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

  async createGroup(name: string, creatorId: number, memberIds: readonly number[], now: number, _by: string, origin: Origin): Promise<GroupRef> {
    const group = this.sync.createGroup(name, creatorId, memberIds, now);
    for (const m of this.sync.members(group.id)) this.publish({ kind: 'added', groupId: group.id, group: group.name, userId: m.userId, user: m.name, how: 'created', origin });
    return group;
  }

  async findGroupForMember(name: string, userId: number): Promise<GroupRef | undefined> {
    return this.sync.findGroupForMember(name, userId);
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

  async groupCountOf(userId: number): Promise<number> {
    return this.sync.groupCountOf(userId);
  }

  async invite(group: GroupRef, userId: number, invitedBy: number, byName: string, now: number, origin: Origin): Promise<boolean> {
    const fresh = this.sync.invite(group.id, userId, invitedBy, now);
    if (fresh) this.publish({ kind: 'invited', userId, group: group.name, by: byName, origin });
    return fresh;
  }

  async invitationsOf(userId: number): Promise<Invitation[]> {
    return this.sync.invitationsOf(userId);
  }

  async acceptInvitation(groupName: string, userId: number, userName: string, origin: Origin): Promise<GroupRef | undefined> {
    const group = this.sync.acceptInvitation(groupName, userId);
    if (group) this.publish({ kind: 'added', groupId: group.id, group: group.name, userId, user: userName, how: 'joined', origin });
    return group;
  }

  async declineInvitation(groupName: string, userId: number): Promise<GroupRef | undefined> {
    return this.sync.declineInvitation(groupName, userId);
  }

  async insertMessage(groupId: number, senderId: number, clientMsgId: string, text: string, now: number, kind: MessageKind, origin: Origin): Promise<{ message: StoredMessage; duplicate: boolean }> {
    const result = this.sync.insertMessage(groupId, senderId, clientMsgId, text, now, kind);
    if (!result.duplicate) this.publish({ kind: 'message', groupId, message: result.message, origin });
    return result;
  }

  async lastMessageOf(groupId: number, senderId: number): Promise<number> {
    return this.sync.lastMessageOf(groupId, senderId);
  }

  async editMessage(group: GroupRef, messageId: number, text: string, now: number, origin: Origin): Promise<boolean> {
    const done = this.sync.editMessage(messageId, text, now);
    if (done) this.publish({ kind: 'edited', groupId: group.id, group: group.name, messageId, text, editedAt: now, origin });
    return done;
  }

  async deleteMessage(group: GroupRef, messageId: number, now: number, origin: Origin): Promise<boolean> {
    const done = this.sync.deleteMessage(messageId, now);
    if (done) this.publish({ kind: 'deleted', groupId: group.id, group: group.name, messageId, origin });
    return done;
  }

  async history(groupId: number, before: number | null, limit: number): Promise<{ messages: StoredMessage[]; more: boolean }> {
    return this.sync.history(groupId, before, limit);
  }

  async messagesAfter(groupId: number, afterId: number, exceptSender: number, limit: number): Promise<StoredMessage[]> {
    return this.sync.messagesAfter(groupId, afterId, exceptSender, limit);
  }

  async markDeliveredMany(marks: readonly { groupId: number; userId: number; upTo: number }[]): Promise<{ from: number; to: number }[]> {
    return this.sync.markDeliveredMany(marks);
  }

  async markRead(groupId: number, userId: number, upTo: number): Promise<{ from: number; to: number }> {
    return this.sync.markRead(groupId, userId, upTo);
  }

  async publishTraces(group: GroupRef, from: number, to: number, receivers: readonly number[], max: number): Promise<void> {
    const traces: TraceRow[] = [];
    for (const target of this.sync.traceTargets(group.id, from, to, -1, max)) {
      // Only marks raised by someone else move the sender's counts.
      if (receivers.length === 1 && receivers[0] === target.senderId) continue;
      const counts = this.sync.receiptCounts(group.id, target.messageId, target.senderId);
      traces.push({ ...target, delivered: counts.delivered, read: counts.read });
    }
    if (traces.length > 0) this.publish({ kind: 'traces', groupId: group.id, group: group.name, traces });
  }

  async relay(event: StoreEvent): Promise<void> {
    this.publish(event);
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
