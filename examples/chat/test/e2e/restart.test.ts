/**
 * Durability: the server is killed with SIGKILL in the middle of a burst of sends and started
 * again on the same database. Every message the client saw acknowledged ("stored #id") is still
 * there; the client reconnects on its own, resumes its session and retries the rest, and each
 * message ends up stored exactly once. Users, groups and sessions survive; a revoked session
 * stays revoked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/chat-client.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { startClient, startServer, type LineProcess } from '../support/processes.js';
import { errorCode } from '../support/harness.js';

let procs: LineProcess[] = [];
let clients: ChatClient[] = [];
let dir = '';

afterEach(async () => {
  // Some of these clients were connected to the killed server: abort, do not wait for a close.
  for (const c of clients) c.destroy();
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  if (dir) rmSync(dir, { recursive: true, force: true });
  procs = [];
  clients = [];
});

async function inProcessClient(port: number, serverKey: string): Promise<ChatClient> {
  const transport = new ReliableDgramTransport({ trust: pinnedTrust(serverKey) });
  const c = new ChatClient({ transport, host: '127.0.0.1', port, reconnect: false });
  await c.connect();
  clients.push(c);
  return c;
}

describe('chat server restart (SIGKILL)', () => {
  it('keeps users, groups, sessions and every acknowledged message', async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-restart-'));
    const db = join(dir, 'chat.db');
    const first = await startServer(db);
    procs.push(first.proc);
    const port = first.port;

    const alice = await startClient('alice', port);
    procs.push(alice);
    await alice.command('/register alice alice-secret', 'registered alice');
    await alice.command('/register bob bob-secret-1', 'registered bob');
    await alice.command('/register dave dave-secret', 'registered dave');
    await alice.command('/register carol carol-secret', 'registered carol');
    await alice.command('/login alice alice-secret', /^logged in as alice/);
    await alice.command('/group team bob', /^created team; invited bob/);
    await alice.command('/group quiet carol', /^created quiet; invited carol/);
    // carol just sits there, logged in, typing nothing and receiving nothing, through the restart.
    const carol = await startClient('carol', port);
    procs.push(carol);
    await carol.command('/login carol carol-secret', /^logged in as carol/);
    await carol.command('/accept quiet', 'joined quiet (2 members)');

    // bob's session (kept, to resume after the restart) and dave's (revoked before it).
    const bob = await inProcessClient(port, first.key);
    await bob.login('bob', 'bob-secret-1');
    await bob.accept('team');
    const bobToken = bob.sessionToken ?? '';
    const dave = await inProcessClient(port, first.key);
    await dave.login('dave', 'dave-secret');
    const daveToken = dave.sessionToken ?? '';
    await dave.logout();

    // A burst of 1,000 sends (pipelined: up to 64 in flight); kill the server as soon as one is
    // acknowledged, so that the kill lands mid-burst even on a fast, idle machine.
    const BURST = 1000;
    const from = alice.lines.length;
    alice.child.stdin.write(Array.from({ length: BURST }, (_, i) => `/send team burst ${i + 1}\n`).join(''));
    await alice.waitFor(/^stored #\d+ in team$/, from);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    const ackedBeforeKill = alice.lines.slice(from).filter((l) => /^stored #/.test(l)).map((l) => Number(/#(\d+)/.exec(l)?.[1]));
    expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(1);
    expect(ackedBeforeKill.length).toBeLessThan(BURST); // the kill really came mid-burst

    const second = await startServer(db, port);
    procs.push(second.proc);
    expect(second.key).toBe(first.key); // the server's identity survives too
    expect(second.proc.lines.join('\n')).toMatch(/ start .*users=4/);

    // The client notices at once (stateless reset with the persisted key), resumes, and retries.
    await alice.waitFor('* reconnected as alice', from, 20_000);
    for (;;) {
      const stored = alice.lines.slice(from).filter((l) => /^stored #/.test(l)).length;
      if (stored >= BURST) break;
      await alice.waitFor(/^stored #/, alice.lines.length, 20_000);
    }

    // Every acknowledged message survived the kill, and every burst message is stored once.
    const bobAgain = await inProcessClient(port, first.key);
    expect((await bobAgain.resume(bobToken)).user).toBe('bob');
    const messages: { messageId: number; text: string }[] = [];
    for (let before: number | undefined, pages = 0; pages < 10; pages++) {
      const page = await bobAgain.history('team', 200, before);
      messages.unshift(...page.messages);
      if (!page.more) break;
      before = page.messages[0]?.messageId;
    }
    const ids = messages.map((m) => m.messageId);
    for (const id of ackedBeforeKill) expect(ids).toContain(id);
    expect(messages.map((m) => m.text)).toEqual(Array.from({ length: BURST }, (_, i) => `burst ${i + 1}`));

    // Users and groups are there; a revoked session stays revoked.
    expect((await bobAgain.listGroups()).groups.map((g) => g.name)).toEqual(['team']); // not 'quiet'
    const daveAgain = await inProcessClient(port, first.key);
    expect(await errorCode(daveAgain.resume(daveToken))).toBe('INVALID_SESSION');
    await daveAgain.login('dave', 'dave-secret');

    // And the conversation simply goes on, even for the idle client: its heartbeat met the
    // reset, it reconnected and resumed by itself, so the new message is pushed to it.
    await alice.command('/send team after the restart', /^stored #\d+ in team$/);
    await carol.waitFor('* reconnected as carol');
    expect(second.proc.lines.join('\n')).toMatch(/ resume user=carol/);
    await alice.command('/send quiet still there, carol?', /^stored #\d+ in quiet$/);
    await carol.waitFor('[quiet] alice: still there, carol?');
    alice.write('/quit');
    expect(await alice.exited).toBe(0);
  }, 60_000);
});
