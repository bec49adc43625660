/**
 * The chat server's logic: validates each request, applies it to the store, replies, and pushes
 * messages, traces and backlog to online members. It knows links only through the Transport
 * interface, so unit tests drive it in memory and production runs it on reliable-dgram.
 *
 * Ordering rule: on one connection, requests are handled one at a time in arrival order, and a
 * reply is sent before any push the request causes. A `send` is replied to only after the store
 * committed it. Everything goes on the link's `live` lane except `history` pages, which go on the
 * `bulk` lane (lower priority, its own order): a later reply or push may overtake a page.
 *
 * Pushes (messages, traces, invitations, joins, edits, typing) are made from the store's events,
 * never straight from the request that caused them: with several nodes on one PostgreSQL
 * database, the event comes to every node (this one included) once the transaction committed,
 * in commit order, and each node pushes to its own connections. Per group, message ids increase
 * in commit order, so pushes to one connection are always in id order.
 */
import { ChatError } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { ChatMessage, GroupSummary, MessageKind, OkReply, Request, RequestType, ReplyData, ServerMessage } from '../protocol/messages.js';
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
  /** How long traces wait to be coalesced, ms (0: until the end of this turn). Default 20. */
  traceDelayMs?: number;
}

type Outcome<T extends RequestType> = { reply: ReplyData[T]; after?: () => void };

