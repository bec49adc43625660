import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/server/migrations.js';
import { Store } from '../../src/server/store.js';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('SQLite store', () => {
  it('opens in WAL mode, migrates once, and reopens without migrating again', () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-store-'));
    const file = join(dir, 'chat.db');
    const first = new Store(file);
    expect(first.schema).toEqual({ from: 0, to: MIGRATIONS.length });
    expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const id = first.createUser('alice', 'hash', 1);
    first.close();
    const second = new Store(file);
    expect(second.schema).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
    expect(second.findUser('ALICE')?.id).toBe(id);
    second.close();
  });

  it('refuses a database from a newer server', () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-store-'));
    const file = join(dir, 'chat.db');
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new Store(file)).toThrow(/newer than this server/);
  });

  it('keeps names unique regardless of case', () => {
    const store = new Store(':memory:');
    store.createUser('Alice', 'h', 1);
    expect(() => store.createUser('alice', 'h', 1)).toThrow(expect.objectContaining({ code: 'NAME_TAKEN' }));
    store.close();
  });

  it('stores a (sender, clientMsgId) once, and advances delivered marks only forward', () => {
    const store = new Store(':memory:');
    const a = store.createUser('a', 'h', 1);
    const b = store.createUser('b', 'h', 1);
    const g = store.createGroup('g', a, [a, b], 1);
    const first = store.insertMessage(g.id, a, 'm1', 'hello', 2);
    const again = store.insertMessage(g.id, a, 'm1', 'hello', 3);
    expect(again).toEqual({ message: first.message, duplicate: true });
    // Another sender may use the same client id: the constraint is per sender.
    expect(store.insertMessage(g.id, b, 'm1', 'hi', 4).duplicate).toBe(false);
    expect(store.counts().messages).toBe(2);
    expect(store.markDelivered(g.id, b, first.message.messageId)).toEqual({ from: 0, to: first.message.messageId });
    expect(store.markDelivered(g.id, b, 0)).toEqual({ from: first.message.messageId, to: first.message.messageId });
    // Never past the newest message.
    expect(store.markDelivered(g.id, b, 10_000).to).toBe(store.newestMessageId(g.id));
    expect(store.deliveredCount(g.id, first.message.messageId, a)).toBe(1);
    store.close();
  });
});
