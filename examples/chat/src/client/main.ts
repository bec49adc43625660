/**
 * `chat-client`: the interactive (or scripted) chat client.
 *
 *   chat-client [--server 127.0.0.1:7777[,host:port...]] [--server-key <fingerprint>] [--known-servers <file>]
 *               [--timestamps auto|on|off]
 *
 * Several servers (nodes of one deployment sharing a PostgreSQL database): the client uses the
 * first that answers and, when its node dies, reconnects to the next and resumes its session.
 *
 * The connection is encrypted by reliable-dgram itself (transport/server-key.ts). The server's key is checked against
 * --server-key when given (the fingerprint the server logs at start), else trusted on first use
 * and remembered in --known-servers (default ~/.config/reliable-dgram-chat/known_servers.json).
 *
 * Reads one command per line from stdin (a terminal or a pipe), prints one line per result.
 * Colours and timestamps are on for a terminal (colours off with NO_COLOR), off for a pipe.
 */
import { UsageError, parseFlags, parseHostPort } from '../cli-args.js';
import { ReliableDgramTransport } from '../transport/reliable-dgram.js';
import { fingerprint } from '../transport/server-key.js';
import { ChatClient } from './chat-client.js';
import { colorWanted, Formatter } from './format.js';
import { defaultKnownServersFile, knownServersTrust, pinnedTrust } from './known-servers.js';
import { ChatSession } from './session.js';
import { createTerminal } from './terminal.js';

const HELP =
  'usage: chat-client [--server 127.0.0.1:7777[,host:port...]] [--server-key <fingerprint>] [--known-servers <file>] [--timestamps auto|on|off]   (then /help for commands)';

/**
 * A chat-sized idle timeout instead of the library's 30 s: a dead server (kill -9, a cable
 * pulled) is noticed within 6 s, and the library then sends keepalives every 2 s (a third of
 * it) so that a quiet but healthy link never reaches it. The timeout is agreed per connection
 * as the smaller of both sides', so this one setting covers the server's side of the link too.
 */
const CLIENT_ENDPOINT_OPTIONS = { idleTimeout: 6_000 };

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), ['server', 'server-key', 'known-servers', 'timestamps']);
  if (flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const servers = (flags.get('server') ?? '127.0.0.1:7777').split(',').map((s) => parseHostPort(s.trim()));
  const { host, port } = servers[0] ?? { host: '127.0.0.1', port: 7777 };
  const timestampsFlag = flags.get('timestamps') ?? 'auto';
  if (!['auto', 'on', 'off'].includes(timestampsFlag)) throw new UsageError('--timestamps is auto, on or off');
  let session: ChatSession | null = null;
  const terminal = createTerminal(process.stdin, process.stdout, {
    complete: (line) => session?.complete(line) ?? [[], line],
    onInput: (line) => session?.typingActivity(line),
  });
  const format = new Formatter({
    color: colorWanted(process.stdout.isTTY, process.env),
    timestamps: timestampsFlag === 'on' || (timestampsFlag === 'auto' && terminal.interactive),
  });
  const pinned = flags.get('server-key');
  const knownServers = flags.get('known-servers') ?? defaultKnownServersFile();
  let serverKey: string | undefined;
  const remember = (key: Buffer): void => {
    serverKey = fingerprint(key);
  };
  const baseTrust = pinned
    ? pinnedTrust(pinned)
    : knownServersTrust(
        knownServers,
        (address, fp, knownAs) =>
          terminal.print(
            knownAs
              ? format.event(`${address} presents the key of ${knownAs} (${fp}): the same server, trusted (remembered in ${knownServers})`)
              : format.event(`first connection to ${address}: trusting its key ${fp} (remembered in ${knownServers})`),
          ),
        servers.map((s) => `${s.host}:${s.port}`),
      );
  const trust = (h: string, p: number, key: Buffer): boolean => {
    const ok = baseTrust(h, p, key);
    if (ok) remember(key);
    return ok;
  };
  // Encrypted by reliable-dgram; `trust` judges the server's key in the endpoint's verifyPeer.
  const transport = new ReliableDgramTransport({ endpointOptions: () => CLIENT_ENDPOINT_OPTIONS, trust });
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
  const s = new ChatSession(client, (line) => terminal.print(line), {
    format,
    ask: (question) => terminal.askHidden(question),
    serverKey: () => serverKey,
    onPromptChange: () => {
      terminal.setPrompt(s.prompt);
      terminal.refresh();
    },
  });
  session = s;
  terminal.print(format.event(`connected to ${client.server} (/help for commands)`));
  await terminal.run(async (line) => {
    const keepGoing = await s.runLine(line);
    terminal.setPrompt(s.prompt);
    return keepGoing;
  });
  // Sends still in flight (pasted, or typed just before /quit or end of input) finish first.
  await s.drain();
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
