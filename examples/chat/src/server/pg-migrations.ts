/**
 * PostgreSQL schema migrations, applied in order at start-up. `chat_schema.version` records how
 * many have run; each runs in its own transaction under an advisory lock, so nodes starting at
 * the same time migrate once, and a crash mid-migration leaves the previous version. Never edit
 * a published migration: append a new one. The schema mirrors the SQLite one (migrations.ts);
 * names are ASCII (NAME_PATTERN), so `lower(name)` is SQLite's COLLATE NOCASE.
 */
import type pg from 'pg';

export const PG_MIGRATIONS: readonly string[] = [
  // 1: everything SQLite's migrations 1-3 hold, plus the nodes sharing the database and who is
  // online on each (presence; rows of a node that stopped beating go with it).
  `
  CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX users_by_name ON users (lower(name));
  -- Tokens are stored only as their SHA-256: a leaked database holds no usable session.
  CREATE TABLE sessions (
    token_hash   BYTEA  PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
  );
  CREATE INDEX sessions_by_user ON sessions (user_id);
  CREATE TABLE groups (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX groups_by_name ON groups (lower(name));
  CREATE TABLE members (
    group_id       BIGINT NOT NULL REFERENCES groups(id),
    user_id        BIGINT NOT NULL REFERENCES users(id),
    joined_after   BIGINT NOT NULL,
    delivered_upto BIGINT NOT NULL,
    read_upto      BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
  );
  CREATE INDEX members_by_user ON members (user_id);
  -- Identity ids are never reused. Within a group they also rise in commit order: an insert
  -- takes the group's advisory lock before drawing its id (pg-store.ts, insertMessage).
  CREATE TABLE messages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id      BIGINT NOT NULL REFERENCES groups(id),
    sender_id     BIGINT NOT NULL REFERENCES users(id),
    client_msg_id TEXT   NOT NULL,
    text          TEXT   NOT NULL,
    sent_at       BIGINT NOT NULL,
    recipients    INTEGER NOT NULL,
    UNIQUE (sender_id, client_msg_id)
  );
  CREATE INDEX messages_by_group ON messages (group_id, id);
  CREATE TABLE secrets (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
  );
  CREATE TABLE throttle (
    key        TEXT             PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at BIGINT           NOT NULL,
    full_at    BIGINT           NOT NULL
  );
  CREATE TABLE nodes (
    id      TEXT        PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE presence (
    node_id TEXT   NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (node_id, user_id)
  );
  CREATE INDEX presence_by_user ON presence (user_id);
  `,
];

/** Any constant: the advisory lock that makes concurrent starts migrate one at a time. */
const MIGRATION_LOCK = 0x63686174; // "chat"

export async function migratePg(pool: pg.Pool): Promise<{ from: number; to: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS chat_schema (version INTEGER NOT NULL)');
    const row = (await client.query<{ version: number }>('SELECT version FROM chat_schema')).rows[0];
    if (!row) await client.query('INSERT INTO chat_schema (version) VALUES (0)');
    await client.query('COMMIT');
    const from = row?.version ?? 0;
    if (from > PG_MIGRATIONS.length) {
      throw new Error(`Database schema version ${from} is newer than this server (${PG_MIGRATIONS.length})`);
    }
    for (;;) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        // Read again under the lock: another node may have migrated meanwhile.
        const version = (await client.query<{ version: number }>('SELECT version FROM chat_schema')).rows[0]?.version ?? 0;
        if (version >= PG_MIGRATIONS.length) {
          await client.query('COMMIT');
          return { from, to: PG_MIGRATIONS.length };
        }
        await client.query(PG_MIGRATIONS[version] ?? '');
        await client.query('UPDATE chat_schema SET version = $1', [version + 1]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }
  } finally {
    client.release();
  }
}
