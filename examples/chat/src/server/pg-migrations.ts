/**
 * PostgreSQL schema migrations, applied in order at start-up. `chat_schema.version` records how
 * many have run; each runs in its own transaction under an advisory lock, so nodes starting at
 * the same time migrate once, and a crash mid-migration leaves the previous version. Never edit
 * a published migration: append a new one. The schema mirrors the SQLite one (migrations.ts);
 * names are ASCII (NAME_PATTERN), so `lower(name)` is SQLite's COLLATE NOCASE.
 */
import type pg from 'pg';

export const PG_MIGRATIONS: readonly string[] = [
  // 1: everything SQLite's migrations 1-4 hold, plus the nodes sharing the database and who is
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
    kind          TEXT   NOT NULL DEFAULT 'text',
    edited_at     BIGINT,
    deleted_at    BIGINT,
    UNIQUE (sender_id, client_msg_id)
  );
  CREATE INDEX messages_by_group ON messages (group_id, id);
  -- Membership by consent: an invitation the invitee accepts.
  CREATE TABLE invitations (
    group_id   BIGINT NOT NULL REFERENCES groups(id),
    user_id    BIGINT NOT NULL REFERENCES users(id),
    invited_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
  );
  CREATE INDEX invitations_by_user ON invitations (user_id, created_at);
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
  // 2: the two hot writes as functions, so that each is one statement (one round trip, its own
  // transaction): the group locks they take are held for the time of the statement, never
  // across round trips to a busy node. Their NOTIFY payloads are those of pg-events.ts.
  `
  -- Stores a message (or finds the one already stored under (sender, client id)); ids of a
  -- group rise in commit order because the group's write lock is taken before the id is drawn.
  -- o_id is NULL when the sender is not a member.
  CREATE FUNCTION chat_insert_message(p_group BIGINT, p_sender BIGINT, p_client_msg_id TEXT, p_text TEXT, p_now BIGINT, p_kind TEXT, p_origin TEXT,
      OUT o_id BIGINT, OUT o_duplicate BOOLEAN, OUT o_group TEXT, OUT o_sender_name TEXT, OUT o_text TEXT, OUT o_sent_at BIGINT,
      OUT o_recipients INTEGER, OUT o_kind TEXT, OUT o_edited_at BIGINT, OUT o_deleted_at BIGINT) LANGUAGE plpgsql AS $fn$
  DECLARE
    v_payload TEXT;
  BEGIN
    PERFORM pg_advisory_xact_lock(1, p_group::INTEGER);
    -- Only members post (a node may not have heard yet that the sender left): o_id stays NULL.
    IF NOT EXISTS (SELECT 1 FROM members WHERE group_id = p_group AND user_id = p_sender) THEN
      RETURN;
    END IF;
    INSERT INTO messages (group_id, sender_id, client_msg_id, text, sent_at, recipients, kind)
      SELECT p_group, p_sender, p_client_msg_id, p_text, p_now, COUNT(*) - 1, p_kind FROM members WHERE group_id = p_group
      ON CONFLICT (sender_id, client_msg_id) DO NOTHING
      RETURNING id INTO o_id;
    o_duplicate := o_id IS NULL;
    IF o_duplicate THEN
      SELECT id INTO o_id FROM messages WHERE sender_id = p_sender AND client_msg_id = p_client_msg_id;
    END IF;
    SELECT g.name, u.name, m.text, m.sent_at, m.recipients, m.kind, m.edited_at, m.deleted_at
      INTO o_group, o_sender_name, o_text, o_sent_at, o_recipients, o_kind, o_edited_at, o_deleted_at
      FROM messages m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.sender_id WHERE m.id = o_id;
    IF NOT o_duplicate THEN
      SELECT json_build_object('k', 'm', 'g', p_group, 'o', p_origin, 'id', m.id, 'gn', g.name, 's', m.sender_id, 'f', u.name,
               't', m.text, 'at', m.sent_at, 'c', m.client_msg_id, 'r', m.recipients, 'mk', m.kind)::TEXT
        INTO v_payload
        FROM messages m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.sender_id WHERE m.id = o_id;
      IF octet_length(v_payload) >= 7900 THEN
        v_payload := json_build_object('k', 'm', 'g', p_group, 'o', p_origin, 'id', o_id)::TEXT;
      END IF;
      PERFORM pg_notify('chat_events', v_payload);
    END IF;
  END
  $fn$;

  -- Raises a member's delivered mark (never down, never past the newest message); returns the
  -- mark before and after.
  CREATE FUNCTION chat_mark_delivered(p_group BIGINT, p_user BIGINT, p_upto BIGINT, OUT o_from BIGINT, OUT o_to BIGINT)
      LANGUAGE plpgsql AS $fn$
  BEGIN
    SELECT delivered_upto INTO o_from FROM members WHERE group_id = p_group AND user_id = p_user FOR UPDATE;
    IF o_from IS NULL THEN
      o_from := 0;
      o_to := 0;
      RETURN;
    END IF;
    SELECT GREATEST(o_from, LEAST(p_upto, COALESCE(MAX(id), 0))) INTO o_to FROM messages WHERE group_id = p_group;
    IF o_to > o_from THEN
      UPDATE members SET delivered_upto = o_to WHERE group_id = p_group AND user_id = p_user;
    END IF;
  END
  $fn$;

  -- Raises a member's read mark, and the delivered mark with it (shown implies received: a
  -- read can overtake its receipt); returns the read mark before and after.
  CREATE FUNCTION chat_mark_read(p_group BIGINT, p_user BIGINT, p_upto BIGINT, OUT o_from BIGINT, OUT o_to BIGINT)
      LANGUAGE plpgsql AS $fn$
  BEGIN
    SELECT read_upto INTO o_from FROM members WHERE group_id = p_group AND user_id = p_user FOR UPDATE;
    IF o_from IS NULL THEN
      o_from := 0;
      o_to := 0;
      RETURN;
    END IF;
    SELECT GREATEST(o_from, LEAST(p_upto, COALESCE(MAX(id), 0))) INTO o_to FROM messages WHERE group_id = p_group;
    IF o_to > o_from THEN
      UPDATE members SET read_upto = o_to, delivered_upto = GREATEST(delivered_upto, o_to) WHERE group_id = p_group AND user_id = p_user;
    END IF;
  END
  $fn$;

  -- Notifies delivery traces (received and read counts, read now) for the newest p_max messages
  -- in (p_from, p_to] of a group, 25 to a payload, leaving out a message whose sender's own
  -- marks were the only ones that moved. A node gathers its receipts for a few milliseconds and
  -- calls this once per group; the group's traces lock orders the calls, so each one's counts
  -- include every receipt committed before it and traces never go backwards.
  CREATE FUNCTION chat_publish_traces(p_group BIGINT, p_group_name TEXT, p_from BIGINT, p_to BIGINT, p_receivers BIGINT[], p_max INTEGER)
      RETURNS VOID LANGUAGE plpgsql AS $fn$
  DECLARE
    v_chunk RECORD;
  BEGIN
    PERFORM pg_advisory_xact_lock(2, p_group::INTEGER);
    FOR v_chunk IN
      SELECT json_agg(json_build_array(t.id, t.sender_id, t.client_msg_id, t.delivered, t.read, t.recipients) ORDER BY t.id) AS tr
      FROM (
        SELECT x.*, (row_number() OVER (ORDER BY x.id) - 1) / 25 AS bucket
        FROM (
          SELECT m.id, m.sender_id, m.client_msg_id, m.recipients,
            (SELECT COUNT(*) FROM members y WHERE y.group_id = m.group_id AND y.user_id != m.sender_id
               AND y.joined_after < m.id AND y.delivered_upto >= m.id) AS delivered,
            (SELECT COUNT(*) FROM members y WHERE y.group_id = m.group_id AND y.user_id != m.sender_id
               AND y.joined_after < m.id AND y.read_upto >= m.id) AS read
          FROM messages m
          WHERE m.group_id = p_group AND m.id > p_from AND m.id <= p_to
            AND NOT (cardinality(p_receivers) = 1 AND p_receivers[1] = m.sender_id)
          ORDER BY m.id DESC LIMIT p_max
        ) x
      ) t
      GROUP BY t.bucket ORDER BY t.bucket
    LOOP
      PERFORM pg_notify('chat_events', json_build_object('k', 't', 'g', p_group, 'gn', p_group_name, 'tr', v_chunk.tr)::TEXT);
    END LOOP;
  END
  $fn$;
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
