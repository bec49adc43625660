/**
 * The chat server's logic: validates each request, applies it to the store, replies, and pushes
 * messages, traces and backlog to online members. It knows links only through the Transport
 * interface, so unit tests drive it in memory and production runs it on reliable-dgram.
 *
 * Ordering rule: on one connection, requests are handled one at a time in arrival order, and a
 * reply is sent before any push the request causes. A `send` is replied to only after the store
 * committed it.
 */
import { ChatError } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { GroupSummary, OkReply, Request, RequestType, ReplyData, ServerMessage } from '../protocol/messages.js';
import { parseRequest } from '../protocol/validate.js';
import type { Link, Listener } from '../transport/transport.js';
import { ClientConnection, type BoundSession } from './client-connection.js';
import { silentLogger, type Logger } from './log.js';
import type { PasswordHasher } from './passwords.js';
import type { GroupRef, Store } from './store.js';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle, TokenBuckets, type BucketConfig, type LoginThrottleConfig } from './throttle.js';
import { hashToken, newToken } from './tokens.js';

export interface ChatServerOptions {
  store: Store;
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
  private readonly store: Store;
  private readonly hasher: PasswordHasher;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sessionIdleMs: number;
  private readonly sessionMaxAgeMs: number;
  private readonly loginThrottle: LoginThrottle;
  private readonly registerThrottle: TokenBuckets;
  private readonly requestThrottle: TokenBuckets;
  private readonly connections = new Set<ClientConnection>();
  /** userId -> that user's logged-in connections. */
  private readonly online = new Map<number, Set<ClientConnection>>();
  private readonly pruneTimer: NodeJS.Timeout;
  private nextLabel = 1;

