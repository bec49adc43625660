/**
 * The chat client's engine, without any terminal: requests with ids and their replies, live
 * messages (each shown once, even across reconnects), receipts that drive the sender's delivery
 * trace, and automatic reconnect + session resume. The terminal UI (terminal.ts), the tests and
 * the load benchmark all drive this class.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../protocol/codes.js';
import { LIMITS } from '../protocol/limits.js';
import type { ChatMessage, MessageKind, ReplyData, RequestBody, RequestType, ServerEvent, ServerMessage } from '../protocol/messages.js';
import { isPlainObject, parseSafeJson } from '../protocol/safe-json.js';
import type { Link, Transport } from '../transport/transport.js';

/** Codes of the client itself, beside the server's. */
export type ClientErrorCode = ErrorCode | 'DISCONNECTED' | 'NOT_CONNECTED' | 'TIMEOUT';

export class ChatRequestError extends Error {
  constructor(readonly code: ClientErrorCode, message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'ChatRequestError';
  }
}

export interface TraceEvent {
  group: string;
  messageId: number;
  clientMsgId: string;
  delivered: number;
  read: number;
  recipients: number;
}

/** What `/status` shows about the link. */
export interface LinkStatus {
  host: string;
  port: number;
  connected: boolean;
  /** Smoothed round-trip time, ms (undefined when the transport has no statistics). */
  rttMs?: number;
  /** Packets declared lost / packets sent, since the connection began. */
  lossRate?: number;
  /** Requests sent and not answered yet. */
  pending: number;
}

export interface ChatClientEvents {
  message: [ChatMessage];
  trace: [TraceEvent];
  invited: [{ group: string; by: string }];
  joined: [{ group: string; user: string }];
  edited: [{ group: string; messageId: number; text: string; editedAt: number }];
  deleted: [{ group: string; messageId: number }];
  typing: [{ group: string; user: string }];
  /** The link dropped; `willReconnect` says whether the client is trying again. */
  disconnected: [{ reason: string; willReconnect: boolean }];
  /**
   * Reconnected; `user` is set when the session was resumed. `server` is the node now in use
   * (`host:port`), `switched` says whether it is another one than before (failover).
   */
  reconnected: [{ user: string | null; server: string; switched: boolean }];
  /** The session could not be resumed after a reconnect (expired or revoked). */
  sessionLost: [];
  /** Reconnecting failed (why, in words); the next request tries again. */
  reconnectFailed: [reason: string];
}

export interface ServerAddress {
  host: string;
  port: number;
}

export interface ChatClientOptions {
  transport: Transport;
  host?: string;
  port?: number;
  /**
   * Several nodes of one deployment (sharing a PostgreSQL database), tried in order; when the
   * link to one drops, the client reconnects to the next and resumes its session there.
   * Default: just `host`:`port`.
   */
  servers?: readonly ServerAddress[];
  /** Reconnect (and resume the session) when the link drops. Default true. */
  reconnect?: boolean;
  /** Give up reconnecting after this many failed attempts in a row. Default 20. */
  maxReconnectAttempts?: number;
  /**
   * Send a `ping` after this long without sending anything, ms (0: never); after 2 s already
   * while a reply is awaited. Default 5,000.
   */
  heartbeatMs?: number;
  /**
   * A request without an answer for this long fails with TIMEOUT, ms (0: never). No command
   * waits forever, whatever the server does. Default 30,000.
   */
  requestTimeoutMs?: number;
  /**
   * Receipts ("received up to id N") go at most this often, ms: the first one after a quiet
   * spell at once (at the end of the turn), later ones at the end of the interval, one per
   * group covering everything shown meanwhile; RECEIPT_AT_ONCE messages waiting (a backlog
   * batch) send it at once. 0: at the end of every turn. Default 100.
   */
  receiptIntervalMs?: number;
}

/** This many messages shown and not yet acknowledged send the receipt at once (a backlog batch is waiting on it). */
export const RECEIPT_AT_ONCE = 16;

