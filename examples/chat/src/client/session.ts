/**
 * What the user sees: runs each parsed command against the ChatClient and prints one line per
 * result, one line per error, and the live events (incoming messages, delivery and read traces,
 * invitations, edits). No terminal code here: output goes through `print`, and passwords are
 * asked through `ask`, so tests capture both.
 *
 * Sends are pipelined: a `/send` (or a plain line, or `/me`) returns as soon as its request is
 * on its way, and its "stored" line is printed when the reply comes. Twenty pasted lines cost one
 * round trip, not twenty. Other commands wait for the sends before them, so what they print
 * comes after their results.
 */
import { LIMITS } from '../protocol/limits.js';
import type { MessageKind } from '../protocol/messages.js';
import { ChatRequestError, type ChatClient } from './chat-client.js';
import { BARE_COMMAND_WORDS, COMMAND_WORDS, parseLine, USAGE, type Command } from './commands.js';
import { Formatter, clean, plain } from './format.js';

export interface SessionOptions {
  format?: Formatter;
  /** Asks the user for a line (the password, without echo); null at end of input. */
  ask?: (prompt: string) => Promise<string | null>;
  /** The server key's fingerprint, for /status. */
  serverKey?: () => string | undefined;
  /** The prompt changed (typing indicator, open group): redraw it. */
  onPromptChange?: () => void;
  /** How long a "typing" notice is shown, ms. Default 5,000. */
  typingShownMs?: number;
}

/** Sends in flight before a new one waits for the oldest (bounds memory on a huge paste). */
const MAX_INFLIGHT = 64;
/** At most one typing notice per group this often. */
const TYPING_EVERY_MS = 3_000;

export class ChatSession {
  /** The group plain lines go to, set by /open. */
  openGroup: string | null = null;
  /** Highest delivered / read count printed per message id, so a trace line never repeats or goes back. */
  private readonly traced = new Map<number, { delivered: number; read: number }>();
  private readonly f: Formatter;
  private readonly inflight = new Set<Promise<void>>();
  /** The last message this session stored, for /edit and /delete. */
  private last: { group: string; messageId: number } | null = null;
  /** Group and user names seen, for tab completion. */
  readonly knownGroups = new Set<string>();
  readonly knownUsers = new Set<string>();
  /** user -> when their typing notice expires, for the open group. */
  private readonly typingUsers = new Map<string, NodeJS.Timeout>();
  private lastTypingSent = 0;

  constructor(private readonly client: ChatClient, private readonly print: (line: string) => void, private readonly options: SessionOptions = {}) {
    this.f = options.format ?? plain;
    client.on('message', (m) => {
      this.print(this.f.incoming(m));
      this.knownGroups.add(m.group);
      this.knownUsers.add(m.from);
      this.clearTyping(m.group, m.from);
      // Printed is seen: the unread count drops and the sender's "seen by" rises
      // (one `read` per group per burst, not per message).
      this.markReadSoon(m.group, m.messageId);
    });
    client.on('trace', (t) => this.printTrace(t.messageId, t.delivered, t.read, t.recipients));
    client.on('invited', (i) => this.showInvitation(i.group, i.by));
    client.on('joined', (j) => {
      this.knownUsers.add(j.user);
      this.print(this.f.event(`${clean(j.user)} joined ${clean(j.group)}`));
    });
    client.on('edited', (e) => this.print(this.f.edited(e.group, e.messageId, e.text)));
    client.on('deleted', (e) => this.print(this.f.deleted(e.group, e.messageId)));
    client.on('typing', (t) => this.showTyping(t.group, t.user));
    client.on('disconnected', (d) => {
      if (d.reason.startsWith('server ')) this.print(this.f.event(`${clean(d.reason)}${d.willReconnect ? ', reconnecting' : ''}`));
      else this.print(this.f.event(`connection lost (${clean(d.reason)})${d.willReconnect ? '; reconnecting' : ''}`));
    });
    client.on('reconnected', (r) => {
      if (r.switched) this.print(this.f.event(`now connected to ${r.server}`));
      this.print(this.f.event(r.user ? `reconnected as ${r.user}` : 'reconnected'));
    });
    client.on('sessionLost', () => this.print(this.f.event('your session expired or was revoked: /login again')));
    client.on('reconnectFailed', (reason) => this.print(this.f.event(`cannot reconnect (${clean(reason)}); the next command tries again`)));
  }

