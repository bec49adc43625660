/**
 * Builds a chat server on an in-memory transport and SQLite database, with a cheap scrypt cost
 * (explicit test option) and a controllable clock, plus helpers to open clients against it.
 */
import { ChatClient } from '../../src/client/chat-client.js';
import { ChatServer, type ChatServerOptions } from '../../src/server/chat-server.js';
import { PasswordHasher } from '../../src/server/passwords.js';
import { SqliteChatStore } from '../../src/server/sqlite-store.js';
import { Store } from '../../src/server/store.js';
import { MemoryTransport } from './memory-transport.js';

/** Test-only scrypt cost: N=2^4 keeps a hash well under a millisecond. */
export const TEST_SCRYPT = { log2N: 4, r: 8, p: 1 };

export interface Harness {
  /** The synchronous SQLite store under the server's ChatStore, for checks. */
  store: Store;
  server: ChatServer;
  transport: MemoryTransport;
  port: number;
  clock: { now: number };
  logs: string[];
  client(options?: { reconnect?: boolean }): Promise<ChatClient>;
  /** A client that registered (if needed) and logged in as `user`. */
  loggedIn(user: string, password?: string): Promise<ChatClient>;
  /** `owner` creates the group and each member accepts the invitation (none: a one-person group, made in the store). */
  group(owner: ChatClient, name: string, members: ChatClient[]): Promise<void>;
  close(): Promise<void>;
}

export async function createHarness(options: Partial<ChatServerOptions> = {}, dbFile = ':memory:'): Promise<Harness> {
  const store = new Store(dbFile);
  const chatStore = new SqliteChatStore(store, dbFile);
  const clock = { now: 1_800_000_000_000 };
  const logs: string[] = [];
  const server = new ChatServer({
    store: chatStore,
    hasher: new PasswordHasher({ params: TEST_SCRYPT }),
    now: () => clock.now,
    log: (event, fields) => logs.push(`${event} ${JSON.stringify(fields ?? {})}`),
    // Traces at the end of the turn, so that tests can wait for them with settle().
    traceDelayMs: 0,
    ...options,
  });
  const transport = new MemoryTransport();
  const listener = await transport.listen('127.0.0.1', 0);
  server.attach(listener);
  const clients: ChatClient[] = [];
  const client = async (o: { reconnect?: boolean } = {}): Promise<ChatClient> => {
    const c = new ChatClient({ transport, host: '127.0.0.1', port: listener.port, reconnect: o.reconnect ?? false });
    await c.connect();
    clients.push(c);
    return c;
  };
  return {
    store,
    server,
    transport,
    port: listener.port,
    clock,
    logs,
    client,
    async loggedIn(user, password = `${user}-password`) {
      const c = await client();
      if (!store.findUser(user)) await c.register(user, password);
      await c.login(user, password);
      return c;
    },
    async group(owner, name, members) {
      if (members.length === 0) {
        const id = store.findUser(owner.user ?? '')?.id ?? 0;
        store.createGroup(name, id, [id], clock.now);
        return;
      }
      await owner.createGroup(name, members.map((m) => m.user ?? ''));
      for (const m of members) await m.accept(name);
    },
    async close() {
      for (const c of clients) await c.close().catch(() => {});
      server.close();
      store.close();
    },
  };
}

/** Resolves with the next `count` events of `name` (bounded by vitest's test timeout). */
export function nextEvents<T>(client: ChatClient, name: 'message' | 'trace' | 'invited' | 'joined' | 'edited' | 'deleted' | 'typing', count = 1): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    const listener = (event: T): void => {
      got.push(event);
      if (got.length === count) {
        client.off(name, listener as never);
        resolve(got);
      }
    };
    client.on(name, listener as never);
  });
}

/** Runs `fn` and returns the ChatRequestError code it rejects with. */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  throw new Error('expected the request to fail');
}

/** Lets queued microtasks and immediates run (the memory transport delivers on microtasks). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
