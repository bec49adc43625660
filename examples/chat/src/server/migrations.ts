/**
 * Schema migrations, applied in order at start-up. `PRAGMA user_version` records how many have
 * run; each runs in its own transaction, so a crash mid-migration leaves the previous version.
 * Never edit a published migration: append a new one.
 */
import type BetterSqlite3 from 'better-sqlite3';

export const MIGRATIONS: readonly string[] = [
  // 1: users, sessions, groups, members, messages.
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
  );
  -- Tokens are stored only as their SHA-256: a leaked database holds no usable session.
  CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_user ON sessions(user_id);
  CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL
  );
  -- joined_after: newest message id when the member joined (older messages are not counted as
  -- deliveries to them). delivered_upto / read_upto: per-member high-water marks.
  CREATE TABLE members (
    group_id       INTEGER NOT NULL REFERENCES groups(id),
    user_id        INTEGER NOT NULL REFERENCES users(id),
    joined_after   INTEGER NOT NULL,
    delivered_upto INTEGER NOT NULL,
    read_upto      INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX members_by_user ON members(user_id);
  -- AUTOINCREMENT: ids are never reused, so keyset paging and high-water marks stay valid.
  -- UNIQUE (sender_id, client_msg_id): a retried send is recognised, never stored twice.
  CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id      INTEGER NOT NULL REFERENCES groups(id),
    sender_id     INTEGER NOT NULL REFERENCES users(id),
    client_msg_id TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    sent_at       INTEGER NOT NULL,
    recipients    INTEGER NOT NULL,
    UNIQUE (sender_id, client_msg_id)
  );
  CREATE INDEX messages_by_group ON messages(group_id, id);
  `,
  // 2: server secrets that must survive a restart (the transport's stateless-reset key, so that
  // clients of a restarted server learn at once that their old connection is gone).
  `
  CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: membership by consent (invitations the invitee accepts), /me actions, edit and delete.
  `
  CREATE TABLE invitations (
    group_id   INTEGER NOT NULL REFERENCES groups(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    invited_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX invitations_by_user ON invitations(user_id, created_at);
  ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  `,
  // 4: login and registration throttling in the database (token buckets), so that an attempt is
  // reserved in a transaction before its password is checked: concurrent guesses cannot all pass
  // the check (and with PostgreSQL, guesses spread over several nodes share one budget).
  // full_at: when the bucket is full again (then the row can go).
  `
  CREATE TABLE throttle (
    key        TEXT    PRIMARY KEY,
    tokens     REAL    NOT NULL,
    updated_at INTEGER NOT NULL,
    full_at    INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

export function migrate(db: BetterSqlite3.Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > MIGRATIONS.length) {
    throw new Error(`Database schema version ${from} is newer than this server (${MIGRATIONS.length})`);
  }
  for (let version = from; version < MIGRATIONS.length; version++) {
    const apply = db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? '');
      db.pragma(`user_version = ${version + 1}`);
    });
    apply();
  }
  return { from, to: MIGRATIONS.length };
}