  get prompt(): string {
    if (!this.openGroup) return '> ';
    const typing = [...this.typingUsers.keys()];
    const note = typing.length === 0 ? '' : ` (${typing.slice(0, 3).join(', ')}${typing.length > 3 ? ', ...' : ''} typing)`;
    return `${this.openGroup}${note}> `;
  }

  /** Runs one input line. Returns false when the user asked to quit. Never throws. */
  async runLine(line: string): Promise<boolean> {
    const parsed = parseLine(line);
    if (!parsed.ok) {
      this.print(this.f.problem(parsed.error));
      return true;
    }
    const command = parsed.command;
    if (command.kind === 'say' || command.kind === 'send' || command.kind === 'me') {
      await this.pipelined(command);
      return true;
    }
    // Anything else comes after the sends before it, as typed, and after the read marks of
    // what is on screen (so /groups right after a message counts it as read).
    await this.drain();
    this.flushReads();
    try {
      return await this.run(command);
    } catch (err) {
      this.printError(err);
      return true;
    }
  }

  /** Waits for every send in flight (before /quit, and before other commands). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** Completions for tab: command words, then group names or user names where they fit. */
  complete(line: string): [string[], string] {
    const words = line.split(/\s+/);
    const word = words.at(-1) ?? '';
    const position = words.length - 1;
    if (position === 0) {
      if (!word.startsWith('/')) return [[], word];
      return [COMMAND_WORDS.filter((w) => w.startsWith(word.toLowerCase())), word];
    }
    const command = (words[0] ?? '').toLowerCase();
    const groupFirst = ['/open', '/send', '/history', '/who', '/leave', '/invite', '/add', '/accept', '/decline'];
    let pool: Iterable<string> = [];
    if (groupFirst.includes(command) && position === 1) pool = this.knownGroups;
    else if ((command === '/invite' || command === '/add') && position === 2) pool = this.knownUsers;
    else if (command === '/group' && position >= 2) pool = this.knownUsers;
    else if (command === '/login' && position === 1) pool = this.knownUsers;
    const hits = [...pool].filter((n) => n.toLowerCase().startsWith(word.toLowerCase())).sort();
    return [hits.map((h) => h + ' '), word];
  }

  /** The user typed something (not a command) in /open mode: tell the group, now and then. */
  typingActivity(lineSoFar: string): void {
    const group = this.openGroup;
    if (!group || lineSoFar.trim() === '' || lineSoFar.startsWith('/') || !this.client.connected) return;
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    this.client.notice({ type: 'typing', group });
  }

