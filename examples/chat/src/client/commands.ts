/**
 * Parses one input line of the client into a command. Pure: no I/O, so every syntax rule is unit
 * tested. Plain text (no leading "/") is a message to the open group.
 */
import { LIMITS } from '../protocol/limits.js';

export type Command =
  /** `password` undefined: the client asks for it without echo. */
  | { kind: 'register'; user: string; password: string | undefined }
  | { kind: 'login'; user: string; password: string | undefined }
  | { kind: 'logout' }
  | { kind: 'group'; group: string; members: string[] }
  | { kind: 'invite'; group: string; user: string }
  | { kind: 'invites' }
  | { kind: 'accept'; group: string }
  | { kind: 'decline'; group: string }
  | { kind: 'leave'; group: string }
  | { kind: 'groups' }
  | { kind: 'open'; group: string }
  | { kind: 'send'; group: string; text: string }
  | { kind: 'say'; text: string }
  | { kind: 'me'; text: string }
  | { kind: 'edit'; text: string }
  | { kind: 'delete' }
  | { kind: 'history'; group: string; count: number | undefined; before: number | undefined }
  | { kind: 'who'; group: string }
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' };

export type ParsedLine = { ok: true; command: Command } | { ok: false; error: string };

export const USAGE = [
  '/register <user>                /login <user>       (the password is asked without echo)',
  '/logout                         /status             (server, key, round trip, loss)',
  '/group <name> <member> [...]    (creates it and invites them)',
  '/invite <group> <user>          (/add too)          /invites   /accept <group>   /decline <group>',
  '/groups                         (groups with unread counts)    /leave <group>',
  '/open <group>                   (recent history; then plain lines are sent to it)',
  '/send <group> <text...>         /me <action...>     /edit <text...>   /delete  (your last message)',
  '/history <group> [count] [before-id]                /who <group>      /quit',
  'Tab completes commands, groups and names.',
];

/** Every command word, for tab completion. */
export const COMMAND_WORDS = [
  '/register', '/login', '/logout', '/group', '/invite', '/add', '/invites', '/accept', '/decline', '/leave', '/groups',
  '/open', '/send', '/me', '/edit', '/delete', '/history', '/who', '/status', '/help', '/quit',
];

/** Words that, typed bare in /open mode, were surely meant as a command, not sent as a message. */
export const BARE_COMMAND_WORDS = new Set(COMMAND_WORDS.map((w) => w.slice(1)).concat(['exit']));

const ok = (command: Command): ParsedLine => ({ ok: true, command });
const usage = (text: string): ParsedLine => ({ ok: false, error: `usage: ${text}` });

function positiveInt(word: string | undefined): number | undefined | null {
  if (word === undefined) return undefined;
  return /^[1-9]\d{0,15}$/.test(word) ? Number(word) : null;
}

/** The text after the first `skip` words, inner spacing kept. */
function rest(trimmed: string, skip: number): string | undefined {
  const match = new RegExp(`^(?:\\S+\\s+){${skip}}(.+)$`).exec(trimmed);
  return match?.[1];
}

export function parseLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (trimmed === '') return ok({ kind: 'empty' });
  if (!trimmed.startsWith('/')) return ok({ kind: 'say', text: trimmed });
  const words = trimmed.split(/\s+/);
  const [name = '', a, b] = words;
  const argc = words.length - 1;
  switch (name.toLowerCase()) {
    case '/register':
    case '/login': {
      const kind = name.toLowerCase() === '/login' ? 'login' : 'register';
      return (argc === 1 || argc === 2) && a ? ok({ kind, user: a, password: b }) : usage(`/${kind} <user> (the password is asked without echo)`);
    }
    case '/logout':
      return argc === 0 ? ok({ kind: 'logout' }) : usage('/logout');
    case '/group':
      return argc >= 2 && a ? ok({ kind: 'group', group: a, members: words.slice(2) }) : usage('/group <name> <member> [...]');
    case '/add':
    case '/invite':
      return argc === 2 && a && b ? ok({ kind: 'invite', group: a, user: b }) : usage('/invite <group> <user>');
    case '/invites':
      return argc === 0 ? ok({ kind: 'invites' }) : usage('/invites');
    case '/accept':
    case '/decline': {
      const kind = name.toLowerCase() === '/accept' ? 'accept' : 'decline';
      return argc === 1 && a ? ok({ kind, group: a }) : usage(`/${kind} <group>`);
    }
    case '/leave':
      return argc === 1 && a ? ok({ kind: 'leave', group: a }) : usage('/leave <group>');
    case '/groups':
      return argc === 0 ? ok({ kind: 'groups' }) : usage('/groups');
    case '/open':
      return argc === 1 && a ? ok({ kind: 'open', group: a }) : usage('/open <group>');
    case '/send': {
      const text = rest(trimmed, 2);
      return a && text ? ok({ kind: 'send', group: a, text }) : usage('/send <group> <text...>');
    }
    case '/me': {
      const text = rest(trimmed, 1);
      return text ? ok({ kind: 'me', text }) : usage('/me <action...>');
    }
    case '/edit': {
      const text = rest(trimmed, 1);
      return text ? ok({ kind: 'edit', text }) : usage('/edit <new text...>');
    }
    case '/delete':
      return argc === 0 ? ok({ kind: 'delete' }) : usage('/delete (deletes your last message)');
    case '/history': {
      if (argc < 1 || argc > 3 || !a) return usage('/history <group> [count] [before-id]');
      const countWord = words[2];
      const count = positiveInt(countWord);
      if (countWord !== undefined && (count === null || (count ?? 0) > LIMITS.maxHistoryPage)) {
        return { ok: false, error: `count is 1-${LIMITS.maxHistoryPage} (got "${countWord}")` };
      }
      const before = positiveInt(words[3]);
      if (before === null) return { ok: false, error: `before-id is a message id, like 42 (got "${words[3]}")` };
      return ok({ kind: 'history', group: a, count: count ?? undefined, before });
    }
    case '/who':
      return argc === 1 && a ? ok({ kind: 'who', group: a }) : usage('/who <group>');
    case '/status':
      return ok({ kind: 'status' });
    case '/help':
      return ok({ kind: 'help' });
    case '/quit':
    case '/exit':
      return ok({ kind: 'quit' });
    default:
      return { ok: false, error: `unknown command ${name} (try /help)` };
  }
}

/** True for a line that carries a password (`/login <user> <password>`): never kept in history. */
export function carriesPassword(line: string): boolean {
  return /^\s*\/(login|register)\s+\S+\s+\S/i.test(line);
}

/** The line with its password replaced by asterisks, for the screen. */
export function maskPassword(line: string): string {
  return line.replace(/^(\s*\/(?:login|register)\s+\S+\s+)(.*)$/i, (_m, head: string, pw: string) => head + '*'.repeat(Math.min(pw.length, 8)));
}
