/**
 * The chat server's logic: validates each request, applies it to the store, replies, and pushes
 * messages, traces and backlog to online members. It knows links only through the Transport
 * interface, so unit tests drive it in memory and production runs it on reliable-dgram.
 *
 * Ordering rule: on one connection, requests are handled one at a time in arrival order, and a
 * reply is sent before any push the request causes. A `send` is replied to only after the store
 * committed it.
 *
 * Pushes (messages, traces, `added`) are made from the store's events, never straight from the
 * request that caused them: with several nodes on one PostgreSQL database, the event comes to
 * every node (this one included) once the transaction committed, in commit order, and each node
 * pushes to its own connections. Per group, message ids increase in commit order, so pushes to
 * one connection are always in id order.
 */
import { ChatError } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { GroupSummary, OkReply, Request, RequestType, ReplyData, ServerMessage } from '../protocol/messages.js';
import { parseRequest } from '../protocol/validate.js';
import type { Link, Listener } from '../transport/transport.js';
import type { ChatStore, GroupRef, GroupWithMarks, StoreEvent, ThrottleKey } from './chat-store.js';
import { ClientConnection, type BoundSession } from './client-connection.js';
import { silentLogger, type Logger } from './log.js';
import type { PasswordHasher } from './passwords.js';
import { DEFAULT_LOGIN_THROTTLE, TokenBuckets, type BucketConfig, type LoginThrottleConfig } from './throttle.js';
import { hashToken, newToken } from './tokens.js';

export interface ChatServerOptions {
  store: ChatStore;
  hasher: PasswordHasher;
  log?: Logger;
  now?: () => number;
  /** A session unused for this long is expired. Default 30 min (OWASP: 15-30 min). */
  sessionIdleMs?: number;
  /** A session older than this is expired whatever its use. Default 8 h (OWASP: 4-8 h). */
  sessionMaxAgeMs?: number;
  loginThrottle?: LoginThrottleConfig;
  /** Registrations per address. Default: 10, then one per minute. */
  registerThrottle?: BucketConfig;
  /** Requests per connection. Default: burst 1000, then 500 per second. */
  requestThrottle?: BucketConfig;
}

type Outcome<T extends RequestType> = { reply: ReplyData[T]; after?: () => void };

/** Requests allowed before logging in. */
const PUBLIC_TYPES: ReadonlySet<RequestType> = new Set(['register', 'login', 'resume', 'ping']);
/** Write `last_seen_at` at most this often per connection. */
const TOUCH_INTERVAL_MS = 60_000;
/** Traces computed per `received` request, newest first (bounds the work of a big catch-up). */
const MAX_TRACES_PER_RECEIPT = 50;

export class ChatServer {
  private readonly store: ChatStore;
  private readonly nodeId: string;
  private readonly hasher: PasswordHasher;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sessionIdleMs: number;
  private readonly sessionMaxAgeMs: number;
  private readonly loginThrottle: LoginThrottleConfig;
  private readonly registerThrottle: BucketConfig;
  private readonly requestThrottle: TokenBuckets;
  private readonly connections = new Set<ClientConnection>();
  /** userId -> that user's logged-in connections. */
  private readonly online = new Map<number, Set<ClientConnection>>();
  /** groupId -> the logged-in connections receiving its live messages. */
  private readonly subscribers = new Map<number, Set<ClientConnection>>();
  private readonly pruneTimer: NodeJS.Timeout;
  private nextLabel = 1;