/** Requests allowed before logging in. */
const PUBLIC_TYPES: ReadonlySet<RequestType> = new Set(['register', 'login', 'resume', 'ping']);
/** Requests whose `ok` reply goes on the bulk lane (PROTOCOL.md, "Channels"). */
const BULK_REPLIES: ReadonlySet<RequestType> = new Set(['history']);
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
    this.nodeId = options.store.nodeId;
    this.hasher = options.hasher;
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? 8 * 3_600_000;
    this.loginThrottle = options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE;
    this.registerThrottle = options.registerThrottle ?? { burst: 10, refillMs: 60_000 };
    this.requestThrottle = new TokenBuckets(options.requestThrottle ?? { burst: 1000, refillMs: 2 });
    this.traceDelayMs = options.traceDelayMs ?? TRACE_DELAY_MS;
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
    // A history page is the one large reply: it goes on the bulk lane, so that live messages
    // and other replies are not held behind it (the client matches replies by id, in any order).
    if (!notice) conn.send({ type: 'ok', id: request.id, ...outcome.reply } as OkReply, BULK_REPLIES.has(request.type) ? 'bulk' : 'live');
    try {
      outcome.after?.();
    } catch (err) {
      // Pushes after a committed request: the client catches up from the store later.
      this.logError(conn, request, err);
    }
  }

  /** For work started after a reply (backlog reads, relays): a failure is logged, the client catches up later. */
  private background(conn: ClientConnection | null, what: string, work: Promise<void>): void {
    work.catch((err: unknown) => this.log('error', { conn: conn?.label, request: what, error: err instanceof Error ? err.message : String(err) }));
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
      case 'invite':
        return this.invite(conn, request.group, request.user);
      case 'invitations':
        return { reply: { invitations: await this.store.invitationsOf(this.me(conn).userId) } };
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
        return { reply: { groups: summaries(await this.store.groupsOf(this.me(conn).userId)) } };
      case 'send':
        return this.sendMessage(conn, request.group, request.clientMsgId, request.text, request.kind);
      case 'history': {
        const group = await this.memberGroup(conn, request.group);
        const page = await this.store.history(group.id, request.before, request.limit);
        return { reply: { group: group.name, ...fitPage(page.messages.map(publicMessage), page.more) } };
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
    // The attempt is reserved (counted as a failure, a token taken from both buckets in one
    // transaction) before the password is checked: concurrent guesses on many connections, on
    // this node or any other sharing the database, all meet the same buckets, so no more than
    // the burst is ever verified. A success gives the reservation back.
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

  /**
   * Creates a group with the caller as its only member and invites the named users: nobody is
   * made a member without accepting. The reply is the same whether or not a named user exists
   * (`invited` lists the names as given), so it reveals nothing about who is registered.
   */
  private async createGroup(conn: ClientConnection, name: string, memberNames: string[]): Promise<Outcome<'createGroup'>> {
    const me = this.me(conn);
    const others = [...new Map(memberNames.filter((n) => n.toLowerCase() !== me.userName.toLowerCase()).map((n) => [n.toLowerCase(), n])).values()];
    if (others.length === 0) throw new ChatError('INVALID_ARGUMENT', 'Name at least one other member');
    if ((await this.store.groupCountOf(me.userId)) >= LIMITS.maxGroupsPerUser) {
      throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
    }
    // Publishes `added` (the creator's connections, on every node, now receive the group) ...
    const group = await this.store.createGroup(name, me.userId, [me.userId], this.now(), me.userName, this.origin(conn));
    const invitees = (await Promise.all(others.map((n) => this.store.findUser(n)))).filter((u) => u !== undefined);
    // ... and `invited` for each invitee, on whichever node they are.
    for (const user of invitees) await this.store.invite(group, user.id, me.userId, me.userName, this.now(), this.origin(conn));
    this.log('group created', { group: group.name, by: me.userName, invited: others.length });
    return { reply: { group: group.name, members: [me.userName], invited: others.sort() } };
  }

  /**
   * Invites a user (`/invite`, `/add`). One answer for every case (unknown user, member already,
   * invited already, too many invitations): the invitee decides, the inviter learns nothing.
   */
  private async invite(conn: ClientConnection, groupName: string, userName: string): Promise<Outcome<'invite'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    const user = await this.store.findUser(userName);
    const fresh = user !== undefined && (await this.store.invite(group, user.id, me.userId, me.userName, this.now(), this.origin(conn)));
    if (fresh) this.log('invited', { group: group.name, user: user.name, by: me.userName });
    return { reply: { group: group.name, user: userName } };
  }

  private async acceptInvitation(conn: ClientConnection, groupName: string): Promise<Outcome<'accept'>> {
    const me = this.me(conn);
    if ((await this.store.groupCountOf(me.userId)) >= LIMITS.maxGroupsPerUser) {
      throw new ChatError('LIMIT_REACHED', `A user belongs to at most ${LIMITS.maxGroupsPerUser} groups`);
    }
    // Publishes `added` (joined): the members are told on every node.
    const group = await this.store.acceptInvitation(groupName, me.userId, me.userName, this.origin(conn));
    if (!group) throw new ChatError('NOT_FOUND', `No invitation to ${groupName}`);
    this.log('member joined', { group: group.name, user: me.userName });
    const members = await this.store.members(group.id);
    return { reply: { group: group.name, members: members.length } };
  }

  private async decline(conn: ClientConnection, groupName: string): Promise<Outcome<'decline'>> {
    const group = await this.store.declineInvitation(groupName, this.me(conn).userId);
    if (!group) throw new ChatError('NOT_FOUND', `No invitation to ${groupName}`);
    return { reply: { group: group.name } };
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

  private async sendMessage(conn: ClientConnection, groupName: string, clientMsgId: string, text: string, kind: MessageKind): Promise<Outcome<'send'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    // Committed when this resolves: only now may the sender be told "stored". The store's
    // `message` event does the pushing, on every node.
    const { message, duplicate } = await this.store.insertMessage(group.id, me.userId, clientMsgId, text, this.now(), kind, this.origin(conn));
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

  /** The caller's own newest message in the group, or INVALID_ARGUMENT. */
  private async ownLast(conn: ClientConnection, group: GroupRef, messageId: number): Promise<void> {
    if ((await this.store.lastMessageOf(group.id, this.me(conn).userId)) !== messageId) {
      throw new ChatError('INVALID_ARGUMENT', 'Only your last message in a group can be edited or deleted');
    }
  }

  private async edit(conn: ClientConnection, groupName: string, messageId: number, text: string): Promise<Outcome<'edit'>> {
    const group = await this.memberGroup(conn, groupName);
    await this.ownLast(conn, group, messageId);
    // Publishes `edited`, pushed to the members on every node.
    if (!(await this.store.editMessage(group, messageId, text, this.now(), this.origin(conn)))) throw new ChatError('INVALID_ARGUMENT', 'That message was deleted');
    return { reply: { group: group.name, messageId } };
  }

  private async deleteMessage(conn: ClientConnection, groupName: string, messageId: number): Promise<Outcome<'delete'>> {
    const group = await this.memberGroup(conn, groupName);
    await this.ownLast(conn, group, messageId);
    if (!(await this.store.deleteMessage(group, messageId, this.now(), this.origin(conn)))) throw new ChatError('INVALID_ARGUMENT', 'That message was deleted');
    return { reply: { group: group.name, messageId } };
  }

  /** Relays "typing" to the group's other online members, on every node; nothing is stored. */
  private async typing(conn: ClientConnection, groupName: string): Promise<Outcome<'typing'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    const now = this.now();
    const last = conn.typingAt.get(group.id) ?? -Infinity;
    if (now - last < TYPING_INTERVAL_MS) return { reply: {} };
    conn.typingAt.set(group.id, now);
    const event: StoreEvent = { kind: 'typing', groupId: group.id, group: group.name, userId: me.userId, user: me.userName, origin: this.origin(conn) };
    return { reply: {}, after: () => this.background(conn, 'typing', this.store.relay(event)) };
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
    const key = `${conn.label}:${group.id}`;
    const due = this.receiptsDue.get(key);
    if (due) due.upTo = Math.max(due.upTo, upTo);
    else this.receiptsDue.set(key, { conn, group, userId: me.userId, upTo });
    this.receiptTimer ??= setImmediate(() => this.background(null, 'received', this.flushReceipts()));
    return { reply: {} };
  }

  /** Writes this turn's receipts at once, then continues backlogs and queues traces. */
  private async flushReceipts(): Promise<void> {
    this.receiptTimer = null;
    const due = [...this.receiptsDue.values()];
    this.receiptsDue.clear();
    let ranges: { from: number; to: number }[];
    try {
      ranges = await this.store.markDeliveredMany(due.map((d) => ({ groupId: d.group.id, userId: d.userId, upTo: d.upTo })));
    } catch (err) {
      // Lost marks only mean messages are pushed again later (clients drop what they showed).
      this.log('error', { request: 'received', error: err instanceof Error ? err.message : String(err) });
      return;
    }
    due.forEach((d, i) => {
      const range = ranges[i] ?? { from: 0, to: 0 };
      const state = d.conn.catchingUp.get(d.group.id);
      if (state && !state.querying && d.upTo >= state.lastSent && d.conn.session?.userId === d.userId) {
        this.background(d.conn, 'backlog', this.sendBacklogBatch(d.conn, d.group.id));
      }
      if (range.to > range.from) this.queueTraces(d.group, d.userId, range.from, range.to);
    });
  }

  /** The member has shown messages up to `upTo`: unread counts drop, senders see "seen by". */
  private async read(conn: ClientConnection, groupName: string, upTo: number): Promise<Outcome<'read'>> {
    const me = this.me(conn);
    const group = await this.memberGroup(conn, groupName);
    const range = await this.store.markRead(group.id, me.userId, upTo);
    return { reply: {}, after: () => range.to > range.from && this.queueTraces(group, me.userId, range.from, range.to) };
  }

  // ---- delivery ----

  /** A group the connection's user belongs to; NOT_FOUND whether it is missing or not theirs. */
  private async memberGroup(conn: ClientConnection, name: string): Promise<GroupRef> {
    const known = conn.groupNames.get(name.toLowerCase());
    if (known) return known;
    const group = await this.store.findGroupForMember(name, this.me(conn).userId);
    // The name is the caller's own: repeating it reveals nothing, and says which one was meant.
    if (!group) throw new ChatError('NOT_FOUND', `No such group: ${name}`);
    return group;
  }

  /** Everything pushed to clients starts here: one committed store event, on every node. */
  private onStoreEvent(event: StoreEvent): void {
    switch (event.kind) {
      case 'message': {
        // Serialised (and so encoded) once for the whole group, not once per member.
        let data: Uint8Array | null = null;
        for (const conn of this.subscribers.get(event.groupId) ?? []) {
          if (this.origin(conn) === event.origin) continue; // the sender's own connection
          const state = conn.catchingUp.get(event.groupId);
          if (state) {
            // Still catching up: the backlog reads this message from the store, in order, later.
            state.dirty = true;
            continue;
          }
          data ??= Buffer.from(JSON.stringify({ type: 'message', ...publicMessage(event.message) } satisfies ServerMessage), 'utf8');
          this.pushMessage(conn, event.groupId, event.message.messageId, data);
        }
        return;
      }
      case 'traces':
        for (const t of event.traces) {
          const senders = this.online.get(t.senderId);
          if (!senders || senders.size === 0) continue;
          const trace: ServerMessage = { type: 'trace', group: event.group, messageId: t.messageId, clientMsgId: t.clientMsgId, delivered: t.delivered, read: t.read, recipients: t.recipients };
          for (const conn of senders) conn.send(trace);
        }
        return;
      case 'added': {
        for (const conn of this.online.get(event.userId) ?? []) this.subscribe(conn, { id: event.groupId, name: event.group });
        if (event.how !== 'joined') return;
        // The other members hear who joined (not the joiner, not the connection that asked).
        for (const conn of this.subscribers.get(event.groupId) ?? []) {
          if (conn.session?.userId !== event.userId && this.origin(conn) !== event.origin) conn.send({ type: 'joined', group: event.group, user: event.user });
        }
        return;
      }
      case 'left':
        for (const conn of this.online.get(event.userId) ?? []) this.unsubscribe(conn, event.groupId);
        return;
      case 'invited':
        for (const conn of this.online.get(event.userId) ?? []) if (this.origin(conn) !== event.origin) conn.send({ type: 'invited', group: event.group, by: event.by });
        return;
      case 'edited':
      case 'deleted': {
        // Edits and deletions go at once, even to a connection catching up: the backlog reads
        // the current text anyway.
        const push: ServerMessage =
          event.kind === 'edited'
            ? { type: 'edited', group: event.group, messageId: event.messageId, text: event.text, editedAt: event.editedAt }
            : { type: 'deleted', group: event.group, messageId: event.messageId };
        const data = Buffer.from(JSON.stringify(push), 'utf8');
        for (const conn of this.subscribers.get(event.groupId) ?? []) if (this.origin(conn) !== event.origin) conn.sendEncoded(data);
        return;
      }
      case 'typing':
        for (const conn of this.subscribers.get(event.groupId) ?? []) {
          if (conn.session?.userId !== event.userId) conn.send({ type: 'typing', group: event.group, user: event.user });
        }
        return;
      case 'revoked':
        for (const conn of this.connections) if (conn.session?.tokenHash.equals(event.tokenHash)) this.unbind(conn);
        return;
    }
  }

  /** Pushes a message unless one as new was pushed already (a backlog and a live push can overlap). */
  private pushMessage(conn: ClientConnection, groupId: number, messageId: number, data: Uint8Array): void {
    if (messageId <= (conn.lastPushed.get(groupId) ?? 0)) return;
    conn.lastPushed.set(groupId, messageId);
    conn.sendEncoded(data);
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
        for (const message of batch) this.pushMessage(conn, groupId, message.messageId, Buffer.from(JSON.stringify({ type: 'message', ...publicMessage(message) } satisfies ServerMessage), 'utf8'));
        return;
      }
      if (!state.dirty) {
        conn.catchingUp.delete(groupId);
        return;
      }
    }
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

  /**
   * Has the store publish each due group's traces (counts read now): the `traces` events tell
   * each sender, on whichever node, how many members have received and read their message.
   */
  private flushTraces(): void {
    this.traceTimer = null;
    const due = [...this.tracesDue.values()];
    this.tracesDue.clear();
    for (const { group, from, to, receivers } of due) {
      this.background(null, 'traces', this.store.publishTraces(group, from, to, [...receivers], MAX_TRACES_PER_RECEIPT));
    }
  }
}

function summaries(groups: readonly GroupWithMarks[]): GroupSummary[] {
  return groups.map((g) => ({ name: g.name, unread: g.unread, members: g.members }));
}

/**
 * A page within LIMITS.maxHistoryReplyBytes: the oldest messages go first (the page stays the
 * newest ones before `before`, and `more` sends the client on paging from its oldest id).
 */
function fitPage(messages: ChatMessage[], more: boolean): { messages: ChatMessage[]; more: boolean } {
  const sizes = messages.map((m) => Buffer.byteLength(JSON.stringify(m), 'utf8') + 1);
  let total = sizes.reduce((a, b) => a + b, 0);
  let first = 0;
  while (first < messages.length - 1 && total > LIMITS.maxHistoryReplyBytes) total -= sizes[first++]!;
  return first === 0 ? { messages, more } : { messages: messages.slice(first), more: true };
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