  constructor(options: ChatServerOptions) {
    this.store = options.store;
    this.hasher = options.hasher;
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? 8 * 3_600_000;
    this.loginThrottle = new LoginThrottle(options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE);
    this.registerThrottle = new TokenBuckets(options.registerThrottle ?? { burst: 10, refillMs: 60_000 });
    this.requestThrottle = new TokenBuckets(options.requestThrottle ?? { burst: 1000, refillMs: 2 });
    this.pruneTimer = setInterval(() => this.pruneSessions(), 10 * 60_000);
    this.pruneTimer.unref();
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

  private dispatch(conn: ClientConnection, request: Request): Promise<Outcome<RequestType>> | Outcome<RequestType> {
    if (!PUBLIC_TYPES.has(request.type)) this.requireSession(conn);
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
        return { reply: { groups: this.groupSummaries(this.me(conn).userId) } };
      case 'send':
        return this.sendMessage(conn, request.group, request.clientMsgId, request.text);
      case 'history': {
        const group = this.memberGroup(conn, request.group);
        const page = this.store.history(group.id, request.before, request.limit);
        return { reply: { group: group.name, messages: page.messages.map(publicMessage), more: page.more } };
      }
      case 'who':
        return this.who(conn, request.group);
      case 'received':
        return this.received(conn, request.group, request.upTo);
      case 'read': {
        const group = this.memberGroup(conn, request.group);
        this.store.markRead(group.id, this.me(conn).userId, request.upTo);
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
  private requireSession(conn: ClientConnection): void {
    const session = conn.session;
    if (!session) throw new ChatError('UNAUTHENTICATED');
    const now = this.now();
    const fresh = now - session.touchedAt < Math.min(TOUCH_INTERVAL_MS, this.sessionIdleMs) && now - session.createdAt < this.sessionMaxAgeMs;
    if (fresh) return;
    // Ask the database: another connection of the same session may have kept it alive.
    const row = this.store.findSession(session.tokenHash);
    const valid = row !== undefined && !this.isExpired(row, now);
    if (valid) {
      this.store.touchSession(session.tokenHash, now);
      session.touchedAt = now;
      return;
    }
    this.store.deleteSession(session.tokenHash);
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

  private bind(conn: ClientConnection, session: BoundSession): void {
    this.unbind(conn);
    conn.session = session;
    let set = this.online.get(session.userId);
    if (!set) this.online.set(session.userId, (set = new Set()));
    set.add(conn);
  }

  private unbind(conn: ClientConnection): void {
    const session = conn.session;
    if (!session) return;
    conn.session = null;
    conn.catchingUp.clear();
    const set = this.online.get(session.userId);
    set?.delete(conn);
    if (set && set.size === 0) this.online.delete(session.userId);
  }

  private pruneSessions(): void {
    const now = this.now();
    const removed = this.store.deleteExpiredSessions(now - this.sessionIdleMs, now - this.sessionMaxAgeMs);
    if (removed > 0) this.log('sessions expired', { count: removed });
  }

  // ---- handlers ----

  private async register(conn: ClientConnection, user: string, password: string): Promise<Outcome<'register'>> {
    const now = this.now();
    const wait = this.registerThrottle.retryAfter(conn.address, now);
    if (wait > 0) throw new ChatError('RATE_LIMITED', 'Too many registrations from this address', wait);
    this.registerThrottle.spend(conn.address, now);
    if (this.store.findUser(user)) throw new ChatError('NAME_TAKEN', 'That user name is taken');
    const hash = await this.hasher.hash(password);
    const userId = this.store.createUser(user, hash, this.now());
    this.log('register', { user, id: userId, from: conn.address });
    return { reply: { user } };
  }

  private async login(conn: ClientConnection, user: string, password: string): Promise<Outcome<'login'>> {
    const wait = this.loginThrottle.retryAfter(user, conn.address, this.now());
    if (wait > 0) {
      this.log('login throttled', { user, from: conn.address });
      throw new ChatError('RATE_LIMITED', undefined, wait);
    }
    const row = this.store.findUser(user);
    // Unknown user and wrong password cost the same hash and get the same error.
    const ok = row ? await this.hasher.verify(password, row.passwordHash) : await this.hasher.verifyNobody(password);
    if (!row || !ok) {
      this.loginThrottle.recordFailure(user, conn.address, this.now());
      this.log('login failed', { user, from: conn.address });
      throw new ChatError('AUTH_FAILED');
    }
    if (this.hasher.needsRehash(row.passwordHash)) {
      this.store.setPasswordHash(row.id, await this.hasher.hash(password));
    }
    const token = newToken();
    const tokenHash = hashToken(token);
    const now = this.now();
    this.store.createSession(tokenHash, row.id, now);
    if (conn.closed) return { reply: { user: row.name, token, groups: [] } };
    this.bind(conn, { tokenHash, userId: row.id, userName: row.name, createdAt: now, touchedAt: now });
    this.log('login', { user: row.name, conn: conn.label, from: conn.address });
    return { reply: { user: row.name, token, groups: this.groupSummaries(row.id) }, after: () => this.startBacklog(conn) };
  }

  private resume(conn: ClientConnection, token: string): Outcome<'resume'> {
    const tokenHash = hashToken(token);
    const row = this.store.findSession(tokenHash);
    const now = this.now();
    if (!row || this.isExpired(row, now)) {
      if (row) this.store.deleteSession(tokenHash);
      this.log('resume failed', { from: conn.address });
      throw new ChatError('INVALID_SESSION');
    }
    this.store.touchSession(tokenHash, now);
    this.bind(conn, { tokenHash, userId: row.userId, userName: row.userName, createdAt: row.createdAt, touchedAt: now });
    this.log('resume', { user: row.userName, conn: conn.label, from: conn.address });
    return { reply: { user: row.userName, groups: this.groupSummaries(row.userId) }, after: () => this.startBacklog(conn) };
  }

  private logout(conn: ClientConnection): Outcome<'logout'> {
    const session = this.me(conn);
    this.store.deleteSession(session.tokenHash);
    // Every connection resumed with this token loses it too.
    for (const other of [...(this.online.get(session.userId) ?? [])]) {
      if (other.session?.tokenHash.equals(session.tokenHash)) this.unbind(other);
    }
    this.log('logout', { user: session.userName, conn: conn.label });
    return { reply: {} };
  }

  private createGroup(conn: ClientConnection, name: string, memberNames: string[]): Outcome<'createGroup'> {
    const me = this.me(conn);
    const ids = new Map<number, string>([[me.userId, me.userName]]);
    for (const memberName of memberNames) {
      const user = this.store.findUser(memberName);
      if (!user) throw new ChatError('UNKNOWN_USER', `No such user: ${memberName}`);
      ids.set(user.id, user.name);
    }
    if (ids.size > LIMITS.maxGroupMembers) throw new ChatError('LIMIT_REACHED', `A group has at most ${LIMITS.maxGroupMembers} members`);
    const group = this.store.createGroup(name, me.userId, [...ids.keys()], this.now());
    this.log('group created', { group: group.name, by: me.userName, members: ids.size });
    return {
      reply: { group: group.name, members: [...ids.values()].sort() },
      after: () => {
        for (const userId of ids.keys()) this.pushToUser(userId, { type: 'added', group: group.name, by: me.userName }, conn);
      },
    };
  }

  private addMember(conn: ClientConnection, groupName: string, userName: string): Outcome<'addMember'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const user = this.store.findUser(userName);
    if (!user) throw new ChatError('UNKNOWN_USER', `No such user: ${userName}`);
    this.store.addMember(group.id, user.id);
    this.log('member added', { group: group.name, user: user.name, by: me.userName });
    return {
      reply: { group: group.name, user: user.name },
      after: () => this.pushToUser(user.id, { type: 'added', group: group.name, by: me.userName }, conn),
    };
  }

  private leaveGroup(conn: ClientConnection, groupName: string): Outcome<'leaveGroup'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    this.store.removeMember(group.id, me.userId);
    for (const c of this.online.get(me.userId) ?? []) c.catchingUp.delete(group.id);
    this.log('member left', { group: group.name, user: me.userName });
    return { reply: { group: group.name } };
  }

  private sendMessage(conn: ClientConnection, groupName: string, clientMsgId: string, text: string): Outcome<'send'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    // Committed when this returns: only now may the sender be told "stored".
    const { message, duplicate } = this.store.insertMessage(group.id, me.userId, clientMsgId, text, this.now());
    const reply: ReplyData['send'] = {
      group: message.group,
      messageId: message.messageId,
      clientMsgId: message.clientMsgId,
      recipients: message.recipients,
      delivered: this.store.deliveredCount(group.id, message.messageId, me.userId),
      duplicate,
    };
    if (duplicate) return { reply };
    return { reply, after: () => this.fanOut(group, { type: 'message', ...publicMessage(message) }, conn) };
  }

  private who(conn: ClientConnection, groupName: string): Outcome<'who'> {
    const group = this.memberGroup(conn, groupName);
    const members = this.store.members(group.id).map((m) => ({ user: m.name, online: (this.online.get(m.userId)?.size ?? 0) > 0 }));
    return { reply: { group: group.name, members } };
  }

  private received(conn: ClientConnection, groupName: string, upTo: number): Outcome<'received'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const range = this.store.markDelivered(group.id, me.userId, upTo);
    return {
      reply: {},
      after: () => {
        const lastSent = conn.catchingUp.get(group.id);
        if (lastSent !== undefined && upTo >= lastSent) this.sendBacklogBatch(conn, group.id, lastSent);
        if (range.to > range.from) this.sendTraces(group, me.userId, range.from, range.to);
      },
    };
  }