interface Pending {
  body: RequestBody;
  resolve: (data: unknown) => void;
  reject: (err: ChatRequestError) => void;
  /** When the request was first sent (Date.now()), for the request timeout. */
  since: number;
}

/** Requests safe to send again after a reconnect (a `send` is deduplicated by its clientMsgId). */
const RETRYABLE: ReadonlySet<RequestType> = new Set(['send', 'history', 'who', 'listGroups', 'received', 'read']);

export class ChatClient extends EventEmitter<ChatClientEvents> {
  user: string | null = null;
  /** Pushed messages ignored because they had been shown already (a backlog resent after a reconnect). */
  duplicatesDropped = 0;
  /** Chat messages (requests, notices) this client has sent, and server messages it received. */
  messagesSent = 0;
  messagesReceived = 0;
  private token: string | null = null;
  private link: Link | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Highest message id shown per group: pushes are in id order, so this deduplicates them. */
  private readonly lastSeen = new Map<string, number>();
  private readonly receiptsDue = new Set<string>();
  /** Messages shown since the last receipts went. */
  private receiptsWaiting = 0;
  /** When the last receipts went (performance.now(); -Infinity: never). */
  private receiptsSentAt = -Infinity;
  private receiptTimer: NodeJS.Immediate | null = null;
  private receiptDelay: NodeJS.Timeout | null = null;
  private readonly receiptIntervalMs: number;
  private readonly deferred: (() => void)[] = [];
  private deferredTimer: NodeJS.Immediate | null = null;
  private readonly msgIdPrefix = randomBytes(6).toString('base64url');
  private nextMsgId = 1;
  private closing = false;
  private everConnected = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastSentAt = 0;
  private reconnecting: Promise<void> | null = null;
  private readonly reconnect: boolean;
  private readonly maxReconnectAttempts: number;
  private readonly servers: readonly ServerAddress[];
  /** Index in `servers` of the node in use (or last used). */
  private serverIndex = 0;
  private readonly requestTimeoutMs: number;
  /** Set by a server `goodbye`: why the coming close happens. */
  private goodbye: string | null = null;

  constructor(private readonly options: ChatClientOptions) {
    super();
    this.servers = options.servers?.length ? [...options.servers] : [{ host: options.host ?? '127.0.0.1', port: options.port ?? 7777 }];
    this.reconnect = options.reconnect ?? true;
    this.maxReconnectAttempts = options.maxReconnectAttempts ?? 20;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.receiptIntervalMs = options.receiptIntervalMs ?? 100;
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    if (heartbeatMs > 0 || this.requestTimeoutMs > 0) {
      this.heartbeat = setInterval(() => {
        if (heartbeatMs > 0) this.beat(heartbeatMs);
        this.expireRequests();
      }, Math.min(1_000, heartbeatMs || 1_000));
      this.heartbeat.unref();
    }
  }

  /** Fails requests that waited longer than the request timeout (while connected). */
  private expireRequests(): void {
    if (this.requestTimeoutMs <= 0 || !this.link) return;
    const before = Date.now() - this.requestTimeoutMs;
    this.failPending('TIMEOUT', `No answer from the server in ${Math.round(this.requestTimeoutMs / 1000)} s`, (p) => p.since < before);
  }

  /** Server, round-trip time and loss rate, for `/status`. */
  status(): LinkStatus {
    const node = this.servers[this.serverIndex] ?? this.servers[0] ?? { host: '', port: 0 };
    const status: LinkStatus = { host: node.host, port: node.port, connected: this.link !== null, pending: this.pending.size };
    const stats = this.link?.stats?.();
    if (stats) {
      status.rttMs = stats.rttMs;
      status.lossRate = stats.packetsSent > 0 ? stats.packetsLost / stats.packetsSent : 0;
    }
    return status;
  }

