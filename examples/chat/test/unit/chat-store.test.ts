/**
 * The ChatStore contract, on both implementations: SQLite (in memory) and PostgreSQL (a real
 * server in a temporary directory, test/support/postgres.ts). Then what only PostgreSQL can do:
 * two stores on one database, i.e. two nodes, sharing events, ids, throttle and presence.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatStore, StoreEvent, ThrottleKey } from '../../src/server/chat-store.js';
import { encodeEvent, MAX_PAYLOAD_BYTES } from '../../src/server/pg-events.js';
import { PG_MIGRATIONS } from '../../src/server/pg-migrations.js';
import { PgChatStore } from '../../src/server/pg-store.js';
import { SqliteChatStore } from '../../src/server/sqlite-store.js';
import { freshDatabase, usePostgres } from '../support/postgres.js';

const pg = usePostgres();
let opened: ChatStore[] = [];

afterEach(async () => {
  for (const s of opened) await s.close().catch(() => {});
  opened = [];
});

async function openPg(url: string): Promise<PgChatStore> {
  const store = await PgChatStore.open(url);
  opened.push(store);
  return store;
}

const kinds: { name: string; open: () => Promise<ChatStore | null> }[] = [
  {
    name: 'SQLite',
    open: async () => {
      const s = SqliteChatStore.open(':memory:');
      opened.push(s);
      return s;
    },
  },
  { name: 'PostgreSQL', open: async () => (pg.server ? openPg(await freshDatabase(pg.server)) : null) },
];

/** Events heard by a store, and a way to wait (bounded) until a condition holds. */
function recorder(store: ChatStore): { events: StoreEvent[]; until(pred: (events: StoreEvent[]) => boolean): Promise<void> } {
  const events: StoreEvent[] = [];
  store.onEvent((e) => events.push(e));
  return {
    events,
    async until(pred) {
      for (let i = 0; i < 500 && !pred(events); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pred(events)).toBe(true);
    },
  };
}

const messageIds = (events: StoreEvent[]): number[] => events.flatMap((e) => (e.kind === 'message' ? [e.message.messageId] : []));

