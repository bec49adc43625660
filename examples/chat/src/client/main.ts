/**
 * `chat-client`: the interactive (or scripted) chat client.
 *
 *   chat-client [--server 127.0.0.1:7777[,host:port...]] [--server-key <fingerprint>] [--known-servers <file>]
 *
 * Several servers (nodes of one deployment sharing a PostgreSQL database): the client uses the
 * first that answers and, when its node dies, reconnects to the next and resumes its session.
 *
 * The connection is encrypted (secure-channel.ts). The server's key is checked against
 * --server-key when given (the fingerprint the server logs at start), else trusted on first use
 * and remembered in --known-servers (default ~/.config/reliable-dgram-chat/known_servers.json).
 *
 * Reads one command per line from stdin (a terminal or a pipe), prints one line per result.
 */
import { UsageError, parseFlags, parseHostPort } from '../cli-args.js';
import { ReliableDgramTransport } from '../transport/reliable-dgram.js';
import { SecureTransport } from '../transport/secure-channel.js';
import { ChatClient } from './chat-client.js';
import { defaultKnownServersFile, knownServersTrust, pinnedTrust } from './known-servers.js';
import { ChatSession } from './session.js';
import { createTerminal } from './terminal.js';

const HELP = 'usage: chat-client [--server 127.0.0.1:7777[,host:port...]] [--server-key <fingerprint>] [--known-servers <file>]   (then /help for commands)';

/**
 * A dead server (or node) is noticed within seconds, not the library's 30 s: keepalives every
 * second, and the link is given up after 5 s without a word (then the client reconnects, to
 * the next node if there are several).
 */
const CLIENT_LIVENESS = { idleTimeout: 5_000, keepAliveInterval: 1_000 };

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), ['server', 'server-key', 'known-servers']);
  if (flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const servers = (flags.get('server') ?? '127.0.0.1:7777').split(',').map((s) => parseHostPort(s.trim()));
  const { host, port } = servers[0] ?? { host: '127.0.0.1', port: 7777 };
  const terminal = createTerminal(process.stdin, process.stdout);
  const pinned = flags.get('server-key');
  const knownServers = flags.get('known-servers') ?? defaultKnownServersFile();
  const trust = pinned
    ? pinnedTrust(pinned)
    : knownServersTrust(
        knownServers,
        (address, fp) => terminal.print(`* first connection to ${address}: trusting its key ${fp} (remembered in ${knownServers})`),
        servers.map((s) => `${s.host}:${s.port}`),
      );
  const transport = new SecureTransport(new ReliableDgramTransport({ endpointOptions: () => CLIENT_LIVENESS }), { trust });
  const client = new ChatClient({ transport, servers });
  try {
    await client.connect();
  } catch (err) {
    terminal.close();
    const code = (err as { code?: string }).code;
    if (code === 'ERR_SERVER_KEY_MISMATCH') {
      process.stderr.write(
        `chat-client: REFUSING ${host}:${port}: ${(err as Error).message}. Someone may be intercepting the connection. ` +
          `If the server was really reinstalled, remove its entry from ${knownServers} (or pass --server-key).\n`,
      );
      return 1;
    }
    process.stderr.write(`chat-client: cannot reach ${servers.map((s) => `${s.host}:${s.port}`).join(", ")}${code ? ` (${code})` : ''}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const session = new ChatSession(client, (line) => terminal.print(line));
  terminal.print(`* connected to ${client.server} (/help for commands)`);
  await terminal.run(async (line) => {
    const keepGoing = await session.runLine(line);
    terminal.setPrompt(session.prompt);
    return keepGoing;
  });
  await client.close().catch(() => {});
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chat-client: ${err instanceof Error ? err.message : String(err)}\n${err instanceof UsageError ? HELP + '\n' : ''}`);
    process.exit(1);
  },
);