  private async run(command: Command): Promise<boolean> {
    const c = this.client;
    switch (command.kind) {
      case 'empty':
      case 'say':
      case 'send':
      case 'me':
        return true;
      case 'help':
        for (const line of USAGE) this.print(line);
        return true;
      case 'quit':
        return false;
      case 'register': {
        const password = command.password ?? (await this.askPassword());
        if (password === null) return true;
        await c.register(command.user, password);
        this.print(`registered ${command.user}`);
        // Registering is meant to be followed by using the account: log in with it at once.
        await this.login(command.user, password);
        return true;
      }
      case 'login': {
        const password = command.password ?? (await this.askPassword());
        if (password === null) return true;
        await this.login(command.user, password);
        return true;
      }
      case 'logout':
        await c.logout();
        this.setOpen(null);
        this.print('logged out');
        return true;
      case 'group': {
        const reply = await c.createGroup(command.group, command.members);
        this.knownGroups.add(reply.group);
        for (const u of reply.invited) this.knownUsers.add(u);
        this.print(`created ${reply.group}; invited ${reply.invited.join(', ')} (they join when they accept)`);
        return true;
      }
      case 'invite': {
        const reply = await c.invite(command.group, command.user);
        this.print(`invited ${reply.user} to ${reply.group} (they join when they accept)`);
        return true;
      }
      case 'invites': {
        const reply = await c.invitations();
        if (reply.invitations.length === 0) this.print('no invitations');
        for (const i of reply.invitations) {
          this.knownGroups.add(i.group);
          this.print(this.f.invitation(i));
        }
        return true;
      }
      case 'accept': {
        const reply = await c.accept(command.group);
        this.knownGroups.add(reply.group);
        this.shownInvitations.delete(reply.group);
        this.print(`joined ${reply.group} (${reply.members} members)`);
        return true;
      }
      case 'decline': {
        const reply = await c.decline(command.group);
        this.shownInvitations.delete(reply.group);
        this.print(`declined ${reply.group}`);
        return true;
      }
      case 'leave': {
        const reply = await c.leaveGroup(command.group);
        if (this.openGroup === reply.group) this.setOpen(null);
        this.knownGroups.delete(reply.group);
        this.print(`left ${reply.group}`);
        return true;
      }
      case 'groups': {
        const reply = await c.listGroups();
        if (reply.groups.length === 0) this.print('no groups');
        for (const g of reply.groups) {
          this.knownGroups.add(g.name);
          this.print(this.f.group(g));
        }
        return true;
      }
      case 'open': {
        const page = await c.history(command.group, LIMITS.defaultHistoryPage);
        this.setOpen(page.group);
        this.knownGroups.add(page.group);
        this.print(`--- ${page.group}${page.more ? ` (older: /history ${page.group} 20 ${page.messages[0]?.messageId ?? ''})` : ''} ---`);
        for (const m of page.messages) this.print(this.f.historyLine(m));
        this.print(`--- plain lines now go to ${page.group} ---`);
        const newest = page.messages.at(-1);
        if (newest) await c.markRead(page.group, newest.messageId);
        return true;
      }
      case 'history': {
        const page = await c.history(command.group, command.count, command.before);
        if (page.messages.length === 0) this.print(`no messages in ${page.group}`);
        for (const m of page.messages) {
          this.knownUsers.add(m.from);
          this.print(this.f.historyLine(m));
        }
        const oldest = page.messages[0];
        if (page.more && oldest) this.print(`(more: /history ${page.group} ${command.count ?? LIMITS.defaultHistoryPage} ${oldest.messageId})`);
        // Shown is read, as for live messages.
        const newest = page.messages.at(-1);
        if (newest) await c.markRead(page.group, newest.messageId);
        return true;
      }
      case 'who': {
        const reply = await c.who(command.group);
        for (const m of reply.members) this.knownUsers.add(m.user);
        this.print(this.f.who(reply.group, reply.members));
        return true;
      }
      case 'edit': {
        const last = this.last;
        if (!last) {
          this.print(this.f.problem('nothing to edit: /edit changes the last message you sent in this session'));
          return true;
        }
        await c.edit(last.group, last.messageId, command.text);
        this.print(`edited #${last.messageId} in ${last.group}`);
        return true;
      }
      case 'delete': {
        const last = this.last;
        if (!last) {
          this.print(this.f.problem('nothing to delete: /delete removes the last message you sent in this session'));
          return true;
        }
        await c.deleteMessage(last.group, last.messageId);
        this.last = null;
        this.print(`deleted #${last.messageId} in ${last.group}`);
        return true;
      }
      case 'status': {
        const s = c.status();
        const parts = [`server ${s.host}:${s.port}`, `key ${this.options.serverKey?.() ?? 'unknown'}`, s.connected ? 'connected' : 'not connected'];
        if (s.rttMs !== undefined && Number.isFinite(s.rttMs)) parts.push(`rtt ${s.rttMs.toFixed(1)} ms`);
        if (s.lossRate !== undefined) parts.push(`loss ${(s.lossRate * 100).toFixed(1)} %`);
        parts.push(`${s.pending} request${s.pending === 1 ? '' : 's'} waiting`);
        if (c.user) parts.push(`logged in as ${c.user}`);
        this.print(parts.join(', '));
        return true;
      }
    }
  }

  private async login(user: string, password: string): Promise<void> {
    const reply = await this.client.login(user, password);
    this.setOpen(null);
    this.knownUsers.add(reply.user);
    for (const g of reply.groups) this.knownGroups.add(g.name);
    const unread = reply.groups.filter((g) => g.unread > 0);
    this.print(`logged in as ${reply.user}${unread.length ? '' : ' (no unread messages)'}`);
    for (const g of unread) this.print(`  ${this.f.group(g)}`);
    const invitations = await this.client.invitations().catch(() => ({ invitations: [] }));
    for (const i of invitations.invitations) this.showInvitation(i.group, i.by);
  }

  /** Groups whose invitation was printed (an event and the login's list may both bring one). */
  private readonly shownInvitations = new Set<string>();

  private showInvitation(group: string, by: string): void {
    this.knownGroups.add(group); // so that /accept <Tab> completes it
    if (this.shownInvitations.has(group)) return;
    this.shownInvitations.add(group);
    this.print(this.f.invitation({ group, by }));
  }

