/**
 * Two chat server nodes (real processes) on one PostgreSQL database (a real server in a
 * temporary directory): alice's client on node A, bob's on node B. Group creation, live messages
 * both ways, delivery traces, presence and history all cross between the nodes; the login
 * throttle is one budget for both.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/chat-client.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { errorCode } from '../support/harness.js';
import { usePostgres } from '../support/postgres.js';
import { startClient, startServer, type LineProcess } from '../support/processes.js';

const pg = usePostgres();
let procs: LineProcess[] = [];
let clients: ChatClient[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  procs = [];
  clients = [];
});

async function twoNodes(url: string): Promise<{ a: { port: number; key: string }; b: { port: number; key: string } }> {
  const a = await startServer(url);
  procs.push(a.proc);
  const b = await startServer(url);
  procs.push(b.proc);
  return { a, b };
}

async function inProcessClient(port: number, key: string): Promise<ChatClient> {
  const c = new ChatClient({ transport: new ReliableDgramTransport({ trust: pinnedTrust(key) }), host: '127.0.0.1', port, reconnect: false });
  await c.connect();
  clients.push(c);
  return c;
}

describe('two chat nodes on one PostgreSQL database', () => {
  it('carries a conversation between a client on each node', async (ctx) => {
    const { a, b } = await twoNodes(await pg.database(ctx));
    // The server key lives in the shared database: both nodes present the same one.
    expect(b.key).toBe(a.key);

    const alice = await startClient('alice', a.port);
    procs.push(alice);
    // Registering logs in too.
    await alice.command('/register alice alice-secret', /^logged in as alice/);
    const bob = await startClient('bob', b.port);
    procs.push(bob);
    await bob.command('/register bob bob-secret-1', /^logged in as bob/);

    // The invitation goes from A to B, the join from B back to A.
    await alice.command('/group team bob', 'created team; invited bob (they join when they accept)');
    await bob.waitFor('* alice invites you to team: /accept team or /decline team');
    await bob.command('/accept team', 'joined team (2 members)');
    await alice.waitFor('* bob joined team');

    // A -> B, and the delivery trace comes back from B's receipt to A.
    const stored = await alice.command('/send team hello from node A', /^stored #\d+ in team$/);
    const idA = /#(\d+)/.exec(stored)?.[1];
    await bob.waitFor('[team] alice: hello from node A');
    await alice.waitFor(`#${idA} delivered to 1 of 1`);
    // B -> A.
    const storedB = await bob.command('/send team hi from node B', /^stored #\d+ in team$/);
    const idB = /#(\d+)/.exec(storedB)?.[1];
    await alice.waitFor('[team] bob: hi from node B');
    await bob.waitFor(`#${idB} delivered to 1 of 1`);
    expect(Number(idB)).toBeGreaterThan(Number(idA));

    // Presence across nodes: each sees the other online.
    expect(await bob.command('/who team', /^team: /)).toMatch(/alice \(online\)/);
    expect(await alice.command('/who team', /^team: /)).toMatch(/bob \(online\)/);

    // History is the same on both nodes.
    const historyOf = async (p: LineProcess): Promise<string[]> => {
      const from = p.lines.length;
      p.write('/history team 10');
      await p.waitFor(/#\d+ \[team\] bob: hi from node B/, from);
      return p.lines.slice(from).filter((l) => /^#\d+ \[team\]/.test(l));
    };
    const seenByAlice = await historyOf(alice);
    expect(seenByAlice).toEqual([`#${idA} [team] alice: hello from node A`, `#${idB} [team] bob: hi from node B`]);
    expect(await historyOf(bob)).toEqual(seenByAlice);

    // alice leaves (her client quits): B stops showing her online.
    alice.write('/quit');
    expect(await alice.exited).toBe(0);
    let who = '';
    for (let i = 0; i < 50; i++) {
      who = await bob.command('/who team', /^team: /);
      if (!/alice \(online\)/.test(who)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(who).not.toMatch(/alice \(online\)/);
    expect(who).toMatch(/bob \(online\)/);
  }, 60_000);

  it('moves a client process given both nodes (--server a,b) to node B when node A is killed', async (ctx) => {
    const { a, b } = await twoNodes(await pg.database(ctx));
    const alice = await startClient('alice', `127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    procs.push(alice);
    expect(alice.lines.join('\n')).toContain(`* connected to 127.0.0.1:${a.port}`);
    await alice.command('/register alice alice-secret', /^logged in as alice/);
    await alice.command('/group solo carol', /^created solo/);
    await alice.command('/send solo before', /^stored #\d+ in solo/);
    const from = alice.lines.length;
    procs[0]?.child.kill('SIGKILL');
    // The CLI gives a silent node up after 5 s (its keepalives go unanswered), then moves on.
    await alice.waitFor(`* now connected to 127.0.0.1:${b.port}`, from, 20_000);
    await alice.waitFor('* reconnected as alice', from);
    await alice.command('/send solo after', /^stored #\d+ in solo/);
    const history = await alice.command('/history solo 5', /^#\d+ \[solo\] alice: after$/);
    expect(history).toMatch(/after/);
    expect(alice.lines.slice(from).filter((l) => /\[solo\] alice: before$/.test(l))).toHaveLength(1);
  }, 60_000);

  it('shares one login throttle: 30 concurrent guesses over both nodes check 5 passwords', async (ctx) => {
    const { a, b } = await twoNodes(await pg.database(ctx));
    const setup = await inProcessClient(a.port, a.key);
    await setup.register('alice', 'the-right-one');
    const guessers = await Promise.all(Array.from({ length: 30 }, (_, i) => inProcessClient(i % 2 ? a.port : b.port, a.key)));
    const codes = await Promise.all(guessers.map((c, i) => errorCode(c.login('alice', `guess-number-${i}`))));
    // Each guess reserved its try before its password was checked: exactly the burst got checked.
    expect(codes.filter((c) => c === 'AUTH_FAILED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(25);
    // Even the right password now waits: the budget is spent on both nodes.
    expect(await errorCode(guessers[0]!.login('alice', 'the-right-one'))).toBe('RATE_LIMITED');
  }, 60_000);
});
