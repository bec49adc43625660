/**
 * Picks the store from `--db` (or DATABASE_URL): a `postgres://` or `postgresql://` URL opens the
 * PostgreSQL store (several nodes may share it); anything else is a SQLite file (one node).
 */
import type { ChatStore } from './chat-store.js';
import { PgChatStore, type PgStoreOptions } from './pg-store.js';
import { SqliteChatStore } from './sqlite-store.js';
import type { StoreOptions } from './store.js';

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export async function openStore(db: string, options: StoreOptions & PgStoreOptions = {}): Promise<ChatStore> {
  if (isPostgresUrl(db)) return PgChatStore.open(db, options);
  return SqliteChatStore.open(db, options);
}
