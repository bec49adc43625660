/**
 * `chat-server`: the chat server on UDP, with a SQLite file (one node) or a PostgreSQL database
 * (several nodes may share it: `--db postgres://...`, or DATABASE_URL when --db is not given).
 *
 *   chat-server [--db ./chat.db | postgres://...] [--host 127.0.0.1] [--port 7777]
 *               [--synchronous normal|full] [--key-file <file>]
 *
 * Test-only knob, never needed in production: CHAT_INSECURE_SCRYPT_LOG2N=<n> lowers scrypt's cost
 * to N=2^n so a test suite can register hundreds of users quickly (a warning is logged).
 */
import { UsageError, parseFlags, parsePort } from '../cli-args.js';
import { randomBytes } from 'node:crypto';
import { ReliableDgramTransport } from '../transport/reliable-dgram.js';
import { fingerprint, generateServerIdentity, identityFromPkcs8 } from '../transport/server-key.js';
import { ChatServer } from './chat-server.js';
import { streamLogger } from './log.js';
import { OWASP_SCRYPT, PasswordHasher, type ScryptParams } from './passwords.js';
import { isPostgresUrl, openStore } from './open-store.js';
import { loadOrCreateKeyFile } from './server-key.js';

const HELP = `usage: chat-server [--db ./chat.db | postgres://user@host/db] [--host 127.0.0.1] [--port 7777] [--synchronous normal|full] [--key-file <file>]
  --db defaults to $DATABASE_URL, else ./chat.db. Nodes sharing one PostgreSQL database form one chat.`;

function scryptParams(log: ReturnType<typeof streamLogger>): ScryptParams {
  const raw = process.env['CHAT_INSECURE_SCRYPT_LOG2N'];
  if (raw === undefined || raw === '') return OWASP_SCRYPT;
  const log2N = Number(raw);
  if (!Number.isInteger(log2N) || log2N < 1 || log2N > 20) throw new Error('CHAT_INSECURE_SCRYPT_LOG2N must be an integer 1-20');
  log('warning', { message: `scrypt cost lowered to N=2^${log2N} by CHAT_INSECURE_SCRYPT_LOG2N: for tests only` });
  return { ...OWASP_SCRYPT, log2N };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), ['db', 'host', 'port', 'synchronous', 'key-file']);
  if (flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const log = streamLogger((line) => process.stdout.write(line));
  const db = flags.get('db') ?? (process.env['DATABASE_URL'] || './chat.db');
  const host = flags.get('host') ?? '127.0.0.1';
  const port = parsePort(flags.get('port') ?? '7777');
  const synchronous = flags.get('synchronous') ?? 'normal';
  if (synchronous !== 'normal' && synchronous !== 'full') throw new UsageError('--synchronous is normal or full');
  if (flags.has('synchronous') && isPostgresUrl(db)) throw new UsageError('--synchronous is for SQLite (PostgreSQL: set synchronous_commit in the database)');

  const store = await openStore(db, { synchronous, onError: (what, err) => log('error', { store: what, error: err instanceof Error ? err.message : String(err) }) });
  const hasher = new PasswordHasher({ params: scryptParams(log) });
  const server = new ChatServer({ store, hasher, log });
  // The stateless-reset key outlives the process: after a crash or restart, a client's packets on
  // its old connection are answered with a valid reset, so it reconnects at once instead of
  // waiting for its idle timeout.
  // Shared by all nodes of a PostgreSQL deployment, like the server key below.
  const resetKey = await store.secret('transport-reset-key', () => randomBytes(32));
  // The server's long-term key: clients pin it (trust on first use, or --server-key). Every node
  // of one deployment must present the same one: from --key-file, or else from the database.
  const keyFile = flags.get('key-file');
  const identity = identityFromPkcs8(keyFile ? loadOrCreateKeyFile(keyFile) : await store.secret('server-identity', () => generateServerIdentity().pkcs8));
  const transport = new ReliableDgramTransport({ endpointOptions: () => ({ resetKey }), keyPair: identity });
  const listener = await transport.listen(host, port);
  server.attach(listener);
  log('start', { db: store.description, node: store.nodeId, schema: store.schema.to, users: await store.userCount(), listen: `${listener.host}:${listener.port}`, key: fingerprint(identity.publicKey), pid: process.pid });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log('stop', { signal, connections: server.connectionCount });
    // Clients are told why (goodbye "restarting") and closed gracefully, so they print
    // "server restarting, reconnecting" rather than a reset; bounded by the server's grace time.
    server
      .shutdown('restarting')
      .then(() => listener.close())
      .catch(() => {})
      .finally(() => {
        store
          .close()
          .catch(() => {})
          .finally(() => process.exit(0));
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`chat-server: ${err instanceof Error ? err.message : String(err)}\n${err instanceof UsageError ? HELP + '\n' : ''}`);
  process.exit(1);
});
