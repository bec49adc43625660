/**
 * A small `--name value` / `--name=value` parser for the two commands (node:util parseArgs would
 * do too, but it cannot say which option was wrong in our words).
 */
/** A mistake in the command line: the command prints its usage after the message. */
export class UsageError extends Error {}

export function parseFlags(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new UsageError(`unexpected argument "${arg}"`);
    const name = match[1];
    if (name === 'help') {
      flags.set('help', '');
      continue;
    }
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`invalid port "${text}"`);
  return port;
}

/** "host:port", "[v6]:port" or ":port". */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!match?.[3]) throw new UsageError(`expected host:port, got "${text}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port: parsePort(match[3]) };
}