  private async askPassword(): Promise<string | null> {
    if (!this.options.ask) {
      this.print(this.f.problem('usage: /login <user> <password> (no terminal to ask for it)'));
      return null;
    }
    return this.options.ask('password: ');
  }

  /** Starts a send without waiting for its reply; its result is printed when it comes. */
  private async pipelined(command: Extract<Command, { kind: 'say' | 'send' | 'me' }>): Promise<void> {
    let group: string;
    let kind: MessageKind = 'text';
    if (command.kind === 'send') group = command.group;
    else if (this.openGroup) group = this.openGroup;
    else {
      this.print(this.f.problem(command.kind === 'me' ? 'no open group: /open <group> first' : 'no open group: /open <group> first, or /send <group> <text>'));
      return;
    }
    if (command.kind === 'me') kind = 'me';
    if (command.kind === 'say' && BARE_COMMAND_WORDS.has(command.text.toLowerCase())) {
      this.print(this.f.problem(`"${command.text}" was not sent: did you mean /${command.text.toLowerCase()}? (/send ${group} ${command.text} sends it)`));
      return;
    }
    if (!this.client.connected) this.print(this.f.event('not connected: message queued, it goes when the server is back'));
    while (this.inflight.size >= MAX_INFLIGHT) await Promise.race([...this.inflight]);
    const task = this.send(group, command.text, kind)
      .catch((err: unknown) => this.printError(err))
      .finally(() => this.inflight.delete(task));
    this.inflight.add(task);
    // Let the request leave now (a turn of the event loop), before the next line is read.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private async send(group: string, text: string, kind: MessageKind): Promise<void> {
    const reply = await this.client.send(group, text, undefined, kind);
    this.last = { group: reply.group, messageId: reply.messageId };
    this.print(this.f.stored(reply.group, reply.messageId, reply.recipients, reply.duplicate));
    if (reply.delivered > 0) this.printTrace(reply.messageId, reply.delivered, 0, reply.recipients);
  }

  private printError(err: unknown): void {
    if (err instanceof ChatRequestError) this.print(this.f.error(err.code, err.message, err.retryAfterMs));
    else this.print(this.f.problem(err instanceof Error ? err.message : String(err)));
  }

  private setOpen(group: string | null): void {
    this.openGroup = group;
    for (const timer of this.typingUsers.values()) clearTimeout(timer);
    this.typingUsers.clear();
    this.options.onPromptChange?.();
  }

  private showTyping(group: string, user: string): void {
    if (group !== this.openGroup) return;
    const old = this.typingUsers.get(user);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => this.clearTyping(group, user), this.options.typingShownMs ?? 5_000);
    timer.unref();
    this.typingUsers.set(user, timer);
    this.options.onPromptChange?.();
  }

  private clearTyping(group: string, user: string): void {
    if (group !== this.openGroup) return;
    const timer = this.typingUsers.get(user);
    if (!timer) return;
    clearTimeout(timer);
    this.typingUsers.delete(user);
    this.options.onPromptChange?.();
  }

  /** group -> highest id shown there this turn; flushed as one `read` per group. */
  private readonly pendingReads = new Map<string, number>();

  private markReadSoon(group: string, upTo: number): void {
    const first = this.pendingReads.size === 0;
    this.pendingReads.set(group, Math.max(upTo, this.pendingReads.get(group) ?? 0));
    if (first) setImmediate(() => this.flushReads());
  }

  /** Sends the read marks of what was printed; also before any command, so that its answer counts them. */
  private flushReads(): void {
    for (const [g, id] of this.pendingReads) this.client.notice({ type: 'read', group: g, upTo: id });
    this.pendingReads.clear();
  }

  private printTrace(messageId: number, delivered: number, read: number, recipients: number): void {
    const before = this.traced.get(messageId) ?? { delivered: 0, read: 0 };
    // Read implies delivered, whatever order the counts come in.
    const now = { delivered: Math.max(before.delivered, delivered, read), read: Math.max(before.read, read) };
    if (now.delivered === before.delivered && now.read === before.read) return;
    this.traced.set(messageId, now);
    if (this.traced.size > 1000) this.traced.delete(this.traced.keys().next().value as number);
    if (now.delivered > before.delivered) this.print(this.f.delivered(messageId, now.delivered, recipients));
    if (now.read > before.read) this.print(this.f.seen(messageId, now.read, recipients));
  }
}
