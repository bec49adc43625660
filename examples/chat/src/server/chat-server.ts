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
import type { ChatMessage, GroupSummary, MessageKind, OkReply, Request, RequestType, ReplyData, ServerMessage } from '../protocol/messages.js';
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
  /** How long traces wait to be coalesced, ms (0: until the end of this turn). Default 20. */
  traceDelayMs?: number;
}

type Outcome<T extends RequestType> = { reply: ReplyData[T]; after?: () => void };

/** Requests allowed before logging in. */
const PUBLIC_TYPES: ReadonlySet<RequestType> = new Set(['register', 'login', 'resume', 'ping']);
/** Write `last_seen_at` at most this often per connection. */
const TOUCH_INTERVAL_MS = 60_000;
/** Traces computed per `received`/`read` request, newest first (bounds the work of a big catch-up). */
const MAX_TRACES_PER_RECEIPT = 50;
/**
 * Traces wait this long to be sent, so that the receipts of a message's members (which arrive
 * within a few ms of each other) make one trace, not one each. A trace is a progress report:
 * 20 ms later costs nobody anything.
 */
const TRACE_DELAY_MS = 20;
/** Typing notices relayed per connection and group at most this often. */
const TYPING_INTERVAL_MS = 2_000;
/** How long a graceful shutdown waits for clients to acknowledge their goodbye. */
const SHUTDOWN_GRACE_MS = 2_000;

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
  /**
   * Traces due, per group: the range of message ids whose marks rose and who raised them, sent
   * together TRACE_DELAY_MS later. Nine receipts for one message arriving together cost one
   * query for the messages, one count and one trace, not nine.
   */
  private readonly tracesDue = new Map<number, { group: GroupRef; from: number; to: number; receivers: Set<number> }>();
  private traceTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private readonly traceDelayMs: number;
  /**
   * Receipts of this turn of the event loop, per connection and group (the highest `upTo`),
   * written in one transaction: under fan-out, receipts are most of the requests.
   */
  private readonly receiptsDue = new Map<string, { conn: ClientConnection; group: GroupRef; userId: number; upTo: number }>();
  private receiptTimer: NodeJS.Immediate | null = null;

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
    this.traceDelayMs = options.traceDelayMs ?? TRACE_DELAY_MS;
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
    if (this.traceTimer) {
      clearTimeout(this.traceTimer as NodeJS.Timeout);
      clearImmediate(this.traceTimer as NodeJS.Immediate);
    }
    if (this.receiptTimer) clearImmediate(this.receiptTimer);
    for (const conn of this.connections) conn.link.destroy();
  }

  /**
   * Graceful shutdown (SIGINT/SIGTERM): every client gets a `goodbye` with the reason, then its
   * connection is closed gracefully (what was sent is delivered first), so clients can say
   * "server restarting" instead of reporting a reset. Links that do not finish within
   * SHUTDOWN_GRACE_MS are destroyed.
   */
  async shutdown(reason = 'restarting'): Promise<void> {
    clearInterval(this.pruneTimer);
    const closing = [...this.connections].map((conn) => {
      conn.send({ type: 'goodbye', reason });
      conn.closed = true; // no more requests are handled, no more pushes sent
      return conn.link.close().catch(() => {});
    });
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)));
    await Promise.race([Promise.all(closing), grace]);
    clearTimeout(timer);
    this.close();
  }

  // ---- plumbing ----

  private onData(conn: ClientConnection, data: Uint8Array): void {
    const parsed = parseRequest(data);
    const now = this.now();
    const wait = this.requestThrottle.retryAfter(conn.label, now);
    if (wait > 0) {
      if (parsed.ok && parsed.notice) return;
      // Parsed first (cheap, 64 KiB at most) so that even this reply carries the request's id.
      conn.send(errorReply(parsed.ok ? parsed.request.id : parsed.id, new ChatError('RATE_LIMITED', 'Too many requests on this connection', wait)));
      return;
    }
    this.requestThrottle.spend(conn.label, now);
    if (!parsed.ok) {
      // `id` is read from the request's first bytes even when it is too large or not JSON, so
      // the client can match this reply (and never waits forever for one).
      conn.send(errorReply(parsed.id, parsed.error));
      return;
    }
    const request = parsed.request;
    const notice = parsed.notice;
    const accepted = conn.enqueue(() => this.handle(conn, request, notice), LIMITS.maxQueuedRequestsPerConnection);
    if (!accepted && !notice) conn.send(errorReply(request.id, new ChatError('BUSY', 'Too many requests waiting on this connection')));
  }

  /** Never rejects: every failure becomes an error reply or a log line. */
  /** `notice`: no reply, not even an error (a receipt or typing notice sent without an id). */
  private async handle(conn: ClientConnection, request: Request, notice = false): Promise<void> {
    if (conn.closed) return;
    let outcome: Outcome<RequestType>;
    try {
      outcome = await this.dispatch(conn, request);
    } catch (err) {
      if (err instanceof ChatError) {
        if (!notice) conn.send(errorReply(request.id, err));
      } else {
        this.logError(conn, request, err);
        if (!notice) conn.send(errorReply(request.id, new ChatError('INTERNAL')));
      }
      return;
    }
    if (!notice) conn.send({ type: 'ok', id: request.id, ...outcome.reply } as OkReply);
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
      case 'invite':
        return this.invite(conn, request.group, request.user);
      case 'invitations':
        return { reply: { invitations: this.store.invitationsOf(this.me(conn).userId) } };
      case 'accept':
        return this.acceptInvitation(conn, request.group);
      case 'decline':
        return this.decline(conn, request.group);
      case 'edit':
        return this.edit(conn, request.group, request.messageId, request.text);
      case 'delete':
        return this.deleteMessage(conn, request.group, request.messageId);
      case 'typing':
        return this.typing(conn, request.group);
      case 'leaveGroup':
        return this.leaveGroup(conn, request.group);
      case 'listGroups':
        return { reply: { groups: this.groupSummaries(this.me(conn).userId) } };
      case 'send':
        return this.sendMessage(conn, request.group, request.clientMsgId, request.text, request.kind);
      case 'history': {
        const group = this.memberGroup(conn, request.group);
        const page = this.store.history(group.id, request.before, request.limit);
        return { reply: { group: group.name, messages: page.messages.map(publicMessage), more: page.more } };
      }
      case 'who':
        return this.who(conn, request.group);
      case 'received':
        return this.received(conn, request.group, request.upTo);
      case 'read':
        return this.read(conn, request.group, request.upTo);
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
    // The attempt is reserved (counted as a failure) before the first `await`: concurrent
    // guesses on many connections all meet the same buckets, so no more than the burst is ever
    // verified. A success gives the reservation back.
    const wait = this.loginThrottle.reserve(user, conn.address, this.now());
    if (wait > 0) {
      this.log('login throttled', { user, from: conn.address });
      throw new ChatError('RATE_LIMITED', undefined, wait);
    }
    const row = this.store.findUser(user);
    // Unknown user and wrong password cost the same hash and get the same error.
    const ok = row ? await this.hasher.verify(password, row.passwordHash) : await this.hasher.verifyNobody(password);
    if (!row || !ok) {
      this.log('login failed', { user, from: conn.address });
      throw new ChatError('AUTH_FAILED');
    }
    this.loginThrottle.succeeded(user, conn.address, this.now());
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

  /**
   * Creates a group with the caller as its only member and invites the named users: nobody is
   * made a member without accepting. The reply is the same whether or not a named user exists
   * (`invited` lists the names as given), so it reveals nothing about who is registered.
   */
  private createGroup(conn: ClientConnection, name: string, memberNames: string[]): Outcome<'createGroup'> {
    const me = this.me(conn);
    const others = [...new Map(memberNames.filter((n) => n.toLowerCase() !== me.userName.toLowerCase()).map((n) => [n.toLowerCase(), n])).values()];
    if (others.length === 0) throw new ChatError('INVALID_ARGUMENT', 'Name at least one other member');
    if (this.store.groupCountOf(me.userId) >= LIMITS.maxGroupsPerUser) {
      throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
    }
    const group = this.store.createGroup(name, me.userId, [me.userId], this.now());
    const invitees = others.map((n) => this.store.findUser(n)).filter((u) => u !== undefined);
    for (const user of invitees) this.store.invite(group.id, user.id, me.userId, this.now());
    this.log('group created', { group: group.name, by: me.userName, invited: others.length });
    return {
      reply: { group: group.name, members: [me.userName], invited: others.sort() },
      after: () => {
        for (const user of invitees) this.pushToUser(user.id, { type: 'invited', group: group.name, by: me.userName }, conn);
      },
    };
  }

  /**
   * Invites a user (`/invite`, `/add`). One answer for every case (unknown user, member already,
   * invited already, too many invitations): the invitee decides, the inviter learns nothing.
   */
  private invite(conn: ClientConnection, groupName: string, userName: string): Outcome<'invite'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const user = this.store.findUser(userName);
    const fresh = user !== undefined && this.store.invite(group.id, user.id, me.userId, this.now());
    if (fresh) this.log('invited', { group: group.name, user: user.name, by: me.userName });
    return {
      reply: { group: group.name, user: userName },
      after: () => {
        if (fresh) this.pushToUser(user.id, { type: 'invited', group: group.name, by: me.userName }, conn);
      },
    };
  }

  private acceptInvitation(conn: ClientConnection, groupName: string): Outcome<'accept'> {
    const me = this.me(conn);
    if (this.store.groupCountOf(me.userId) >= LIMITS.maxGroupsPerUser) {
      throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
    }
    const group = this.store.acceptInvitation(groupName, me.userId);
    if (!group) throw new ChatError('NOT_FOUND', `No invitation to ${groupName}`);
    this.log('member joined', { group: group.name, user: me.userName });
    const members = this.store.members(group.id);
    return {
      reply: { group: group.name, members: members.length },
      after: () => {
        for (const m of members) if (m.userId !== me.userId) this.pushToUser(m.userId, { type: 'joined', group: group.name, user: me.userName }, conn);
      },
    };
  }

  private decline(conn: ClientConnection, groupName: string): Outcome<'decline'> {
    const group = this.store.declineInvitation(groupName, this.me(conn).userId);
    if (!group) throw new ChatError('NOT_FOUND', `No invitation to ${groupName}`);
    return { reply: { group: group.name } };
  }

  private leaveGroup(conn: ClientConnection, groupName: string): Outcome<'leaveGroup'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    this.store.removeMember(group.id, me.userId);
    for (const c of this.online.get(me.userId) ?? []) c.catchingUp.delete(group.id);
    this.log('member left', { group: group.name, user: me.userName });
    return { reply: { group: group.name } };
  }

  private sendMessage(conn: ClientConnection, groupName: string, clientMsgId: string, text: string, kind: MessageKind): Outcome<'send'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    // Committed when this returns: only now may the sender be told "stored".
    const { message, duplicate } = this.store.insertMessage(group.id, me.userId, clientMsgId, text, this.now(), kind);
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

  /** The caller's own newest message in the group, or INVALID_ARGUMENT. */
  private ownLast(conn: ClientConnection, group: GroupRef, messageId: number): void {
    if (this.store.lastMessageOf(group.id, this.me(conn).userId) !== messageId) {
      throw new ChatError('INVALID_ARGUMENT', 'Only your last message in a group can be edited or deleted');
    }
  }

  private edit(conn: ClientConnection, groupName: string, messageId: number, text: string): Outcome<'edit'> {
    const group = this.memberGroup(conn, groupName);
    this.ownLast(conn, group, messageId);
    const now = this.now();
    if (!this.store.editMessage(messageId, text, now)) throw new ChatError('INVALID_ARGUMENT', 'That message was deleted');
    return {
      reply: { group: group.name, messageId },
      after: () => this.fanOut(group, { type: 'edited', group: group.name, messageId, text, editedAt: now }, conn, true),
    };
  }

  private deleteMessage(conn: ClientConnection, groupName: string, messageId: number): Outcome<'delete'> {
    const group = this.memberGroup(conn, groupName);
    this.ownLast(conn, group, messageId);
    if (!this.store.deleteMessage(messageId, this.now())) throw new ChatError('INVALID_ARGUMENT', 'That message was deleted');
    return {
      reply: { group: group.name, messageId },
      after: () => this.fanOut(group, { type: 'deleted', group: group.name, messageId }, conn, true),
    };
  }

  /** Relays "typing" to the group's other online members; nothing is stored. */
  private typing(conn: ClientConnection, groupName: string): Outcome<'typing'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const now = this.now();
    const last = conn.typingAt.get(group.id) ?? -Infinity;
    if (now - last < TYPING_INTERVAL_MS) return { reply: {} };
    conn.typingAt.set(group.id, now);
    return {
      reply: {},
      after: () => {
        for (const member of this.store.members(group.id)) {
          if (member.userId !== me.userId) this.pushToUser(member.userId, { type: 'typing', group: group.name, user: me.userName }, conn);
        }
      },
    };
  }

  private who(conn: ClientConnection, groupName: string): Outcome<'who'> {
    const group = this.memberGroup(conn, groupName);
    const members = this.store.members(group.id).map((m) => ({ user: m.name, online: (this.online.get(m.userId)?.size ?? 0) > 0 }));
    return { reply: { group: group.name, members } };
  }

  private received(conn: ClientConnection, groupName: string, upTo: number): Outcome<'received'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const key = `${conn.label}:${group.id}`;
    const due = this.receiptsDue.get(key);
    if (due) due.upTo = Math.max(due.upTo, upTo);
    else this.receiptsDue.set(key, { conn, group, userId: me.userId, upTo });
    this.receiptTimer ??= setImmediate(() => this.flushReceipts());
    return { reply: {} };
  }

  /** Writes this turn's receipts at once, then continues backlogs and queues traces. */
  private flushReceipts(): void {
    this.receiptTimer = null;
    const due = [...this.receiptsDue.values()];
    this.receiptsDue.clear();
    let ranges: { from: number; to: number }[];
    try {
      ranges = this.store.markDeliveredMany(due.map((d) => ({ groupId: d.group.id, userId: d.userId, upTo: d.upTo })));
    } catch (err) {
      // Lost marks only mean messages are pushed again later (clients drop what they showed).
      this.log('error', { request: 'received', error: err instanceof Error ? err.message : String(err) });
      return;
    }
    due.forEach((d, i) => {
      const range = ranges[i] ?? { from: 0, to: 0 };
      const lastSent = d.conn.catchingUp.get(d.group.id);
      if (lastSent !== undefined && d.upTo >= lastSent && d.conn.session?.userId === d.userId) this.sendBacklogBatch(d.conn, d.group.id, lastSent);
      if (range.to > range.from) this.queueTraces(d.group, d.userId, range.from, range.to);
    });
  }

  /** The member has shown messages up to `upTo`: unread counts drop, senders see "seen by". */
  private read(conn: ClientConnection, groupName: string, upTo: number): Outcome<'read'> {
    const me = this.me(conn);
    const group = this.memberGroup(conn, groupName);
    const range = this.store.markRead(group.id, me.userId, upTo);
    return { reply: {}, after: () => range.to > range.from && this.queueTraces(group, me.userId, range.from, range.to) };
  }

  // ---- delivery ----

  /** A group the connection's user belongs to; NOT_FOUND whether it is missing or not theirs. */
  private memberGroup(conn: ClientConnection, name: string): GroupRef {
    const group = this.store.findGroupForMember(name, this.me(conn).userId);
    // The name is the caller's own: repeating it reveals nothing, and says which one was meant.
    if (!group) throw new ChatError('NOT_FOUND', `No such group: ${name}`);
    return group;
  }

  private groupSummaries(userId: number): GroupSummary[] {
    return this.store.groupsOf(userId).map((g) => ({ name: g.name, unread: g.unread, members: g.members }));
  }

  /**
   * Pushes an event to every online member's connections except the sender's own. A connection
   * still catching up gets a new message from the store, in order, later; edits and deletions
   * (`evenCatchingUp`) go at once, since the backlog reads the current text anyway.
   */
  private fanOut(group: GroupRef, event: ServerMessage, except: ClientConnection, evenCatchingUp = false): void {
    // Serialised (and so encoded) once for the whole group, not once per member.
    const data = Buffer.from(JSON.stringify(event), 'utf8');
    for (const member of this.store.members(group.id)) {
      for (const conn of this.online.get(member.userId) ?? []) {
        if (conn !== except && (evenCatchingUp || !conn.catchingUp.has(group.id))) conn.sendEncoded(data);
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

  /** Queues traces for the senders of messages in (from, to] of a group, whose marks `receiverId` raised. */
  private queueTraces(group: GroupRef, receiverId: number, from: number, to: number): void {
    const due = this.tracesDue.get(group.id);
    if (due) {
      due.from = Math.min(due.from, from);
      due.to = Math.max(due.to, to);
      due.receivers.add(receiverId);
    } else {
      this.tracesDue.set(group.id, { group, from, to, receivers: new Set([receiverId]) });
    }
    if (!this.traceTimer) {
      this.traceTimer = this.traceDelayMs > 0 ? setTimeout(() => this.flushTraces(), this.traceDelayMs).unref() : setImmediate(() => this.flushTraces());
    }
  }

  /** Tells each online sender how many members have received and read their message now. */
  private flushTraces(): void {
    this.traceTimer = null;
    const due = [...this.tracesDue.values()];
    this.tracesDue.clear();
    for (const { group, from, to, receivers } of due) {
      for (const target of this.store.traceTargets(group.id, from, to, -1, MAX_TRACES_PER_RECEIPT)) {
        const senders = this.online.get(target.senderId);
        if (!senders || senders.size === 0) continue;
        // Only marks raised by someone else move the sender's counts.
        if (receivers.size === 1 && receivers.has(target.senderId)) continue;
        const counts = this.store.receiptCounts(group.id, target.messageId, target.senderId);
        const trace: ServerMessage = {
          type: 'trace',
          group: group.name,
          messageId: target.messageId,
          clientMsgId: target.clientMsgId,
          delivered: counts.delivered,
          read: counts.read,
          recipients: target.recipients,
        };
        for (const conn of senders) conn.send(trace);
      }
    }
  }
}

function publicMessage(m: ChatMessage): ChatMessage {
  const out: ChatMessage = { group: m.group, messageId: m.messageId, from: m.from, text: m.text, sentAt: m.sentAt, kind: m.kind };
  if (m.editedAt !== undefined) out.editedAt = m.editedAt;
  if (m.deleted) out.deleted = true;
  return out;
}

function errorReply(id: Request['id'] | null, err: ChatError): ServerMessage {
  return err.retryAfterMs === undefined
    ? { type: 'error', id, code: err.code, message: err.message }
    : { type: 'error', id, code: err.code, message: err.message, retryAfterMs: err.retryAfterMs };
}