for (const kind of kinds) {
  describe(`${kind.name} store`, { timeout: 30_000 }, () => {
    it('keeps names unique ignoring case, and stores a (sender, clientMsgId) once', async (ctx) => {
      const store = await kind.open();
      if (!store) return ctx.skip();
      const a = await store.createUser('Alice', 'h', 1);
      await expect(store.createUser('alice', 'h', 1)).rejects.toMatchObject({ code: 'NAME_TAKEN' });
      expect((await store.findUser('ALICE'))?.id).toBe(a);
      const b = await store.createUser('bob', 'h', 1);
      const rec = recorder(store);
      const g = await store.createGroup('team', a, [a, b], 1, 'Alice', 'n/c1');
      await expect(store.createGroup('TEAM', a, [a], 1, 'Alice', 'n/c1')).rejects.toMatchObject({ code: 'NAME_TAKEN' });
      const first = await store.insertMessage(g.id, a, 'm1', 'hello', 2, 'text', 'n/c1');
      const again = await store.insertMessage(g.id, a, 'm1', 'hello', 3, 'text', 'n/c1');
      expect(again).toEqual({ message: first.message, duplicate: true });
      expect((await store.insertMessage(g.id, b, 'm1', 'hi', 4, 'text', 'n/c2')).duplicate).toBe(false);
      expect(first.message).toMatchObject({ group: 'team', from: 'Alice', text: 'hello', recipients: 1, clientMsgId: 'm1' });
      // Events: two `added` (creation), then one message per stored message (none for the retry).
      await rec.until((e) => messageIds(e).length === 2);
      expect(rec.events.filter((e) => e.kind === 'added').map((e) => (e.kind === 'added' ? e.userId : 0))).toEqual([a, b]);
      expect(rec.events.find((e) => e.kind === 'message')).toMatchObject({ kind: 'message', groupId: g.id, origin: 'n/c1', message: first.message });
      expect((await store.history(g.id, null, 10)).messages.map((m) => m.text)).toEqual(['hello', 'hi']);
    });

    it('raises delivered and read marks only forward, publishes traces with both counts, and joins by invitation', async (ctx) => {
      const store = await kind.open();
      if (!store) return ctx.skip();
      const [a, b, c] = [await store.createUser('a', 'h', 1), await store.createUser('b', 'h', 1), await store.createUser('c', 'h', 1)];
      const g = await store.createGroup('g', a, [a, b, c], 1, 'a', 'n/c1');
      const m = (await store.insertMessage(g.id, a, 'x', 'one', 2, 'text', 'n/c1')).message;
      const rec = recorder(store);
      const mark = async (userId: number, upTo: number): Promise<{ from: number; to: number }> => (await store.markDeliveredMany([{ groupId: g.id, userId, upTo }]))[0] ?? { from: -1, to: -1 };
      expect(await mark(b, m.messageId)).toEqual({ from: 0, to: m.messageId });
      expect(await mark(b, 0)).toEqual({ from: m.messageId, to: m.messageId });
      await store.publishTraces(g, 0, m.messageId, [b], 50);
      expect((await mark(c, 10_000)).to).toBe(m.messageId); // never past the newest
      expect(await store.markRead(g.id, c, m.messageId)).toEqual({ from: 0, to: m.messageId });
      await store.publishTraces(g, 0, m.messageId, [c], 50);
      // Only the sender's own marks moved: no trace.
      await store.publishTraces(g, 0, m.messageId, [a], 50);
      const traced = (): number[][] => rec.events.flatMap((e) => (e.kind === 'traces' ? e.traces.map((t) => [t.messageId, t.senderId, t.delivered, t.read, t.recipients]) : []));
      await rec.until(() => traced().length === 2);
      expect(traced()).toEqual([
        [m.messageId, a, 1, 0, 2],
        [m.messageId, a, 2, 1, 2],
      ]);
      expect(await store.deliveredCount(g.id, m.messageId, a)).toBe(2);
      // A member who joins now (by accepting an invitation) starts at the present.
      const d = await store.createUser('d', 'h', 1);
      expect(await store.invite(g, d, a, 'a', 3, 'n/c1')).toBe(true);
      expect(await store.invite(g, d, a, 'a', 3, 'n/c1')).toBe(false);
      expect(await store.invitationsOf(d)).toEqual([{ group: 'g', by: 'a' }]);
      expect((await store.acceptInvitation('G', d, 'd', 'n/c4'))?.id).toBe(g.id);
      expect(await store.acceptInvitation('g', d, 'd', 'n/c4')).toBeUndefined();
      expect((await store.groupsOf(d))[0]).toMatchObject({ name: 'g', unread: 0, deliveredUpto: m.messageId, members: 4 });
      await rec.until((e) => e.some((x) => x.kind === 'added' && x.how === 'joined'));
      // (PostgreSQL delivers the creation's `added` events late enough for this recorder to hear them.)
      expect(rec.events.filter((x) => x.kind === 'invited' || (x.kind === 'added' && x.how === 'joined'))).toEqual([
        { kind: 'invited', userId: d, group: 'g', by: 'a', origin: 'n/c1' },
        { kind: 'added', groupId: g.id, group: 'g', userId: d, user: 'd', how: 'joined', origin: 'n/c4' },
      ]);
      // Edit and delete the last message.
      expect(await store.lastMessageOf(g.id, a)).toBe(m.messageId);
      expect(await store.editMessage(g, m.messageId, 'one!', 4, 'n/c1')).toBe(true);
      expect(await store.deleteMessage(g, m.messageId, 5, 'n/c1')).toBe(true);
      expect(await store.editMessage(g, m.messageId, 'again', 6, 'n/c1')).toBe(false);
      await rec.until((e) => e.some((x) => x.kind === 'deleted'));
      expect(rec.events.find((x) => x.kind === 'edited')).toMatchObject({ messageId: m.messageId, text: 'one!', editedAt: 4 });
      expect((await store.history(g.id, null, 5)).messages[0]).toMatchObject({ text: '', deleted: true, editedAt: 4 });
    });

    it('never lets concurrent attempts take more tokens than the bucket holds, and refunds', async (ctx) => {
      const store = await kind.open();
      if (!store) return ctx.skip();
      const user: ThrottleKey = { key: 'login-user:alice', burst: 5, refillMs: 60_000 };
      const address: ThrottleKey = { key: 'login-address:10.0.0.1', burst: 20, refillMs: 6_000 };
      const results = await Promise.all(Array.from({ length: 30 }, () => store.takeTokens([user, address], 1_000)));
      expect(results.filter((w) => w === 0)).toHaveLength(5);
      expect(Math.min(...results.filter((w) => w > 0))).toBeGreaterThan(0);
      // Refunding one (a correct password) lets exactly one more in; time refills too.
      await store.returnTokens([user, address], 1_000);
      expect(await store.takeTokens([user, address], 1_000)).toBe(0);
      expect(await store.takeTokens([user, address], 1_000)).toBeGreaterThan(0);
      expect(await store.takeTokens([user, address], 61_000)).toBe(0);
      // An empty bucket refuses without taking from the other one.
      const other: ThrottleKey = { key: 'login-user:bob', burst: 5, refillMs: 60_000 };
      for (let i = 0; i < 14; i++) await store.takeTokens([other, address], 61_000);
      expect(await store.takeTokens([other, address], 61_000)).toBeGreaterThan(0);
      await store.pruneTokens(10_000_000);
      expect(await store.takeTokens([user, address], 10_000_000)).toBe(0);
    });

    it('keeps secrets across calls and users across sessions', async (ctx) => {
      const store = await kind.open();
      if (!store) return ctx.skip();
      const first = await store.secret('k', () => Buffer.from('one'));
      expect(await store.secret('k', () => Buffer.from('two'))).toEqual(first);
      const u = await store.createUser('eve', 'h', 1);
      const token = Buffer.alloc(32, 7);
      await store.createSession(token, u, 5);
      expect(await store.findSession(token)).toEqual({ userId: u, userName: 'eve', createdAt: 5, lastSeenAt: 5 });
      const rec = recorder(store);
      expect(await store.deleteSession(token)).toBe(true);
      expect(await store.deleteSession(token)).toBe(false);
      await rec.until((e) => e.some((x) => x.kind === 'revoked'));
      expect(rec.events.filter((x) => x.kind === 'revoked')).toEqual([{ kind: 'revoked', tokenHash: token }]);
    });
  });
}

