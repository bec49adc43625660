/**
 * A small `--name value` / `--name=value` parser for the two commands (node:util parseArgs would
 * do too, but it cannot say which option was wrong in our words).
 */
export function parseFlags(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new Error(`unexpected argument "${arg}"`);
    const name = match[1];
    if (name === 'help') {
      flags.set('help', '');
      continue;
    }
    if (!known.includes(name)) throw new Error(`unknown option --${name}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new Error(`invalid port "${text}"`);
  return port;
}

/** "host:port", "[v6]:port" or ":port". */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!match?.[3]) throw new Error(`expected host:port, got "${text}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port: parsePort(match[3]) };
}