  /**
   * A quiet client still sends a small request now and then. If the server restarted, that
   * request meets the new server, which answers with a stateless reset: the client learns at
   * once, reconnects and catches up, instead of waiting out the transport's idle timeout (the
   * transport's own keepalives are too small to draw a reset).
   */
  private beat(heartbeatMs: number): void {
    const link = this.link;
    // Waiting for a reply is a reason to check sooner: the server may be gone.
    const quietFor = this.pending.size > 0 ? Math.min(2_000, heartbeatMs) : heartbeatMs;
    if (!link || this.reconnecting || Date.now() - this.lastSentAt < quietFor) return;
    const id = this.nextId++;
    this.pending.set(id, { body: { type: 'ping' }, resolve: () => {}, reject: () => {}, since: Date.now() });
    this.transmit(link, id, { type: 'ping' });
  }

  get connected(): boolean {
    return this.link !== null;
  }

  /** The node in use (or last used), as `host:port`. */
  get server(): string {
    const s = this.servers[this.serverIndex] ?? this.servers[0];
    return s ? `${s.host}:${s.port}` : '';
  }

  /** Connects to the first node that answers, in the order given (the first failure is thrown when none does). */
  async connect(): Promise<void> {
    let firstError: unknown;
    for (let i = 0; i < this.servers.length; i++) {
      const index = (this.serverIndex + i) % this.servers.length;
      const s = this.servers[index];
      if (!s) continue;
      try {
        const link = await this.options.transport.connect(s.host, s.port);
        this.serverIndex = index;
        this.attach(link);
        return;
      } catch (err) {
        firstError ??= err;
      }
    }
    throw firstError;
  }

  // ---- requests ----

  register(user: string, password: string): Promise<ReplyData['register']> {
    return this.request({ type: 'register', user, password });
  }

  async login(user: string, password: string): Promise<ReplyData['login']> {
    const reply = await this.request({ type: 'login', user, password });
    this.user = reply.user;
    this.token = reply.token;
    return reply;
  }

  /** Logs in again with a token from an earlier login (also done automatically on reconnect). */
  async resume(token: string): Promise<ReplyData['resume']> {
    const reply = await this.request({ type: 'resume', token });
    this.user = reply.user;
    this.token = token;
    return reply;
  }

  async logout(): Promise<void> {
    await this.request({ type: 'logout' });
    this.user = null;
    this.token = null;
  }

  /** The current session token (to resume it elsewhere, as the tests do). */
  get sessionToken(): string | null {
    return this.token;
  }

  createGroup(group: string, members: string[]): Promise<ReplyData['createGroup']> {
    return this.request({ type: 'createGroup', group, members });
  }

  /** Invites a user (the same answer whether or not the user exists). */
  invite(group: string, user: string): Promise<ReplyData['invite']> {
    return this.request({ type: 'invite', group, user });
  }

  invitations(): Promise<ReplyData['invitations']> {
    return this.request({ type: 'invitations' });
  }

  accept(group: string): Promise<ReplyData['accept']> {
    return this.request({ type: 'accept', group });
  }

  decline(group: string): Promise<ReplyData['decline']> {
    return this.request({ type: 'decline', group });
  }

  edit(group: string, messageId: number, text: string): Promise<ReplyData['edit']> {
    return this.request({ type: 'edit', group, messageId, text });
  }

  deleteMessage(group: string, messageId: number): Promise<ReplyData['delete']> {
    return this.request({ type: 'delete', group, messageId });
  }

  /** Tells the group's other members that this user is typing (the server rate-limits it). */
  typing(group: string): Promise<ReplyData['typing']> {
    return this.request({ type: 'typing', group });
  }

  leaveGroup(group: string): Promise<ReplyData['leaveGroup']> {
    return this.request({ type: 'leaveGroup', group });
  }

  listGroups(): Promise<ReplyData['listGroups']> {
    return this.request({ type: 'listGroups' });
  }

  /** Sends a message; resolves once the server has stored it. Retried on reconnect, stored once. */
  send(group: string, text: string, clientMsgId = this.newClientMsgId(), kind: MessageKind = 'text'): Promise<ReplyData['send']> {
    return this.request({ type: 'send', group, clientMsgId, text, kind });
  }

