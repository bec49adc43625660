/**
 * End to end over real UDP on 127.0.0.1: the real server and three real clients as processes,
 * driven through stdin/stdout. The same conversation runs directly and through reliable-dgram's
 * impairment proxy dropping 20 % of datagrams each way: nothing lost, nothing twice, order kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImpairProxy } from 'reliable-dgram/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnClient, startClient, startServer, type LineProcess } from '../support/processes.js';

let procs: LineProcess[] = [];
let cleanup: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  for (const fn of cleanup.reverse()) await fn();
  procs = [];
  cleanup = [];
});

interface Setup {
  alice: LineProcess;
  bob: LineProcess;
  carol: LineProcess;
  server: LineProcess;
  proxy: ImpairProxy | null;
}

async function setup(loss: number): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const { proc: server, port } = await startServer(join(dir, 'chat.db'));
  procs.push(server);
  let clientPort = port;
  let proxy: ImpairProxy | null = null;
  if (loss > 0) {
    const p = await ImpairProxy.start({ target: { address: '127.0.0.1', port }, up: { loss }, down: { loss }, seed: 20, log: null });
    cleanup.push(() => p.close());
    clientPort = p.address().port;
    proxy = p;
  }
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => startClient(n, clientPort)));
  if (!alice || !bob || !carol) throw new Error('clients did not start');
  procs.push(alice, bob, carol);
  return { alice, bob, carol, server, proxy };
}

/** Lines of `proc` matching `pattern`, in output order. */
const matching = (proc: LineProcess, pattern: RegExp): string[] => proc.lines.filter((l) => pattern.test(l));