  // ---- delivery ----

  /** A group the connection's user belongs to; NOT_FOUND whether it is missing or not theirs. */
  private memberGroup(conn: ClientConnection, name: string): GroupRef {
    const group = this.store.findGroupForMember(name, this.me(conn).userId);
    if (!group) throw new ChatError('NOT_FOUND');
    return group;
  }

  private groupSummaries(userId: number): GroupSummary[] {
    return this.store.groupsOf(userId).map((g) => ({ name: g.name, unread: g.unread, members: g.members }));
  }

  /** Pushes a new message to every online member's connections except the sender's own. */
  private fanOut(group: GroupRef, event: ServerMessage, except: ClientConnection): void {
    for (const member of this.store.members(group.id)) {
      for (const conn of this.online.get(member.userId) ?? []) {
        // A connection still catching up gets this message from the store, in order, later.
        if (conn !== except && !conn.catchingUp.has(group.id)) conn.send(event);
      }
    }
  }

  private pushToUser(userId: number, event: ServerMessage, except: ClientConnection): void {
    for (const conn of this.online.get(userId) ?? []) if (conn !== except) conn.send(event);
  }

  /** After login/resume: start pushing, per group, what this user has not received yet. */
  private startBacklog(conn: ClientConnection): void {
    const me = conn.session;
    if (!me) return;
    for (const group of this.store.groupsOf(me.userId)) this.sendBacklogBatch(conn, group.id, group.deliveredUpto);
  }

  /**
   * Sends the next batch of messages after `afterId`. The next batch goes once the client
   * acknowledges this one, so a long absence never floods the link, and live messages wait in
   * the store meanwhile, which keeps the order.
   */
  private sendBacklogBatch(conn: ClientConnection, groupId: number, afterId: number): void {
    const me = conn.session;
    if (!me || conn.closed) return;
    const batch = this.store.messagesAfter(groupId, afterId, me.userId, LIMITS.backlogBatch);
    const last = batch.at(-1);
    if (!last) {
      conn.catchingUp.delete(groupId);
      return;
    }
    conn.catchingUp.set(groupId, last.messageId);
    for (const message of batch) conn.send({ type: 'message', ...publicMessage(message) });
  }

  /** Tells the online senders of messages in (from, to] how many members have them now. */
  private sendTraces(group: GroupRef, receiverId: number, from: number, to: number): void {
    for (const target of this.store.traceTargets(group.id, from, to, receiverId, MAX_TRACES_PER_RECEIPT)) {
      const senders = this.online.get(target.senderId);
      if (!senders || senders.size === 0) continue;
      const trace: ServerMessage = {
        type: 'trace',
        group: group.name,
        messageId: target.messageId,
        clientMsgId: target.clientMsgId,
        delivered: this.store.deliveredCount(group.id, target.messageId, target.senderId),
        recipients: target.recipients,
      };
      for (const conn of senders) conn.send(trace);
    }
  }
}

function publicMessage(m: { group: string; messageId: number; from: string; text: string; sentAt: number }) {
  return { group: m.group, messageId: m.messageId, from: m.from, text: m.text, sentAt: m.sentAt };
}

function errorReply(id: Request['id'] | null, err: ChatError): ServerMessage {
  return err.retryAfterMs === undefined
    ? { type: 'error', id, code: err.code, message: err.message }
    : { type: 'error', id, code: err.code, message: err.message, retryAfterMs: err.retryAfterMs };
}
