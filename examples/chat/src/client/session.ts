/**
 * What the user sees: runs each parsed command against the ChatClient and prints one line per
 * result, one line per error, and the live events (incoming messages, delivery traces). No
 * terminal code here: output goes through `print`, so tests capture it.
 */
import { LIMITS } from '../protocol/limits.js';
import { ChatRequestError, type ChatClient } from './chat-client.js';
import { parseLine, USAGE, type Command } from './commands.js';
import { formatDelivered, formatError, formatGroup, formatHistoryLine, formatIncoming, formatStored, formatWho } from './format.js';

export class ChatSession {
  /** The group plain lines go to, set by /open. */
  openGroup: string | null = null;
  /** Highest delivered count printed per message id, so a trace line never repeats or goes back. */
  private readonly traced = new Map<number, number>();

  constructor(private readonly client: ChatClient, private readonly print: (line: string) => void) {
    client.on('message', (m) => {
      this.print(formatIncoming(m));
      // A message shown in the open group counts as read (one `read` per burst, not per message).
      if (m.group === this.openGroup) this.markReadSoon(m.group, m.messageId);
    });
    client.on('trace', (t) => this.printTrace(t.messageId, t.delivered, t.recipients));
    client.on('added', (a) => this.print(`* ${a.by} added you to ${a.group}`));
    client.on('disconnected', (d) => this.print(`* connection lost (${d.reason})${d.willReconnect ? '; reconnecting' : ''}`));
    client.on('reconnected', (r) => {
      if (r.switched) this.print(`* now connected to ${r.server}`);
      this.print(r.user ? `* reconnected as ${r.user}` : '* reconnected');
    });
    client.on('sessionLost', () => this.print('* your session expired or was revoked: /login again'));
    client.on('reconnectFailed', (reason) => this.print(`* cannot reconnect (${reason}); the next command tries again`));
  }

  get prompt(): string {
    return this.openGroup ? `${this.openGroup}> ` : '> ';
  }

  /** Runs one input line. Returns false when the user asked to quit. Never throws. */
  async runLine(line: string): Promise<boolean> {
    const parsed = parseLine(line);
    if (!parsed.ok) {
      this.print(`error: ${parsed.error}`);
      return true;
    }
    try {
      return await this.run(parsed.command);
    } catch (err) {
      if (err instanceof ChatRequestError) this.print(formatError(err.code, err.message, err.retryAfterMs));
      else this.print(`error: ${err instanceof Error ? err.message : String(err)}`);
      return true;
    }
  }

  private async run(command: Command): Promise<boolean> {
    const c = this.client;
    switch (command.kind) {
      case 'empty':
        return true;
      case 'help':
        for (const line of USAGE) this.print(line);
        return true;
      case 'quit':
        return false;
      case 'register':
        await c.register(command.user, command.password);
        this.print(`registered ${command.user}`);
        return true;
      case 'login': {
        const reply = await c.login(command.user, command.password);
        this.openGroup = null;
        const unread = reply.groups.filter((g) => g.unread > 0);
        this.print(`logged in as ${reply.user}${unread.length ? '' : ' (no unread messages)'}`);
        for (const g of unread) this.print(`  ${formatGroup(g)}`);
        return true;
      }
      case 'logout':
        await c.logout();
        this.openGroup = null;
        this.print('logged out');
        return true;
      case 'group': {
        const reply = await c.createGroup(command.group, command.members);
        this.print(`created ${reply.group} with ${reply.members.join(', ')}`);
        return true;
      }
      case 'add': {
        const reply = await c.addMember(command.group, command.user);
        this.print(`added ${reply.user} to ${reply.group}`);
        return true;
      }
      case 'leave': {
        const reply = await c.leaveGroup(command.group);
        if (this.openGroup === reply.group) this.openGroup = null;
        this.print(`left ${reply.group}`);
        return true;
      }
      case 'groups': {
        const reply = await c.listGroups();
        if (reply.groups.length === 0) this.print('no groups');
        for (const g of reply.groups) this.print(formatGroup(g));
        return true;
      }
      case 'open': {
        const page = await c.history(command.group, LIMITS.defaultHistoryPage);
        this.openGroup = page.group;
        this.print(`--- ${page.group}${page.more ? ` (older: /history ${page.group} 20 ${page.messages[0]?.messageId ?? ''})` : ''} ---`);
        for (const m of page.messages) this.print(formatHistoryLine(m));
        this.print(`--- plain lines now go to ${page.group} ---`);
        const newest = page.messages.at(-1);
        if (newest) await c.markRead(page.group, newest.messageId);
        return true;
      }
      case 'history': {
        const page = await c.history(command.group, command.count, command.before);
        if (page.messages.length === 0) this.print(`no messages in ${page.group}`);
        for (const m of page.messages) this.print(formatHistoryLine(m));
        const oldest = page.messages[0];
        if (page.more && oldest) this.print(`(more: /history ${page.group} ${command.count ?? LIMITS.defaultHistoryPage} ${oldest.messageId})`);
        return true;
      }
      case 'who': {
        const reply = await c.who(command.group);
        this.print(formatWho(reply.group, reply.members));
        return true;
      }
      case 'send':
        await this.send(command.group, command.text);
        return true;
      case 'say':
        if (!this.openGroup) {
          this.print('error: no open group: /open <group> first, or /send <group> <text>');
          return true;
        }
        await this.send(this.openGroup, command.text);
        return true;
    }
  }

  private async send(group: string, text: string): Promise<void> {
    const reply = await this.client.send(group, text);
    this.print(formatStored(reply.group, reply.messageId, reply.recipients, reply.duplicate));
    if (reply.delivered > 0) this.printTrace(reply.messageId, reply.delivered, reply.recipients);
  }

  /** group -> highest id shown there this turn; flushed as one `read` per group. */
  private readonly pendingReads = new Map<string, number>();

  private markReadSoon(group: string, upTo: number): void {
    const first = this.pendingReads.size === 0;
    this.pendingReads.set(group, Math.max(upTo, this.pendingReads.get(group) ?? 0));
    if (!first) return;
    setImmediate(() => {
      for (const [g, id] of this.pendingReads) this.client.markRead(g, id).catch(() => {});
      this.pendingReads.clear();
    });
  }

  private printTrace(messageId: number, delivered: number, recipients: number): void {
    if (delivered <= (this.traced.get(messageId) ?? 0)) return;
    this.traced.set(messageId, delivered);
    if (this.traced.size > 1000) this.traced.delete(this.traced.keys().next().value as number);
    this.print(formatDelivered(messageId, delivered, recipients));
  }
}