  history(group: string, limit?: number, before?: number): Promise<ReplyData['history']> {
    return this.request({ type: 'history', group, limit: limit ?? 20, before: before ?? null });
  }

  who(group: string): Promise<ReplyData['who']> {
    return this.request({ type: 'who', group });
  }

  markRead(group: string, upTo: number): Promise<ReplyData['read']> {
    return this.request({ type: 'read', group, upTo });
  }

  newClientMsgId(): string {
    return `${this.msgIdPrefix}-${this.nextMsgId++}`;
  }

  /** Sends any request; resolves with the `ok` reply's data, rejects with its error code. */
  async request<T extends RequestType>(body: Extract<RequestBody, { type: T }>): Promise<ReplyData[T]> {
    if (this.reconnecting) await this.reconnecting;
    // Reconnecting gave up earlier (server down for long): a new request is a reason to try again.
    if (!this.link && !this.closing && this.reconnect && this.everConnected) {
      this.reconnecting = this.reconnectLoop(1).finally(() => {
        this.reconnecting = null;
      });
      await this.reconnecting;
    }
    const link = this.link;
    if (!link) throw new ChatRequestError('NOT_CONNECTED', 'Not connected to the server');
    const id = this.nextId++;
    const data = encodeRequest(id, body);
    // Checked here, so that an oversized request fails at once instead of waiting for a reply.
    if (data.byteLength > LIMITS.maxRequestBytes) {
      throw new ChatRequestError('TOO_LARGE', `Requests are limited to ${LIMITS.maxRequestBytes} bytes (this one is ${data.byteLength})`);
    }
    return new Promise<ReplyData[T]>((resolve, reject) => {
      this.pending.set(id, { body, resolve: resolve as (data: unknown) => void, reject, since: Date.now() });
      this.send_(link, data);
    });
  }

