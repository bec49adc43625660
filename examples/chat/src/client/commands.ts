/**
 * Parses one input line of the client into a command. Pure: no I/O, so every syntax rule is unit
 * tested. Plain text (no leading "/") is a message to the open group.
 */
export type Command =
  | { kind: 'register'; user: string; password: string }
  | { kind: 'login'; user: string; password: string }
  | { kind: 'logout' }
  | { kind: 'group'; group: string; members: string[] }
  | { kind: 'add'; group: string; user: string }
  | { kind: 'leave'; group: string }
  | { kind: 'groups' }
  | { kind: 'open'; group: string }
  | { kind: 'send'; group: string; text: string }
  | { kind: 'say'; text: string }
  | { kind: 'history'; group: string; count: number | undefined; before: number | undefined }
  | { kind: 'who'; group: string }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' };

export type ParsedLine = { ok: true; command: Command } | { ok: false; error: string };

export const USAGE = [
  '/register <user> <password>     /login <user> <password>      /logout',
  '/group <name> <member> [...]    /add <group> <member>          /leave <group>',
  '/groups                         (groups with unread counts)',
  '/open <group>                   (prints recent history; then plain lines are sent to it)',
  '/send <group> <text...>         /history <group> [count] [before-id]',
  '/who <group>                    (members and who is online)   /quit',
];

const ok = (command: Command): ParsedLine => ({ ok: true, command });
const usage = (text: string): ParsedLine => ({ ok: false, error: `usage: ${text}` });

function positiveInt(word: string | undefined): number | undefined | null {
  if (word === undefined) return undefined;
  return /^[1-9]\d{0,15}$/.test(word) ? Number(word) : null;
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
      return argc === 2 && a && b ? ok({ kind, user: a, password: b }) : usage(`/${kind} <user> <password>`);
    }
    case '/logout':
      return argc === 0 ? ok({ kind: 'logout' }) : usage('/logout');
    case '/group':
      return argc >= 2 && a ? ok({ kind: 'group', group: a, members: words.slice(2) }) : usage('/group <name> <member> [...]');
    case '/add':
      return argc === 2 && a && b ? ok({ kind: 'add', group: a, user: b }) : usage('/add <group> <member>');
    case '/leave':
      return argc === 1 && a ? ok({ kind: 'leave', group: a }) : usage('/leave <group>');
    case '/groups':
      return argc === 0 ? ok({ kind: 'groups' }) : usage('/groups');
    case '/open':
      return argc === 1 && a ? ok({ kind: 'open', group: a }) : usage('/open <group>');
    case '/send': {
      // The text keeps its inner spacing: everything after "/send <group> ".
      const match = /^\/send\s+(\S+)\s+(.+)$/i.exec(trimmed);
      return match?.[1] && match[2] ? ok({ kind: 'send', group: match[1], text: match[2] }) : usage('/send <group> <text...>');
    }
    case '/history': {
      const count = positiveInt(words[2]);
      const before = positiveInt(words[3]);
      if (argc < 1 || argc > 3 || !a || count === null || before === null) return usage('/history <group> [count] [before-id]');
      return ok({ kind: 'history', group: a, count, before });
    }
    case '/who':
      return argc === 1 && a ? ok({ kind: 'who', group: a }) : usage('/who <group>');
    case '/help':
      return ok({ kind: 'help' });
    case '/quit':
    case '/exit':
      return ok({ kind: 'quit' });
    default:
      return { ok: false, error: `unknown command ${name} (try /help)` };
  }
}