  constructor(options: ChatServerOptions) {
    this.store = options.store;
    this.nodeId = options.store.nodeId;
    this.hasher = options.hasher;
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? 8 * 3_600_000;
    this.loginThrottle = options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE;
    this.registerThrottle = options.registerThrottle ?? { burst: 10, refillMs: 60_000 };
    this.requestThrottle = new TokenBuckets(options.requestThrottle ?? { burst: 1000, refillMs: 2 });
    this.pruneTimer = setInterval(() => this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
    this.store.onEvent((event) => this.onStoreEvent(event));
    // Events may have been missed: every client reconnects and catches up from the store.
    this.store.onResync(() => {
      this.log('resync', { connections: this.connections.size });
      for (const conn of this.connections) conn.link.destroy();
    });
  }

  /** Serves every connection the listener accepts. */
  attach(listener: Listener): void {
    listener.onLink((link) => this.accept(link));
  }

  accept(link: Link): ClientConnection {
    const conn = new ClientConnection(link, `c${this.nextLabel++}`);
    this.connections.add(conn);
    link.onMessage((data) => this.onData(conn, data));
    link.onClose((err) => this.onClosed(conn, err));
    return conn;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  close(): void {
    clearInterval(this.pruneTimer);
    for (const conn of this.connections) conn.link.destroy();
  }

  // ---- plumbing ----

  private onData(conn: ClientConnection, data: Uint8Array): void {
    const parsed = parseRequest(data);
    const now = this.now();
    const wait = this.requestThrottle.retryAfter(conn.label, now);
    if (wait > 0) {
      // Parsed first (cheap, 64 KiB at most) so that even this reply carries the request's id.
      conn.send(errorReply(parsed.ok ? parsed.request.id : parsed.id, new ChatError('RATE_LIMITED', 'Too many requests on this connection', wait)));
      return;
    }
    this.requestThrottle.spend(conn.label, now);
    if (!parsed.ok) {
      conn.send(errorReply(parsed.id, parsed.error));
      return;
    }
    const request = parsed.request;
    const accepted = conn.enqueue(() => this.handle(conn, request), LIMITS.maxQueuedRequestsPerConnection);
    if (!accepted) conn.send(errorReply(request.id, new ChatError('BUSY', 'Too many requests waiting on this connection')));
  }

  /** Never rejects: every failure becomes an error reply or a log line. */
  private async handle(conn: ClientConnection, request: Request): Promise<void> {
    if (conn.closed) return;
    let outcome: Outcome<RequestType>;
    try {
      outcome = await this.dispatch(conn, request);
    } catch (err) {
      if (err instanceof ChatError) {
        conn.send(errorReply(request.id, err));
      } else {
        this.logError(conn, request, err);
        conn.send(errorReply(request.id, new ChatError('INTERNAL')));
      }
      return;
    }
    conn.send({ type: 'ok', id: request.id, ...outcome.reply } as OkReply);
    try {
      outcome.after?.();
    } catch (err) {
      // Pushes after a committed request: the client catches up from the store later.
      this.logError(conn, request, err);
    }
  }

  /** For work started after a reply (backlog reads): a failure is logged, the client catches up later. */
  private background(conn: ClientConnection, what: string, work: Promise<void>): void {
    work.catch((err: unknown) => this.log('error', { conn: conn.label, request: what, error: err instanceof Error ? err.message : String(err) }));
  }

  private logError(conn: ClientConnection, request: Request, err: unknown): void {
    this.log('error', { conn: conn.label, request: request.type, error: err instanceof Error ? err.message : String(err) });
  }

  private onClosed(conn: ClientConnection, err?: Error): void {
    conn.closed = true;
    this.connections.delete(conn);
    this.unbind(conn);
    const code = (err as { code?: unknown } | undefined)?.code;
    this.log('disconnect', { conn: conn.label, reason: typeof code === 'string' ? code : err ? 'error' : 'closed' });
  }

  private async dispatch(conn: ClientConnection, request: Request): Promise<Outcome<RequestType>> {
    if (!PUBLIC_TYPES.has(request.type)) await this.requireSession(conn);
    switch (request.type) {
      case 'register':
        return this.register(conn, request.user, request.password);
      case 'login':
        return this.login(conn, request.user, request.password);
      case 'resume':
        return this.resume(conn, request.token);
      case 'logout':
        return this.logout(conn);
      case 'createGroup':
        return this.createGroup(conn, request.group, request.members);
      case 'addMember':
        return this.addMember(conn, request.group, request.user);
      case 'leaveGroup':
        return this.leaveGroup(conn, request.group);
      case 'listGroups':
        return { reply: { groups: summaries(await this.store.groupsOf(this.me(conn).userId)) } };
      case 'send':
        return this.sendMessage(conn, request.group, request.clientMsgId, request.text);
      case 'history': {
        const group = await this.memberGroup(conn, request.group);
        const page = await this.store.history(group.id, request.before, request.limit);
        return { reply: { group: group.name, messages: page.messages.map(publicMessage), more: page.more } };
      }
      case 'who':
        return this.who(conn, request.group);
      case 'received':
        return this.received(conn, request.group, request.upTo);
      case 'read': {
        const group = await this.memberGroup(conn, request.group);
        await this.store.markRead(group.id, this.me(conn).userId, request.upTo);
        return { reply: {} };
      }
      case 'ping':
        return { reply: {} };
    }
  }

  // ---- sessions ----

  /**
   * Checks the connection's session. Expiry is computed from what this connection knows; the
   * database is read (and `last_seen_at` written) at most once a minute, which also catches a
   * session revoked elsewhere. (A logout on this server unbinds every connection at once.)
   */
  private async requireSession(conn: ClientConnection): Promise<void> {
    const session = conn.session;
    if (!session) throw new ChatError('UNAUTHENTICATED');
    const now = this.now();
    const fresh = now - session.touchedAt < Math.min(TOUCH_INTERVAL_MS, this.sessionIdleMs) && now - session.createdAt < this.sessionMaxAgeMs;
    if (fresh) return;
    // Ask the database: another connection of the same session may have kept it alive.
    const row = await this.store.findSession(session.tokenHash);
    const valid = row !== undefined && !this.isExpired(row, now);
    if (valid) {
      await this.store.touchSession(session.tokenHash, now);
      session.touchedAt = now;
      return;
    }
    await this.store.deleteSession(session.tokenHash);
    this.unbind(conn);
    throw new ChatError('INVALID_SESSION');
  }

  private isExpired(row: { createdAt: number; lastSeenAt: number }, now: number): boolean {
    return now - row.lastSeenAt >= this.sessionIdleMs || now - row.createdAt >= this.sessionMaxAgeMs;
  }

  private me(conn: ClientConnection): BoundSession {
    if (!conn.session) throw new ChatError('UNAUTHENTICATED');
    return conn.session;
  }

  /**
   * Logs the connection in: it receives the live messages of `groups` (and of groups it joins
   * later, from `added` events); each group starts by catching up from the member's delivered
   * mark, so live messages wait until the backlog is out (startBacklog).
   */
  private bind(conn: ClientConnection, session: BoundSession, groups: readonly GroupWithMarks[]): void {
    this.unbind(conn);
    conn.session = session;
    let set = this.online.get(session.userId);
    if (!set) {
      this.online.set(session.userId, (set = new Set()));
      this.store.setOnline(session.userId, true);
    }
    set.add(conn);
    for (const group of groups) {
      this.subscribe(conn, group);
      conn.catchingUp.set(group.id, { lastSent: group.deliveredUpto, querying: false, dirty: false });
    }
  }

  private unbind(conn: ClientConnection): void {
    const session = conn.session;
    if (!session) return;
    conn.session = null;
    conn.catchingUp.clear();
    conn.lastPushed.clear();
    for (const groupId of [...conn.groups]) this.unsubscribe(conn, groupId);
    const set = this.online.get(session.userId);
    set?.delete(conn);
    if (set && set.size === 0) {
      this.online.delete(session.userId);
      this.store.setOnline(session.userId, false);
    }
  }

  private subscribe(conn: ClientConnection, group: GroupRef): void {
    conn.groups.add(group.id);
    conn.groupNames.set(group.name.toLowerCase(), { id: group.id, name: group.name });
    let set = this.subscribers.get(group.id);
    if (!set) this.subscribers.set(group.id, (set = new Set()));
    set.add(conn);
  }

  private unsubscribe(conn: ClientConnection, groupId: number): void {
    conn.groups.delete(groupId);
    for (const [key, ref] of conn.groupNames) if (ref.id === groupId) conn.groupNames.delete(key);
    conn.catchingUp.delete(groupId);
    conn.lastPushed.delete(groupId);
    const set = this.subscribers.get(groupId);
    set?.delete(conn);
    if (set && set.size === 0) this.subscribers.delete(groupId);
  }

  private prune(): void {
    const now = this.now();
    this.store
      .deleteExpiredSessions(now - this.sessionIdleMs, now - this.sessionMaxAgeMs)
      .then(async (removed) => {
        if (removed > 0) this.log('sessions expired', { count: removed });
        await this.store.pruneTokens(now);
      })
      .catch((err: unknown) => this.log('error', { request: 'prune', error: err instanceof Error ? err.message : String(err) }));
  }

  private origin(conn: ClientConnection): string {
    return `${this.nodeId}/${conn.label}`;
  }

  // ---- handlers ----

  private async register(conn: ClientConnection, user: string, password: string): Promise<Outcome<'register'>> {
    const wait = await this.store.takeTokens([{ key: `register-address:${conn.address}`, ...this.registerThrottle }], this.now());
    if (wait > 0) throw new ChatError('RATE_LIMITED', 'Too many registrations from this address', wait);
    if (await this.store.findUser(user)) throw new ChatError('NAME_TAKEN', 'That user name is taken');
    const hash = await this.hasher.hash(password);
    const userId = await this.store.createUser(user, hash, this.now());
    this.log('register', { user, id: userId, from: conn.address });
    return { reply: { user } };
  }

  private async login(conn: ClientConnection, user: string, password: string): Promise<Outcome<'login'>> {
    // The attempt is reserved (a token taken from both buckets, in one transaction) before the
    // password is checked, and given back only if it was right: concurrent guesses, on this node
    // or any other sharing the database, can never check more passwords than the buckets hold.
    const buckets: ThrottleKey[] = [
      { key: `login-user:${user.toLowerCase()}`, ...this.loginThrottle.perUser },
      { key: `login-address:${conn.address}`, ...this.loginThrottle.perAddress },
    ];
    const wait = await this.store.takeTokens(buckets, this.now());
    if (wait > 0) {
      this.log('login throttled', { user, from: conn.address });
      throw new ChatError('RATE_LIMITED', undefined, wait);
    }
    const row = await this.store.findUser(user);
    // Unknown user and wrong password cost the same hash and get the same error.
    const ok = row ? await this.hasher.verify(password, row.passwordHash) : await this.hasher.verifyNobody(password);
    if (!row || !ok) {
      this.log('login failed', { user, from: conn.address });
      throw new ChatError('AUTH_FAILED');
    }
    await this.store.returnTokens(buckets, this.now());
    if (this.hasher.needsRehash(row.passwordHash)) {
      await this.store.setPasswordHash(row.id, await this.hasher.hash(password));
    }
    const token = newToken();
    const tokenHash = hashToken(token);
    const now = this.now();
    await this.store.createSession(tokenHash, row.id, now);
    if (conn.closed) return { reply: { user: row.name, token, groups: [] } };
    const groups = await this.store.groupsOf(row.id);
    this.bind(conn, { tokenHash, userId: row.id, userName: row.name, createdAt: now, touchedAt: now }, groups);
    this.log('login', { user: row.name, conn: conn.label, from: conn.address });
    return { reply: { user: row.name, token, groups: summaries(groups) }, after: () => this.startBacklog(conn) };
  }

  private async resume(conn: ClientConnection, token: string): Promise<Outcome<'resume'>> {
    const tokenHash = hashToken(token);
    const row = await this.store.findSession(tokenHash);
    const now = this.now();
    if (!row || this.isExpired(row, now)) {
      if (row) await this.store.deleteSession(tokenHash);
      this.log('resume failed', { from: conn.address });
      throw new ChatError('INVALID_SESSION');
    }
    await this.store.touchSession(tokenHash, now);
    const groups = await this.store.groupsOf(row.userId);
    if (conn.closed) return { reply: { user: row.userName, groups: [] } };
    this.bind(conn, { tokenHash, userId: row.userId, userName: row.userName, createdAt: row.createdAt, touchedAt: now }, groups);
    this.log('resume', { user: row.userName, conn: conn.label, from: conn.address });
    return { reply: { user: row.userName, groups: summaries(groups) }, after: () => this.startBacklog(conn) };
  }

  private async logout(conn: ClientConnection): Promise<Outcome<'logout'>> {
    const session = this.me(conn);
    // Publishes `revoked`: connections on other nodes resumed with this token lose it too.
    await this.store.deleteSession(session.tokenHash);
    // Every connection resumed with this token loses it too.
    for (const other of [...(this.online.get(session.userId) ?? [])]) {
      if (other.session?.tokenHash.equals(session.tokenHash)) this.unbind(other);
    }
    this.log('logout', { user: session.userName, conn: conn.label });
    return { reply: {} };
  }

  private async createGroup(conn: ClientConnection, name: string, memberNames: string[]): Promise<Outcome<'createGroup'>> {
    const me = this.me(conn);
    const ids = new Map<number, string>([[me.userId, me.userName]]);
    for (const memberName of memberNames) {
      const user = await this.store.findUser(memberName);
      if (!user) throw new ChatError('UNKNOWN_USER', `No such user: ${memberName}`);
      ids.set(user.id, user.name);
    }
    if (ids.size > LIMITS.maxGroupMembers) throw new ChatError('LIMIT_REACHED', `A group has at most ${LIMITS.maxGroupMembers} members`);
    // Publishes `added` for every member: each node subscribes its connections and tells them.
    const group = await this.store.createGroup(name, me.userId, [...ids.keys()], this.now(), me.userName, this.origin(conn));
    this.log('group created', { group: group.name, by: me.userName, members: ids.size });
    return { reply: { group: group.name, members: [...ids.values()].sort() } };
  }

  private async addMember(conn: ClientConnection, groupName: string, userName: string): Promise<Outcome<'addMember'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    const user = await this.store.findUser(userName);
    if (!user) throw new ChatError('UNKNOWN_USER', `No such user: ${userName}`);
    await this.store.addMember(group, user.id, me.userName, this.origin(conn));
    this.log('member added', { group: group.name, user: user.name, by: me.userName });
    return { reply: { group: group.name, user: user.name } };
  }

  private async leaveGroup(conn: ClientConnection, groupName: string): Promise<Outcome<'leaveGroup'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    await this.store.removeMember(group.id, me.userId);
    // At once here; on other nodes when the `left` event arrives (the store refuses a non-member's send meanwhile).
    for (const c of this.online.get(me.userId) ?? []) this.unsubscribe(c, group.id);
    this.log('member left', { group: group.name, user: me.userName });
    return { reply: { group: group.name } };
  }

