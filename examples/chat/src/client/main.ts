/**
 * `chat-client`: the interactive (or scripted) chat client.
 *
 *   chat-client [--server 127.0.0.1:7777]
 *
 * Reads one command per line from stdin (a terminal or a pipe), prints one line per result.
 */
import { UsageError, parseFlags, parseHostPort } from '../cli-args.js';
import { ReliableDgramTransport } from '../transport/reliable-dgram.js';
import { ChatClient } from './chat-client.js';
import { ChatSession } from './session.js';
import { createTerminal } from './terminal.js';

const HELP = 'usage: chat-client [--server 127.0.0.1:7777]   (then /help for commands)';

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), ['server']);
  if (flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const { host, port } = parseHostPort(flags.get('server') ?? '127.0.0.1:7777');
  const terminal = createTerminal(process.stdin, process.stdout);
  const client = new ChatClient({ transport: new ReliableDgramTransport(), host, port });
  try {
    await client.connect();
  } catch (err) {
    terminal.close();
    const code = (err as { code?: string }).code;
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
