/**
 * Failover: two server nodes on one PostgreSQL database, 20 clients (in this process, real UDP)
 * all connected to node A and sending, then node A is killed with SIGKILL. Every client must
 * notice, reconnect to node B by itself and resume its session there; every message that was
 * acknowledged as stored before the kill must be in the history exactly once; every message
 * sent at all is stored once (retries after the failover carry the same clientMsgId); and every
 * client ends up having been shown every other member's message exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from 'reliable-dgram/testing';
import { ChatClient } from '../../src/client/chat-client.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { PasswordHasher } from '../../src/server/passwords.js';
import { PgChatStore } from '../../src/server/pg-store.js';
import type { StoredMessage } from '../../src/server/store.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { usePostgres } from '../support/postgres.js';
import { startServer, TEST_SERVER_ENV, type LineProcess } from '../support/processes.js';

const CLIENTS = 20;
const GROUP_SIZE = 5;

const pg = usePostgres();
let procs: LineProcess[] = [];
let clients: ChatClient[] = [];
let store: PgChatStore | null = null;

afterEach(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await store?.close();
  store = null;
  procs = [];
  clients = [];
});

async function until(what: string, pred: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function allMessages(s: PgChatStore, groupId: number): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  let before: number | null = null;
  for (;;) {
    const page = await s.history(groupId, before, 200);
    all.unshift(...page.messages);
    if (!page.more || page.messages.length === 0) return all;
    before = page.messages[0]?.messageId ?? null;
  }
}

describe('failover between two nodes', () => {
  it('kill -9 of node A under load: every client resumes on node B, nothing lost or twice', async (ctx) => {
    const url = await pg.database(ctx);
    // Users and groups straight into the database (this test is about messaging).
    store = await PgChatStore.open(url);
    const hash = await new PasswordHasher({ params: { log2N: Number(TEST_SERVER_ENV.CHAT_INSECURE_SCRYPT_LOG2N), r: 8, p: 1 } }).hash('failover-pw');
    const names = Array.from({ length: CLIENTS }, (_, i) => `user${i}`);
    const ids: number[] = [];
    for (const n of names) ids.push(await store.createUser(n, hash, Date.now()));
    const groupOf = (i: number): string => `f${Math.floor(i / GROUP_SIZE)}`;
    const groupIds = new Map<string, number>();
    for (let g = 0; g < CLIENTS / GROUP_SIZE; g++) {
      const members = ids.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE);
      groupIds.set(`f${g}`, (await store.createGroup(`f${g}`, members[0] ?? 0, members, Date.now(), 'setup', 'test/setup')).id);
    }

    const a = await startServer(url);
    procs.push(a.proc);
    const b = await startServer(url);
    procs.push(b.proc);
    expect(b.key).toBe(a.key);
    const nodeB = `127.0.0.1:${b.port}`;

    // Liveness tuned for a short test: the link to a dead node is given up after 3 s of silence.
    const transport = new ReliableDgramTransport({ endpointOptions: () => ({ idleTimeout: 3_000, keepAliveInterval: 500 }), trust: pinnedTrust(a.key) });
    const servers = [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ];
    clients = names.map(() => new ChatClient({ transport, servers }));
    const received = clients.map(() => new Map<number, number>());
    const reconnects = clients.map(() => [] as { user: string | null; server: string }[]);
    const sessionsLost: number[] = [];
    clients.forEach((c, i) => {
      c.on('message', (m) => received[i]?.set(m.messageId, (received[i]?.get(m.messageId) ?? 0) + 1));
      c.on('reconnected', (r) => reconnects[i]?.push({ user: r.user, server: r.server }));
      c.on('sessionLost', () => sessionsLost.push(i));
    });
    for (let i = 0; i < CLIENTS; i += 10) {
      await Promise.all(
        clients.slice(i, i + 10).map(async (c, j) => {
          await c.connect();
          await c.login(names[i + j] ?? '', 'failover-pw');
        }),
      );
    }
    expect(clients.every((c) => c.server === `127.0.0.1:${a.port}`)).toBe(true);

    // Everyone sends on a seeded schedule until told to stop.
    const rng = new Rng(18);
    let killed = false;
    let stop = false;
    const acked: { messageId: number; clientMsgId: string; beforeKill: boolean }[] = [];
    const failures: unknown[] = [];
    const loops = clients.map(async (c, i) => {
      for (let seq = 0; !stop; seq++) {
        await new Promise((r) => setTimeout(r, 20 + rng.next() * 160));
        if (stop) return;
        const clientMsgId = `u${i}-${seq}`;
        try {
          const reply = await c.send(groupOf(i), `from user${i} number ${seq}`, clientMsgId);
          acked.push({ messageId: reply.messageId, clientMsgId, beforeKill: !killed });
        } catch (err) {
          failures.push(err);
        }
      }
    });

    await until('200 messages stored through node A', () => acked.length >= 200);
    a.proc.child.kill('SIGKILL');
    killed = true;
    await a.proc.exited;
    const ackedBeforeKill = acked.filter((m) => m.beforeKill);

    // Every client notices, moves to B and resumes its session, by itself.
    await until('every client on node B', () => reconnects.every((r) => r.some((x) => x.server === nodeB)));
    const sentAfterFailover = acked.length;
    await until('more messages through node B', () => acked.length >= sentAfterFailover + 100);
    stop = true;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    expect(sessionsLost).toEqual([]);
    reconnects.forEach((r, i) => expect(r).toContainEqual({ user: names[i], server: nodeB }));

    // The store: each acknowledged message once, every send stored once (no duplicate texts).
    const storedByGroup = new Map<string, StoredMessage[]>();
    for (const [name, id] of groupIds) storedByGroup.set(name, await allMessages(store, id));
    const stored = [...storedByGroup.values()].flat();
    const storedIds = stored.map((m) => m.messageId);
    expect(new Set(storedIds).size).toBe(stored.length);
    expect(new Set(stored.map((m) => m.text)).size).toBe(stored.length);
    for (const m of ackedBeforeKill) expect(storedIds.filter((id) => id === m.messageId)).toHaveLength(1);
    expect(new Set(stored.map((m) => m.clientMsgId))).toEqual(new Set(acked.map((m) => m.clientMsgId)));

    // Every client was shown every other member's message exactly once (live or caught up).
    const expectedFor = (i: number): number[] =>
      (storedByGroup.get(groupOf(i)) ?? []).filter((m) => m.from !== names[i]).map((m) => m.messageId).sort((x, y) => x - y);
    await until('every client caught up', () => clients.every((_, i) => (received[i]?.size ?? 0) >= expectedFor(i).length), 20_000);
    for (let i = 0; i < CLIENTS; i++) {
      expect([...(received[i]?.keys() ?? [])].sort((x, y) => x - y)).toEqual(expectedFor(i));
      for (const times of received[i]?.values() ?? []) expect(times).toBe(1);
    }
    console.log(
      `failover: ${ackedBeforeKill.length} messages acknowledged by node A before its kill, ${acked.length} in all; ` +
        `${clients.reduce((n, c) => n + c.duplicatesDropped, 0)} backlog re-pushes dropped by clients as already shown`,
    );
  }, 90_000);
});
