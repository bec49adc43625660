/**
 * Load: the real server process and 200 clients (in this process, on 10 UDP sockets)
 * in 20 groups of 10, all sending for a few seconds. Every message must reach every other member
 * of its group exactly once; the test prints delivery latency p50/p99 and throughput.
 * Twice: one node on SQLite, then two nodes on one PostgreSQL database with the clients spread
 * over both (every group has members on each node, so every message crosses between nodes).
 *
 * Tunable for benchmarking (defaults keep the test short on 2 cores):
 * CHAT_LOAD_SECONDS (3), CHAT_LOAD_INTERVAL_MS (mean gap between one client's sends, 1000),
 * CHAT_LOAD_CLIENTS (200), CHAT_LOAD_PG_NODES (2: nodes in the PostgreSQL run).
 * CHAT_LOAD_DUMP=<file>: writes every delivery of the SQLite run as JSON (bench/history.md,
 * "Where the chat's slow deliveries wait"), [recipient, messageId, sent, stored, received] in ms
 * since the epoch: sent and received on this process's clock, stored is the server's `sentAt`.
 *
 * Besides p50/p99 over the whole send phase (what the benchmark row reports), the line splits
 * the p99 by send time (the first second, when both processes run cold code, and the rest) and
 * by stage (client send -> stored by the server, stored -> handed to the recipient).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from 'reliable-dgram/testing';
import { ChatClient } from '../../src/client/chat-client.js';
import { PasswordHasher } from '../../src/server/passwords.js';
import { PgChatStore } from '../../src/server/pg-store.js';
import { Store } from '../../src/server/store.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { freshDatabase, postgresForTests, type TempPostgres } from '../support/postgres.js';
import { startServer, TEST_SERVER_ENV, type LineProcess } from '../support/processes.js';

const CLIENTS = Number(process.env['CHAT_LOAD_CLIENTS'] ?? 200);
const GROUP_SIZE = 10;
const SECONDS = Number(process.env['CHAT_LOAD_SECONDS'] ?? 3);
const INTERVAL_MS = Number(process.env['CHAT_LOAD_INTERVAL_MS'] ?? 1000);
/** Server nodes in the PostgreSQL run. */
const PG_NODES = Number(process.env['CHAT_LOAD_PG_NODES'] ?? 2);
const DUMP = process.env['CHAT_LOAD_DUMP'];
const CLOSED_LOOP = process.env['CHAT_LOAD_CLOSED_LOOP'] === '1';

let servers: LineProcess[] = [];
let clients: ChatClient[] = [];
let pg: TempPostgres | null = null;

beforeAll(async () => {
  pg = await postgresForTests();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});
let dir = '';
let cleanupTransports: ReliableDgramTransport[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  for (const t of cleanupTransports) await t.close().catch(() => {});
  cleanupTransports = [];
  await Promise.all(servers.map((s) => s.kill('SIGTERM')));
  if (dir) rmSync(dir, { recursive: true, force: true });
  clients = [];
  servers = [];
});


/** CPU time (user + system) a process has used so far, ms, from /proc (Linux; NaN elsewhere). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * The delivery latency split two ways: by when the message was sent (its first second, which
 * includes both processes' warm-up, and the rest), and by stage, at the server's `sentAt` (stored).
 */
