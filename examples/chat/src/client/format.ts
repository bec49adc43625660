/**
 * Every line the client prints, in one place: the README transcript and the end-to-end tests
 * rely on these shapes. Colours come from picocolors, switched off (plain text) when the output
 * is not a terminal or NO_COLOR is set. Everything that came from other users goes through
 * `clean`, so even a server that let a control, line-separator or bidi character through cannot
 * forge lines or rewrite the terminal (defence in depth: the server refuses them already).
 */
import pc from 'picocolors';
import type { ChatMessage, GroupSummary, Invitation, MemberPresence } from '../protocol/messages.js';

type Colors = ReturnType<typeof pc.createColors>;

/** Characters shown escaped (`\u{202e}`), never raw: C0/C1 controls, DEL, separators, bidi, invisible. */
const UNSAFE_DISPLAY = /[\u0000-\u001f\u007f-\u009f\u200b\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;

export function clean(text: string): string {
  return text.replace(UNSAFE_DISPLAY, (c) => (c === '\t' ? ' ' : `\\u{${c.codePointAt(0)?.toString(16).padStart(4, '0')}}`));
}

export interface FormatOptions {
  /** ANSI colours (only on a terminal, and not with NO_COLOR). */
  color?: boolean;
  /** Prefix incoming messages with their local time, "14:05". */
  timestamps?: boolean;
  /** Time zone for timestamps (tests); default the system's. */
  timeZone?: string;
}

/** Decides colours the usual way: a terminal, no NO_COLOR (non-empty), or FORCE_COLOR. */
export function colorWanted(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  return Boolean(isTTY) && env['TERM'] !== 'dumb';
}

const USER_COLORS = ['cyan', 'green', 'yellow', 'magenta', 'blue', 'red'] as const;

export class Formatter {
  private readonly c: Colors;
  private readonly time: Intl.DateTimeFormat | null;

  constructor(options: FormatOptions = {}) {
    this.c = pc.createColors(options.color ?? false);
    this.time = options.timestamps
      ? new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, ...(options.timeZone ? { timeZone: options.timeZone } : {}) })
      : null;
  }

  /** A user's name, always in the same colour for the same name. */
  user(name: string): string {
    let h = 0;
    for (const ch of name.toLowerCase()) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
    const color = USER_COLORS[h % USER_COLORS.length] ?? 'cyan';
    return this.c[color](clean(name));
  }

  private stamp(sentAt: number): string {
    return this.time ? this.c.dim(this.time.format(sentAt)) + ' ' : '';
  }

  private body(m: ChatMessage): string {
    if (m.deleted) return this.c.dim('(deleted)');
    const edited = m.editedAt !== undefined ? this.c.dim(' (edited)') : '';
    return m.kind === 'me' ? `* ${this.user(m.from)} ${clean(m.text)}${edited}` : `${this.user(m.from)}: ${clean(m.text)}${edited}`;
  }

  incoming(m: ChatMessage): string {
    return `${this.stamp(m.sentAt)}[${clean(m.group)}] ${this.body(m)}`;
  }

  historyLine(m: ChatMessage): string {
    return `${this.stamp(m.sentAt)}#${m.messageId} [${clean(m.group)}] ${this.body(m)}`;
  }

  edited(group: string, messageId: number, text: string): string {
    return this.event(`#${messageId} in ${clean(group)} was edited: ${clean(text)}`);
  }

  deleted(group: string, messageId: number): string {
    return this.event(`#${messageId} in ${clean(group)} was deleted`);
  }

  group(g: GroupSummary): string {
    const unread = g.unread > 0 ? this.c.bold(`${g.unread} unread`) : `${g.unread} unread`;
    return `${clean(g.name)} (${g.members} member${g.members === 1 ? '' : 's'}, ${unread})`;
  }

  who(group: string, members: MemberPresence[]): string {
    return `${clean(group)}: ${members.map((m) => `${this.user(m.user)} ${m.online ? this.c.green('(online)') : this.c.dim('(offline)')}`).join(', ')}`;
  }

  invitation(i: Invitation): string {
    return this.event(`${clean(i.by)} invites you to ${clean(i.group)}: /accept ${clean(i.group)} or /decline ${clean(i.group)}`);
  }

  stored(group: string, messageId: number, recipients: number, duplicate: boolean): string {
    const note = recipients === 0 ? ' (no other members)' : '';
    return this.c.dim(`stored #${messageId} in ${clean(group)}${duplicate ? ' (already stored)' : ''}${note}`);
  }

  delivered(messageId: number, delivered: number, recipients: number): string {
    return this.c.dim(`#${messageId} delivered to ${delivered} of ${recipients}`);
  }

  seen(messageId: number, read: number, recipients: number): string {
    return this.c.dim(`#${messageId} seen by ${read} of ${recipients}`);
  }

  /** `* ...` lines: connection state, invitations, joins. */
  event(text: string): string {
    return this.c.yellow(`* ${text}`);
  }

  error(code: string, message: string, retryAfterMs?: number): string {
    const retry = retryAfterMs === undefined ? '' : ` (retry in ${Math.ceil(retryAfterMs / 1000)} s)`;
    return this.c.red(`error: ${clean(message)}${retry} [${code}]`);
  }

  /** A local mistake (usage, unknown command): same shape as server errors, without a code. */
  problem(text: string): string {
    return this.c.red(`error: ${text}`);
  }
}

/** Plain formatting (no colours, no timestamps), for callers that only want the shapes. */
export const plain = new Formatter();