  /**
   * Graceful close: receipts and pending requests are flushed by the transport first. A server
   * that is gone cannot acknowledge the close, so after `timeoutMs` the link is aborted instead.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    this.closing = true;
    this.stopHeartbeat();
    this.flushReceipts();
    const link = this.link;
    this.link = null;
    if (link) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const result = await Promise.race([link.close().catch(() => 'failed' as const), timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') link.destroy();
    }
    this.failPending('DISCONNECTED', 'Client closed', () => true);
  }

  /** Abortive close: the server learns at once, nothing queued is sent. */
  destroy(): void {
    this.closing = true;
    this.stopHeartbeat();
    const link = this.link;
    this.link = null;
    link?.destroy();
    this.failPending('DISCONNECTED', 'Client closed', () => true);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  // ---- link handling ----

  private transmit(link: Link, id: number, body: RequestBody): void {
    this.send_(link, encodeRequest(id, body));
  }

  /** Sends a receipt or typing notice: no id, so the server sends no reply. */
  notice(body: Extract<RequestBody, { type: 'received' | 'read' | 'typing' }>): void {
    if (this.link) this.sendNotice(this.link, body);
  }

  private sendNotice(link: Link, body: RequestBody): void {
    this.send_(link, Buffer.from(JSON.stringify(body), 'utf8'));
  }

  private send_(link: Link, data: Uint8Array): void {
    this.lastSentAt = Date.now();
    this.messagesSent++;
    try {
      link.send(data);
    } catch {
      // The link is going away; onClose retries or fails this request.
    }
  }

  private attach(link: Link): void {
    this.link = link;
    this.everConnected = true;
    link.onMessage((data) => this.onData(data));
    link.onClose((err) => this.onLinkClosed(link, err));
  }

  private onData(data: Uint8Array): void {
    this.messagesReceived++;
    let message: unknown;
    try {
      message = parseSafeJson(Buffer.from(data).toString('utf8'));
    } catch {
      return; // a broken server message is ignored, never fatal
    }
    if (!isPlainObject(message) || typeof message['type'] !== 'string') return;
    this.onServerMessage(message as unknown as ServerMessage);
  }

  private onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'ok':
      case 'error': {
        const id = typeof message.id === 'number' ? message.id : -1;
        const pending = this.pending.get(id);
        if (!pending) return;
        this.pending.delete(id);
        if (message.type === 'ok') {
          const { type: _type, id: _id, ...data } = message;
          pending.resolve(data);
        } else {
          pending.reject(new ChatRequestError(message.code, message.message, message.retryAfterMs));
        }
        return;
      }
      case 'message':
        this.onChatMessage(message);
        return;
      case 'trace': {
        const trace: TraceEvent = {
          group: message.group,
          messageId: message.messageId,
          clientMsgId: message.clientMsgId,
          delivered: message.delivered,
          read: typeof message.read === 'number' ? message.read : 0,
          recipients: message.recipients,
        };
        this.deferEvent(() => this.emit('trace', trace));
        return;
      }
      case 'invited': {
        const e = { group: message.group, by: message.by };
        this.deferEvent(() => this.emit('invited', e));
        return;
      }
      case 'joined': {
        const e = { group: message.group, user: message.user };
        this.deferEvent(() => this.emit('joined', e));
        return;
      }
      case 'edited': {
        const e = { group: message.group, messageId: message.messageId, text: message.text, editedAt: message.editedAt };
        this.deferEvent(() => this.emit('edited', e));
        return;
      }
      case 'deleted': {
        const e = { group: message.group, messageId: message.messageId };
        this.deferEvent(() => this.emit('deleted', e));
        return;
      }
      case 'typing': {
        const e = { group: message.group, user: message.user };
        this.deferEvent(() => this.emit('typing', e));
        return;
      }
      case 'goodbye':
        this.goodbye = typeof message.reason === 'string' ? message.reason.slice(0, 64) : 'closing';
        return;
    }
  }

  /**
   * Events are emitted after the current turn of the event loop, in arrival order. A reply and
   * the pushes it causes often arrive together; this way whoever awaits the reply (say, to print
   * "logged in") runs before the pushes (the backlog) are shown.
   */
  private deferEvent(emit: () => void): void {
    this.deferred.push(emit);
    this.deferredTimer ??= setImmediate(() => {
      this.deferredTimer = null;
      const batch = this.deferred.splice(0);
      for (const fn of batch) fn();
    });
  }

  private onChatMessage(event: Extract<ServerEvent, { type: 'message' }>): void {
    const seen = this.lastSeen.get(event.group) ?? 0;
    if (event.messageId <= seen) {
      this.duplicatesDropped++; // already shown (a backlog resent after a reconnect)
      // Still acknowledged: the server sends the next backlog batch only once this one is
      // (a batch made only of messages shown before a failover would otherwise stall it).
      this.receiptDue(event.group);
      return;
    }
    this.lastSeen.set(event.group, event.messageId);
    const message: ChatMessage = { group: event.group, messageId: event.messageId, from: event.from, text: event.text, sentAt: event.sentAt, kind: event.kind === 'me' ? 'me' : 'text' };
    if (typeof event.editedAt === 'number') message.editedAt = event.editedAt;
    if (event.deleted) message.deleted = true;
    this.deferEvent(() => this.emit('message', message));
    this.receiptDue(event.group);
  }

  /**
   * A message of `group` was shown (or dropped as shown before): its receipt is due. One receipt
   * per group per turn of the event loop at most, however many messages arrived, and under a
   * steady stream at most one per `receiptIntervalMs`: under fan-out, receipts are most of what
   * clients send and the server handles (bench/history.md, "Where the chat's slow deliveries
   * wait"), and a delivery trace 100 ms later tells the sender the same.
   */
  private receiptDue(group: string): void {
    this.receiptsDue.add(group);
    this.receiptsWaiting++;
    if (this.receiptTimer) return;
    const wait = this.receiptsSentAt + this.receiptIntervalMs - performance.now();
    if (wait <= 0 || this.receiptsWaiting >= RECEIPT_AT_ONCE) {
      this.receiptTimer = setImmediate(() => this.flushReceipts());
      return;
    }
    this.receiptDelay ??= setTimeout(() => this.flushReceipts(), wait);
  }

  private flushReceipts(): void {
    if (this.receiptTimer) clearImmediate(this.receiptTimer);
    if (this.receiptDelay) clearTimeout(this.receiptDelay);
    this.receiptTimer = null;
    this.receiptDelay = null;
    this.receiptsWaiting = 0;
    this.receiptsSentAt = performance.now();
    const link = this.link;
    if (!link) return;
    for (const group of this.receiptsDue) {
      const upTo = this.lastSeen.get(group) ?? 0;
      // A notice (no id, no reply): a lost receipt only delays a trace; after a reconnect the
      // backlog resends what it covered and it is acknowledged again.
      this.sendNotice(link, { type: 'received', group, upTo });
    }
    this.receiptsDue.clear();
  }

  private onLinkClosed(link: Link, err?: Error): void {
    if (this.link !== link) return;
    this.link = null;
    const goodbye = this.goodbye;
    this.goodbye = null;
    const reason = goodbye !== null ? `server ${goodbye}` : (err as { code?: string } | undefined)?.code ?? (err ? err.message : 'closed by server');
    const willReconnect = this.reconnect && !this.closing;
    this.emit('disconnected', { reason, willReconnect });
    if (!willReconnect) {
      this.failPending('DISCONNECTED', `Disconnected (${reason})`, () => true);
      return;
    }
    this.failPending('DISCONNECTED', `Disconnected (${reason}); not retried`, (p) => !RETRYABLE.has(p.body.type));
    this.reconnecting = this.reconnectLoop().finally(() => {
      this.reconnecting = null;
    });
  }

  private async reconnectLoop(attempts = this.maxReconnectAttempts): Promise<void> {
    let delay = 100;
    let lastError = 'no answer';
    const previous = this.serverIndex;
    const several = this.servers.length > 1;
    for (let attempt = 1; attempt <= attempts && !this.closing; attempt++) {
      // With several nodes, start with the next one: the one just lost is likely down.
      const index = (previous + (several ? attempt : 0)) % this.servers.length;
      const target = this.servers[index] ?? { host: '127.0.0.1', port: 0 };
      let link: Link;
      try {
        link = await this.options.transport.connect(target.host, target.port);
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        // A server presenting another key is not a network problem: do not keep knocking (with
        // several nodes, the others may still be fine).
        if ((err as { code?: unknown }).code === 'ERR_SERVER_KEY_MISMATCH' && !several) break;
        // One round over every node without success: back off before the next round.
        if (!several || attempt % this.servers.length === 0) {
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5_000);
        }
        continue;
      }
      this.serverIndex = index;
      this.attach(link);
      if (this.token) {
        const id = this.nextId++;
        const resumed = await new Promise<boolean>((resolve) => {
          this.pending.set(id, { body: { type: 'resume', token: this.token ?? '' }, resolve: () => resolve(true), reject: () => resolve(false), since: Date.now() });
          this.transmit(link, id, { type: 'resume', token: this.token ?? '' });
        });
        if (!resumed) {
          this.user = null;
          this.token = null;
          this.emit('sessionLost');
        }
      }
      // Requests that were in flight go again, in their original order, with their original ids.
      for (const [id, p] of [...this.pending].sort((a, b) => a[0] - b[0])) this.transmit(link, id, p.body);
      this.emit('reconnected', { user: this.user, server: this.server, switched: index !== previous });
      return;
    }
    if (this.closing) return;
    this.failPending('DISCONNECTED', `Could not reconnect to the server (${lastError})`, () => true);
    this.emit('reconnectFailed', lastError);
  }

  private failPending(code: ClientErrorCode, message: string, which: (p: Pending) => boolean): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(id);
      p.reject(new ChatRequestError(code, message));
    }
  }
}

/** `id` goes first, so that a server can answer even a request too large to parse with its id. */
function encodeRequest(id: number, body: RequestBody): Buffer {
  return Buffer.from(JSON.stringify({ id, ...body }), 'utf8');
}