function splitLatencies(deliveries: readonly (readonly [number, number, number, number, number])[], t0: number): { firstSecondP99: number; steadyP99: number; toStoredP99: number; fromStoredP99: number } {
  const p99 = (values: number[]): number => percentile(values.sort((a, b) => a - b), 99);
  const first = deliveries.filter((d) => d[2] < t0 + 1000);
  const rest = deliveries.filter((d) => d[2] >= t0 + 1000);
  return {
    firstSecondP99: p99(first.map((d) => d[4] - d[2])),
    steadyP99: p99(rest.map((d) => d[4] - d[2])),
    toStoredP99: p99(deliveries.map((d) => d[3] - d[2])),
    fromStoredP99: p99(deliveries.map((d) => d[4] - d[3])),
  };
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('chat load', () => {
  for (const mode of ['SQLite, 1 node', `PostgreSQL, ${PG_NODES} nodes`] as const) {
  it(`delivers every message exactly once to every online member (${CLIENTS} clients, ${CLIENTS / GROUP_SIZE} groups, ${mode})`, async (ctx) => {
    const postgres = mode.startsWith('PostgreSQL');
    if (postgres && !pg) return ctx.skip();
    // Users and groups are created directly in the database: this test measures messaging, and
    // registration is throttled per address on purpose.
    const names = Array.from({ length: CLIENTS }, (_, i) => `user${i}`);
    const hash = await new PasswordHasher({ params: { log2N: Number(TEST_SERVER_ENV.CHAT_INSECURE_SCRYPT_LOG2N), r: 8, p: 1 } }).hash('load-password');
    const groupOf = (i: number): string => `g${Math.floor(i / GROUP_SIZE)}`;
    let db: string;
    if (postgres && pg) {
      db = await freshDatabase(pg);
      const store = await PgChatStore.open(db);
      const ids: number[] = [];
      for (const n of names) ids.push(await store.createUser(n, hash, Date.now()));
      for (let g = 0; g < CLIENTS / GROUP_SIZE; g++) await store.createGroup(`g${g}`, ids[g * GROUP_SIZE] ?? 0, ids.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE), Date.now(), 'setup', 'test/setup');
      await store.close();
    } else {
      dir = mkdtempSync(join(tmpdir(), 'chat-load-'));
      db = join(dir, 'chat.db');
      const store = new Store(db);
      const ids = names.map((n) => store.createUser(n, hash, Date.now()));
      for (let g = 0; g < CLIENTS / GROUP_SIZE; g++) store.createGroup(`g${g}`, ids[g * GROUP_SIZE] ?? 0, ids.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE), Date.now());
      store.close();
    }

    const nodes = [await startServer(db)];
    for (let n = 1; postgres && n < PG_NODES; n++) nodes.push(await startServer(db));
    servers = nodes.map((n) => n.proc);
    const started = nodes[0] ?? { port: 0, key: '' };
    // Client i uses node i mod 2 (with two nodes): each group of 10 has 5 members on each node.
    const portOf = (i: number): number => nodes[i % nodes.length]?.port ?? 0;
    // The simulated clients share 10 UDP sockets (20 connections each, told apart by connection
    // ID): 200 sockets, each with its own timers, would make this process the bottleneck.
    const transports = Array.from({ length: 10 }, () => new ReliableDgramTransport({ shareClientEndpoint: true, trust: pinnedTrust(started.key) }));
    cleanupTransports = transports;
    clients = names.map((_, i) => new ChatClient({ transport: transports[i % transports.length] as ReliableDgramTransport, host: '127.0.0.1', port: portOf(i), reconnect: false }));

    /** received[i]: message id -> times client i was handed it. */
    const received = clients.map(() => new Map<number, number>());
    const latencies: number[] = [];
    /** Per delivery: [recipient, messageId, sent, stored, received], ms since the epoch (see CHAT_LOAD_DUMP). */
    const deliveries: [number, number, number, number, number][] = [];
    clients.forEach((c, i) =>
      c.on('message', (m) => {
        const map = received[i];
        map?.set(m.messageId, (map.get(m.messageId) ?? 0) + 1);
        const sentAt = Number(/@(\d+(?:\.\d+)?)$/.exec(m.text)?.[1]);
        const now = performance.now();
        latencies.push(now - sentAt);
        deliveries.push([i, m.messageId, performance.timeOrigin + sentAt, m.sentAt, performance.timeOrigin + now]);
      }),
    );
    // 10 at a time: a login in flight holds one of its address's 20 throttle tokens until it succeeds.
    await inBatches(clients.map((c, i) => [c, i] as const), 10, async ([c, i]) => {
      await c.connect();
      await c.login(names[i] ?? '', 'load-password');
    });

    // Send phase: each client sends on its own seeded schedule until the time is up.
    const seeded = new Rng(42);
    const rng = (): number => seeded.next();
    const sent: { group: string; messageId: number; sender: number }[] = [];
    const sendFailures: unknown[] = [];
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    // CPU used from here to the last delivery, per stored message: a count that other jobs on a
    // shared machine disturb far less than latency.
    // (With several nodes: all of them together.)
    const serverPids = servers.map((sv) => sv.child.pid);
    const serversCpu = (): number => serverPids.reduce<number>((n, pid) => n + cpuMsOf(pid), 0);
    const messagesAt = (): number => clients.reduce((n, c) => n + c.messagesSent + c.messagesReceived, 0);
    const messages0 = messagesAt();
    const serverCpu0 = serversCpu();
    const ownCpu0 = process.cpuUsage();
    // Open loop (default): each client sends on its own seeded schedule whether or not its
    // earlier sends were answered, as people do; so the offered load really is CLIENTS /
    // INTERVAL_MS. (A closed loop, CHAT_LOAD_CLOSED_LOOP=1, waits for each reply first: its
    // rate is CLIENTS / (INTERVAL_MS + reply time), which is what capped the first figures.)
    const storedLatencies: number[] = [];
    await Promise.all(
      clients.map(async (c, i) => {
        let seq = 0;
        const inflight: Promise<void>[] = [];
        for (;;) {
          await new Promise((r) => setTimeout(r, rng() * 2 * INTERVAL_MS));
          if (performance.now() >= deadline) break;
          const at = performance.now();
          const one = c.send(groupOf(i), `m${i}.${seq++} @${at.toFixed(3)}`).then(
            (reply) => {
              storedLatencies.push(performance.now() - at);
              sent.push({ group: groupOf(i), messageId: reply.messageId, sender: i });
            },
            (err: unknown) => {
              sendFailures.push(err);
            },
          );
          if (CLOSED_LOOP) await one;
          else inflight.push(one);
        }
        await Promise.all(inflight);
      }),
    );
    const sendSeconds = (performance.now() - t0) / 1000;

    // Wait (bounded) until every message reached every other member of its group.
    const expectedDeliveries = sent.length * (GROUP_SIZE - 1);
    const delivered = (): number => received.reduce((n, m) => n + m.size, 0);
    const waitUntil = performance.now() + 30_000;
    while (delivered() < expectedDeliveries && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    const totalSeconds = (performance.now() - t0) / 1000;
    const serverCpuMs = serversCpu() - serverCpu0;
    const chatMessages = messagesAt() - messages0;
    const ownCpu = process.cpuUsage(ownCpu0);
    const ownCpuMs = (ownCpu.user + ownCpu.system) / 1000;

    expect(sendFailures).toEqual([]);
    expect(sent.length).toBeGreaterThan(CLIENTS);
    for (let i = 0; i < CLIENTS; i++) {
      const expected = sent.filter((s) => s.group === groupOf(i) && s.sender !== i).map((s) => s.messageId).sort((a, b) => a - b);
      const got = [...(received[i]?.keys() ?? [])].sort((a, b) => a - b);
      expect(got).toEqual(expected);
      for (const times of received[i]?.values() ?? []) expect(times).toBe(1);
      expect(clients[i]?.duplicatesDropped).toBe(0);
    }

    if (DUMP && !postgres) writeFileSync(DUMP, JSON.stringify({ clients: CLIENTS, intervalMs: INTERVAL_MS, deliveries }));
    const split = splitLatencies(deliveries, performance.timeOrigin + t0);
    latencies.sort((a, b) => a - b);
    storedLatencies.sort((a, b) => a - b);
    console.log(
      // bench/workloads/chat.ts parses the "chat load:" line (SQLite: stored msg/s, deliveries/s, latency p50/p99); the PostgreSQL line differs.
      `${postgres ? `chat load, PostgreSQL ${nodes.length} nodes` : 'chat load'}: ${CLIENTS} clients in ${CLIENTS / GROUP_SIZE} groups, ${CLOSED_LOOP ? 'closed' : 'open'} loop offering ${((CLIENTS * 1000) / INTERVAL_MS).toFixed(0)} msg/s, ` +
        `${sent.length} messages stored in ${sendSeconds.toFixed(1)} s ` +
        `(${(sent.length / sendSeconds).toFixed(0)} msg/s), ${expectedDeliveries} deliveries ` +
        `(${(expectedDeliveries / totalSeconds).toFixed(0)} deliveries/s overall), ` +
        `latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
        `"stored" reply p50 ${percentile(storedLatencies, 50).toFixed(1)} ms, p99 ${percentile(storedLatencies, 99).toFixed(1)} ms; ` +
        `chat messages (each way, all clients) per stored message: ${(chatMessages / sent.length).toFixed(1)}; ` +
        `CPU per stored message: server ${(serverCpuMs / sent.length).toFixed(3)} ms, load generator ${(ownCpuMs / sent.length).toFixed(3)} ms; ` +
        `p99 by send time: first second ${split.firstSecondP99.toFixed(1)} ms, after it ${split.steadyP99.toFixed(1)} ms; ` +
        `p99 by stage: sent -> stored ${split.toStoredP99.toFixed(0)} ms, stored -> received ${split.fromStoredP99.toFixed(0)} ms (the server's ms clock)`,
    );
  }, 90_000);
  }
});