describe('NOTIFY payloads', () => {
  it('stay under 8,000 bytes: a large message spills to its id, traces split over several', () => {
    const message = { group: 'g', messageId: 9, from: 'a', text: 'é'.repeat(4000), sentAt: 1, kind: 'text' as const, senderId: 1, clientMsgId: 'x', recipients: 3 };
    const [spilled] = encodeEvent({ kind: 'message', groupId: 1, message, origin: 'n/c1' });
    expect(JSON.parse(spilled ?? '')).toEqual({ k: 'm', g: 1, o: 'n/c1', id: 9 });
    const small = encodeEvent({ kind: 'message', groupId: 1, message: { ...message, text: 'hi' }, origin: 'n/c1' });
    expect(JSON.parse(small[0] ?? '')).toMatchObject({ t: 'hi' });
    const traces = Array.from({ length: 200 }, (_, i) => ({ messageId: i, senderId: 1, clientMsgId: 'c'.repeat(64), delivered: 255, read: 255, recipients: 255 }));
    const payloads = encodeEvent({ kind: 'traces', groupId: 1, group: 'g'.repeat(32), traces });
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(MAX_PAYLOAD_BYTES);
    expect(payloads.flatMap((p) => (JSON.parse(p) as { tr: unknown[] }).tr)).toHaveLength(200);
  });
});