  private async sendMessage(conn: ClientConnection, groupName: string, clientMsgId: string, text: string): Promise<Outcome<'send'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    // Committed when this resolves: only now may the sender be told "stored". The store's
    // `message` event does the pushing, on every node.
    const { message, duplicate } = await this.store.insertMessage(group.id, me.userId, clientMsgId, text, this.now(), this.origin(conn));
    const reply: ReplyData['send'] = {
      group: message.group,
      messageId: message.messageId,
      clientMsgId: message.clientMsgId,
      recipients: message.recipients,
      // A new message has reached nobody yet; a retry tells how far the first one got.
      delivered: duplicate && message.recipients > 0 ? await this.store.deliveredCount(group.id, message.messageId, me.userId) : 0,
      duplicate,
    };
    return { reply };
  }

  private async who(conn: ClientConnection, groupName: string): Promise<Outcome<'who'>> {
    const group = await this.memberGroup(conn, groupName);
    const members = await this.store.members(group.id);
    const here = (userId: number): boolean => (this.online.get(userId)?.size ?? 0) > 0;
    // Members not online here may be online on another node (PostgreSQL: the presence table).
    const elsewhere = await this.store.onlineElsewhere(members.filter((m) => !here(m.userId)).map((m) => m.userId));
    return { reply: { group: group.name, members: members.map((m) => ({ user: m.name, online: here(m.userId) || elsewhere.has(m.userId) })) } };
  }

  private async received(conn: ClientConnection, groupName: string, upTo: number): Promise<Outcome<'received'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    // Publishes `traces` for the senders (on whichever node they are).
    await this.store.markDelivered(group.id, group.name, me.userId, upTo, MAX_TRACES_PER_RECEIPT);
    return {
      reply: {},
      after: () => {
        const state = conn.catchingUp.get(group.id);
        if (state && !state.querying && upTo >= state.lastSent) this.background(conn, 'backlog', this.sendBacklogBatch(conn, group.id));
      },
    };
  }

  // ---- delivery ----

  /** A group the connection's user belongs to; NOT_FOUND whether it is missing or not theirs. */
  private async memberGroup(conn: ClientConnection, name: string): Promise<GroupRef> {
    const known = conn.groupNames.get(name.toLowerCase());
    if (known) return known;
    const group = await this.store.findGroupForMember(name, this.me(conn).userId);
    if (!group) throw new ChatError('NOT_FOUND');
    return group;
  }

  /** Everything pushed to clients starts here: one committed store event, on every node. */
  private onStoreEvent(event: StoreEvent): void {
    switch (event.kind) {
      case 'message': {
        const push: ServerMessage = { type: 'message', ...publicMessage(event.message) };
        for (const conn of this.subscribers.get(event.groupId) ?? []) {
          if (this.origin(conn) === event.origin) continue; // the sender's own connection
          const state = conn.catchingUp.get(event.groupId);
          if (state) {
            // Still catching up: the backlog reads this message from the store, in order, later.
            state.dirty = true;
            continue;
          }
          this.pushMessage(conn, event.groupId, event.message.messageId, push);
        }
        return;
      }
      case 'traces':
        for (const t of event.traces) {
          const trace: ServerMessage = { type: 'trace', group: event.group, messageId: t.messageId, clientMsgId: t.clientMsgId, delivered: t.delivered, recipients: t.recipients };
          for (const conn of this.online.get(t.senderId) ?? []) conn.send(trace);
        }
        return;
      case 'added':
        for (const conn of this.online.get(event.userId) ?? []) {
          this.subscribe(conn, { id: event.groupId, name: event.group });
          if (this.origin(conn) !== event.origin) conn.send({ type: 'added', group: event.group, by: event.by });
        }
        return;
      case 'left':
        for (const conn of this.online.get(event.userId) ?? []) this.unsubscribe(conn, event.groupId);
        return;
      case 'revoked':
        for (const conn of this.connections) if (conn.session?.tokenHash.equals(event.tokenHash)) this.unbind(conn);
        return;
    }
  }

  /** Pushes a message unless one as new was pushed already (a backlog and a live push can overlap). */
  private pushMessage(conn: ClientConnection, groupId: number, messageId: number, push: ServerMessage): void {
    if (messageId <= (conn.lastPushed.get(groupId) ?? 0)) return;
    conn.lastPushed.set(groupId, messageId);
    conn.send(push);
  }

  /** After login/resume: start pushing, per group, what this user has not received yet. */
  private startBacklog(conn: ClientConnection): void {
    for (const groupId of [...conn.catchingUp.keys()]) this.background(conn, 'backlog', this.sendBacklogBatch(conn, groupId));
  }

  /**
   * Sends the next batch of a group's backlog. The next batch goes once the client acknowledges
   * this one, so a long absence never floods the link, and live messages wait in the store
   * meanwhile, which keeps the order. When a read finds nothing more, the group goes live,
   * unless a live message arrived during that read (it may have committed after the read's
   * snapshot): then it reads once more.
   */
  private async sendBacklogBatch(conn: ClientConnection, groupId: number): Promise<void> {
    const session = conn.session;
    const state = conn.catchingUp.get(groupId);
    if (!session || !state || state.querying || conn.closed) return;
    for (;;) {
      state.querying = true;
      state.dirty = false;
      let batch;
      try {
        batch = await this.store.messagesAfter(groupId, state.lastSent, session.userId, LIMITS.backlogBatch);
      } finally {
        state.querying = false;
      }
      // Logged out, left the group or closed meanwhile: nothing more to do.
      if (conn.closed || conn.session !== session || conn.catchingUp.get(groupId) !== state) return;
      const last = batch.at(-1);
      if (last) {
        state.lastSent = last.messageId;
        for (const message of batch) this.pushMessage(conn, groupId, message.messageId, { type: 'message', ...publicMessage(message) });
        return;
      }
      if (!state.dirty) {
        conn.catchingUp.delete(groupId);
        return;
      }
    }
  }
}

function summaries(groups: readonly GroupWithMarks[]): GroupSummary[] {
  return groups.map((g) => ({ name: g.name, unread: g.unread, members: g.members }));
}

function publicMessage(m: { group: string; messageId: number; from: string; text: string; sentAt: number }) {
  return { group: m.group, messageId: m.messageId, from: m.from, text: m.text, sentAt: m.sentAt };
}

function errorReply(id: Request['id'] | null, err: ChatError): ServerMessage {
  return err.retryAfterMs === undefined
    ? { type: 'error', id, code: err.code, message: err.message }
    : { type: 'error', id, code: err.code, message: err.message, retryAfterMs: err.retryAfterMs };
}