async function conversation(loss: number): Promise<void> {
  const { alice, bob, carol, server, proxy } = await setup(loss);
  for (const [proc, name] of [[alice, 'alice'], [bob, 'bob'], [carol, 'carol']] as const) {
    // Registering logs in too.
    await proc.command(`/register ${name} ${name}-secret`, `logged in as ${name} (no unread messages)`);
  }

  await alice.command('/group team bob carol', 'created team; invited bob, carol (they join when they accept)');
  await bob.waitFor('* alice invites you to team: /accept team or /decline team');
  await bob.command('/accept team', 'joined team (2 members)');
  await carol.waitFor('* alice invites you to team: /accept team or /decline team');
  await carol.command('/accept team', 'joined team (3 members)');
  await alice.waitFor('* carol joined team');

  // alice -> everyone, with the delivery trace.
  const stored = await alice.command('/send team hello from alice', /^stored #\d+ in team$/);
  const first = Number(/#(\d+)/.exec(stored)?.[1]);
  await bob.waitFor('[team] alice: hello from alice');
  await carol.waitFor('[team] alice: hello from alice');
  await alice.waitFor(`#${first} delivered to 2 of 2`);

  // bob opens the group (history) and answers with a plain line.
  await bob.command('/open team', '--- plain lines now go to team ---');
  expect(bob.lines).toContain(`#${first} [team] alice: hello from alice`);
  await bob.command('hi alice', /^stored #\d+ in team$/);
  await alice.waitFor('[team] bob: hi alice');

  // A burst written without waiting: every message arrives once, in order, at both others.
  for (let i = 1; i <= 10; i++) alice.write(`/send team burst ${i}`);
  await bob.waitFor('[team] alice: burst 10');
  await carol.waitFor('[team] alice: burst 10');
  const expected = Array.from({ length: 10 }, (_, i) => `[team] alice: burst ${i + 1}`);
  expect(matching(bob, /^\[team\] alice: burst /)).toEqual(expected);
  expect(matching(carol, /^\[team\] alice: burst /)).toEqual(expected);
  await alice.waitFor(/^#\d+ delivered to 2 of 2$/, alice.lines.findIndex((l) => l === 'stored #' + (first + 11) + ' in team'));

  // carol logs out; what arrives meanwhile is unread and comes at her next login.
  await carol.command('/logout', 'logged out');
  await alice.command('/send team while carol is away 1', /^stored #/);
  await alice.command('/send team while carol is away 2', /^stored #/);
  await bob.waitFor('[team] alice: while carol is away 2');
  await carol.command('/login carol carol-secret', 'logged in as carol');
  // What she was shown live counts as read: only the 2 sent while she was away are unread.
  await carol.waitFor('  team (3 members, 2 unread)');
  await carol.waitFor('[team] alice: while carol is away 2');
  expect(matching(carol, /while carol is away/)).toEqual(['[team] alice: while carol is away 1', '[team] alice: while carol is away 2']);
  // ... and once the backlog is shown, nothing is.
  await carol.command('/groups', 'team (3 members, 0 unread)');
  // bob has the group open: what he was shown live counts as read.
  await bob.command('/groups', 'team (3 members, 0 unread)');

  // History pages, and presence.
  const from = carol.lines.length;
  await carol.command('/history team 3', /while carol is away 2$/);
  expect(carol.lines.slice(from).filter((l) => /^#\d+ \[team\]/.test(l)).map((l) => l.replace(/^#\d+ /, ''))).toEqual([
    '[team] alice: burst 10',
    '[team] alice: while carol is away 1',
    '[team] alice: while carol is away 2',
  ]);
  await carol.command('/who team', 'team: alice (online), bob (online), carol (online)');

  // Errors: one line each, the client keeps going.
  await carol.command('/send nosuchgroup hi', 'error: No such group: nosuchgroup [NOT_FOUND]');
  await carol.command('/login carol wrong-password', 'error: Wrong user name or password [AUTH_FAILED]');
  await carol.command('/bogus', 'error: unknown command /bogus (try /help)');

  for (const p of [alice, bob, carol]) p.write('/quit');
  expect(await Promise.all([alice.exited, bob.exited, carol.exited])).toEqual([0, 0, 0]);
  // No client was ever told a duplicate or saw one.
  for (const p of [alice, bob, carol]) expect(new Set(matching(p, /^\[team\]/)).size).toBe(matching(p, /^\[team\]/).length);
  expect(server.lines.join('\n')).not.toMatch(/secret/);
  if (proxy) {
    // The network really was that bad: about a fifth of the datagrams vanished, both ways.
    const counters = await proxy.close();
    for (const link of [counters.up, counters.down]) {
      expect(link.sent).toBeGreaterThan(100);
      expect(link.droppedLoss / link.sent).toBeGreaterThan(0.1);
    }
  }
}

describe('chat end to end over UDP (real processes)', () => {
  it('holds a conversation between three clients', async () => {
    await conversation(0);
  }, 40_000);

  it('holds the same conversation with 20 % loss each way', async () => {
    await conversation(0.2);
  }, 60_000);

  it('runs a script piped to its stdin, in order, and exits at its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { proc: server, port } = await startServer(join(dir, 'chat.db'));
    procs.push(server);
    const script = spawnClient('script', port);
    procs.push(script);
    // Written all at once, then end of input: each line still waits for the previous one.
    script.child.stdin.end(
      ['/register sam sam-secret', '/register kim kim-secret', '/login sam sam-secret', '/group pair kim', '/send pair one', '/send pair two', '/history pair', '/nonsense', '/groups'].join('\n') + '\n',
    );
    expect(await script.exited).toBe(0);
    const out = script.lines.filter((l) => !l.startsWith('* '));
    expect(out.map((l) => l.replace(/#\d+/g, '#N'))).toEqual([
      'registered sam',
      'logged in as sam (no unread messages)',
      'registered kim',
      'logged in as kim (no unread messages)',
      'logged in as sam (no unread messages)',
      'created pair; invited kim (they join when they accept)',
      'stored #N in pair (no other members)',
      'stored #N in pair (no other members)',
      '#N [pair] sam: one',
      '#N [pair] sam: two',
      'error: unknown command /nonsense (try /help)',
      'pair (1 member, 0 unread)',
    ]);
  }, 30_000);

  it('accepts the server key it was told, and refuses any other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { proc: server, port, key } = await startServer(join(dir, 'chat.db'));
    procs.push(server);
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const good = await startClient('pinned', port, ['--server-key', key]);
    procs.push(good);
    await good.command('/register zoe zoe-secret', 'registered zoe');
    const wrongKey = (key.startsWith('A') ? 'B' : 'A') + key.slice(1);
    const bad = spawnClient('impostor-check', port, ['--server-key', wrongKey]);
    procs.push(bad);
    expect(await bad.exited).toBe(1);
    expect(bad.stderr).toMatch(/REFUSING 127\.0\.0\.1:\d+: the server key .* is not the trusted one/);
  }, 30_000);
});