describe('PostgreSQL: two nodes on one database', { timeout: 60_000 }, () => {
  it('migrates once, and refuses a database from a newer server', async (ctx) => {
    const url = await pg.database(ctx);
    const [a, b] = await Promise.all([openPg(url), openPg(url)]); // two nodes starting together
    expect([a.schema.to, b.schema.to]).toEqual([PG_MIGRATIONS.length, PG_MIGRATIONS.length]);
    expect((await openPg(url)).schema).toEqual({ from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length });
    const probe = await openPg(url);
    await (probe as unknown as { pool: { query(q: string): Promise<unknown> } }).pool.query(`UPDATE chat_schema SET version = ${PG_MIGRATIONS.length + 1}`);
    await expect(PgChatStore.open(url)).rejects.toThrow(/newer than this server/);
  });

  it('delivers every event to both nodes, and ids rise per group in event order under concurrent sends', async (ctx) => {
    const url = await pg.database(ctx);
    const [nodeA, nodeB] = [await openPg(url), await openPg(url)];
    const [recA, recB] = [recorder(nodeA), recorder(nodeB)];
    const u1 = await nodeA.createUser('u1', 'h', 1);
    const u2 = await nodeB.createUser('u2', 'h', 1);
    const g = await nodeA.createGroup('g', u1, [u1, u2], 1, 'u1', 'A/c1');
    // 2 x 40 sends at once, half through each node: ids come from both, and commit in any order.
    const sends = Array.from({ length: 80 }, (_, i) => (i % 2 ? nodeA : nodeB).insertMessage(g.id, i % 2 ? u1 : u2, `m${i}`, i === 7 ? 'x'.repeat(9000) : `text ${i}`, 2, 'text', i % 2 ? 'A/c1' : 'B/c1'));
    const stored = await Promise.all(sends);
    const ids = stored.map((s) => s.message.messageId);
    expect(new Set(ids).size).toBe(80);
    for (const rec of [recA, recB]) {
      await rec.until((e) => messageIds(e).length === 80);
      const order = messageIds(rec.events);
      expect(order).toEqual([...order].sort((x, y) => x - y)); // pushed in id order
      expect(new Set(order)).toEqual(new Set(ids));
      // The spilled one (9,000 characters) arrives whole, read back from its row.
      const big = rec.events.find((e) => e.kind === 'message' && e.message.clientMsgId === 'm7');
      expect(big?.kind === 'message' && big.message.text.length).toBe(9000);
    }
    expect(recB.events.filter((e) => e.kind === 'added')).toHaveLength(2);
    // Not stored, only relayed: a typing notice from node A reaches node B.
    await nodeA.relay({ kind: 'typing', groupId: g.id, group: 'g', userId: u1, user: 'u1', origin: 'A/c1' });
    await recB.until((e) => e.some((x) => x.kind === 'typing'));
    expect(recB.events.find((x) => x.kind === 'typing')).toEqual({ kind: 'typing', groupId: g.id, group: 'g', userId: u1, user: 'u1', origin: 'A/c1' });
  });

  it('shares the login throttle: guesses spread over two nodes get one budget', async (ctx) => {
    const url = await pg.database(ctx);
    const [nodeA, nodeB] = [await openPg(url), await openPg(url)];
    const key: ThrottleKey = { key: 'login-user:alice', burst: 5, refillMs: 60_000 };
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? nodeA : nodeB).takeTokens([key], 1_000)));
    expect(results.filter((w) => w === 0)).toHaveLength(5);
  });

  it('tells the server to resync when its LISTEN connection was lost, and listens again', async (ctx) => {
    const url = await pg.database(ctx);
    const [node, other] = [await openPg(url), await openPg(url)];
    let resyncs = 0;
    node.onResync(() => resyncs++);
    const rec = recorder(node);
    // Cut the LISTEN connections (both nodes'; only this node's resyncs are counted).
    const admin = other as unknown as { pool: { query(q: string): Promise<unknown> } };
    await admin.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN chat_events' AND datname = current_database()");
    for (let i = 0; i < 300 && resyncs === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(resyncs).toBe(1);
    // Listening again: a later event arrives.
    const u = await other.createUser('late', 'h', 1);
    await other.createGroup('late', u, [u], 1, 'late', 'B/c1');
    await rec.until((e) => e.some((x) => x.kind === 'added' && x.group === 'late'));
  });

  it('shows who is online on the other node, until that node stops', async (ctx) => {
    const url = await pg.database(ctx);
    const [nodeA, nodeB] = [await openPg(url), await openPg(url)];
    const u = await nodeA.createUser('u', 'h', 1);
    nodeA.setOnline(u, true);
    for (let i = 0; i < 100 && !(await nodeB.onlineElsewhere([u])).has(u); i++) await new Promise((r) => setTimeout(r, 10));
    expect((await nodeB.onlineElsewhere([u])).has(u)).toBe(true);
    expect((await nodeA.onlineElsewhere([u])).has(u)).toBe(false); // "elsewhere" means other nodes
    expect(await nodeB.secret('s', () => Buffer.from('b'))).toEqual(await nodeA.secret('s', () => Buffer.from('a')));
    await nodeA.close();
    expect((await nodeB.onlineElsewhere([u])).has(u)).toBe(false);
  });
});
