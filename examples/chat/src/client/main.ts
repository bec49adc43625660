/**
 * `chat-client`: the interactive (or scripted) chat client.
 *
 *   chat-client [--server 127.0.0.1:7777] [--server-key <fingerprint>] [--known-servers <file>]
 *
 * The connection is encrypted by reliable-dgram itself (transport/server-key.ts). The server's key is checked against
 * --server-key when given (the fingerprint the server logs at start), else trusted on first use
 * and remembered in --known-servers (default ~/.config/reliable-dgram-chat/known_servers.json).
 *
 * Reads one command per line from stdin (a terminal or a pipe), prints one line per result.
 */
import { UsageError, parseFlags, parseHostPort } from '../cli-args.js';
import { ReliableDgramTransport } from '../transport/reliable-dgram.js';
import { ChatClient } from './chat-client.js';
import { defaultKnownServersFile, knownServersTrust, pinnedTrust } from './known-servers.js';
import { ChatSession } from './session.js';
import { createTerminal } from './terminal.js';

const HELP = 'usage: chat-client [--server 127.0.0.1:7777] [--server-key <fingerprint>] [--known-servers <file>]   (then /help for commands)';

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), ['server', 'server-key', 'known-servers']);
  if (flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const { host, port } = parseHostPort(flags.get('server') ?? '127.0.0.1:7777');
  const terminal = createTerminal(process.stdin, process.stdout);
  const pinned = flags.get('server-key');
  const knownServers = flags.get('known-servers') ?? defaultKnownServersFile();
  const trust = pinned
    ? pinnedTrust(pinned)
    : knownServersTrust(knownServers, (address, fp) => terminal.print(`* first connection to ${address}: trusting its key ${fp} (remembered in ${knownServers})`));
  const transport = new ReliableDgramTransport({ trust });
  const client = new ChatClient({ transport, host, port });
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
    process.stderr.write(`chat-client: cannot reach ${host}:${port}${code ? ` (${code})` : ''}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const session = new ChatSession(client, (line) => terminal.print(line));
  terminal.print(`* connected to ${host}:${port} (/help for commands)`);
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
