/**
 * Load: the real server process and 200 clients (in this process, on 10 UDP sockets)
 * in 20 groups of 10, all sending for a few seconds. Every message must reach every other member
 * of its group exactly once; the test prints delivery latency p50/p99 and throughput.
 *
 * Tunable for benchmarking (defaults keep the test short on 2 cores):
 * CHAT_LOAD_SECONDS (3), CHAT_LOAD_INTERVAL_MS (mean gap between one client's sends, 1000),
 * CHAT_LOAD_CLIENTS (200).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from 'reliable-dgram/testing';
import { ChatClient } from '../../src/client/chat-client.js';
import { PasswordHasher } from '../../src/server/passwords.js';
import { Store } from '../../src/server/store.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { startServer, TEST_SERVER_ENV, type LineProcess } from '../support/processes.js';

const CLIENTS = Number(process.env['CHAT_LOAD_CLIENTS'] ?? 200);
const GROUP_SIZE = 10;
const SECONDS = Number(process.env['CHAT_LOAD_SECONDS'] ?? 3);
const INTERVAL_MS = Number(process.env['CHAT_LOAD_INTERVAL_MS'] ?? 1000);

let server: LineProcess | null = null;
let clients: ChatClient[] = [];
let dir = '';
let cleanupTransports: ReliableDgramTransport[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  for (const t of cleanupTransports) await t.close().catch(() => {});
  cleanupTransports = [];
  await server?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
  clients = [];
  server = null;
});


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('chat load', () => {
  it(`delivers every message exactly once to every online member (${CLIENTS} clients, ${CLIENTS / GROUP_SIZE} groups)`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-load-'));
    const db = join(dir, 'chat.db');
    // Users and groups are created directly in the database: this test measures messaging, and
    // registration is throttled per address on purpose.
    const names = Array.from({ length: CLIENTS }, (_, i) => `user${i}`);
    const hash = await new PasswordHasher({ params: { log2N: Number(TEST_SERVER_ENV.CHAT_INSECURE_SCRYPT_LOG2N), r: 8, p: 1 } }).hash('load-password');
    const store = new Store(db);
    const ids = names.map((n) => store.createUser(n, hash, Date.now()));
    const groupOf = (i: number): string => `g${Math.floor(i / GROUP_SIZE)}`;
    for (let g = 0; g < CLIENTS / GROUP_SIZE; g++) store.createGroup(`g${g}`, ids[g * GROUP_SIZE] ?? 0, ids.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE), Date.now());
    store.close();

    const started = await startServer(db);
    server = started.proc;
    // The simulated clients share 10 UDP sockets (20 connections each, told apart by connection
    // ID): 200 sockets, each with its own timers, would make this process the bottleneck.
    const transports = Array.from({ length: 10 }, () => new ReliableDgramTransport({ shareClientEndpoint: true, trust: pinnedTrust(started.key) }));
    cleanupTransports = transports;
    clients = names.map((_, i) => new ChatClient({ transport: transports[i % transports.length] as ReliableDgramTransport, host: '127.0.0.1', port: started.port, reconnect: false }));

    /** received[i]: message id -> times client i was handed it. */
    const received = clients.map(() => new Map<number, number>());
    const latencies: number[] = [];
    clients.forEach((c, i) =>
      c.on('message', (m) => {
        const map = received[i];
        map?.set(m.messageId, (map.get(m.messageId) ?? 0) + 1);
        const sentAt = Number(/@(\d+(?:\.\d+)?)$/.exec(m.text)?.[1]);
        latencies.push(performance.now() - sentAt);
      }),
    );
    await inBatches(clients.map((c, i) => [c, i] as const), 25, async ([c, i]) => {
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
    await Promise.all(
      clients.map(async (c, i) => {
        let seq = 0;
        for (;;) {
          await new Promise((r) => setTimeout(r, rng() * 2 * INTERVAL_MS));
          if (performance.now() >= deadline) return;
          try {
            const reply = await c.send(groupOf(i), `m${i}.${seq++} @${performance.now().toFixed(3)}`);
            sent.push({ group: groupOf(i), messageId: reply.messageId, sender: i });
          } catch (err) {
            sendFailures.push(err);
          }
        }
      }),
    );
    const sendSeconds = (performance.now() - t0) / 1000;

    // Wait (bounded) until every message reached every other member of its group.
    const expectedDeliveries = sent.length * (GROUP_SIZE - 1);
    const delivered = (): number => received.reduce((n, m) => n + m.size, 0);
    const waitUntil = performance.now() + 30_000;
    while (delivered() < expectedDeliveries && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    const totalSeconds = (performance.now() - t0) / 1000;

    expect(sendFailures).toEqual([]);
    expect(sent.length).toBeGreaterThan(CLIENTS);
    for (let i = 0; i < CLIENTS; i++) {
      const expected = sent.filter((s) => s.group === groupOf(i) && s.sender !== i).map((s) => s.messageId).sort((a, b) => a - b);
      const got = [...(received[i]?.keys() ?? [])].sort((a, b) => a - b);
      expect(got).toEqual(expected);
      for (const times of received[i]?.values() ?? []) expect(times).toBe(1);
      expect(clients[i]?.duplicatesDropped).toBe(0);
    }

    latencies.sort((a, b) => a - b);
    console.log(
      `chat load: ${CLIENTS} clients in ${CLIENTS / GROUP_SIZE} groups, ${sent.length} messages stored in ${sendSeconds.toFixed(1)} s ` +
        `(${(sent.length / sendSeconds).toFixed(0)} msg/s), ${expectedDeliveries} deliveries ` +
        `(${(expectedDeliveries / totalSeconds).toFixed(0)} deliveries/s overall), ` +
        `latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
    );
  }, 90_000);
});
