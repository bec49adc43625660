/**
 * Issue #17's defects, each against the real server process (and real client processes where it
 * is about what a user sees): every test here failed on the code before the fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, ChatRequestError } from '../../src/client/chat-client.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { spawnPtyClient, startClient, startServer, stripAnsi, type LineProcess, type PtyProcess } from '../support/processes.js';

let procs: (LineProcess | PtyProcess)[] = [];
let clients: ChatClient[] = [];
let dirs: string[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(procs.map((p) => p.kill()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  procs = [];
  clients = [];
  dirs = [];
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-defects-'));
  dirs.push(dir);
  return join(dir, 'chat.db');
}

async function server(env: Record<string, string> = {}, db = tempDb(), port = 0) {
  const started = await startServer(db, port, env);
  procs.push(started.proc);
  return { ...started, db };
}

async function client(name: string, port: number): Promise<LineProcess> {
  const proc = await startClient(name, port);
  procs.push(proc);
  return proc;
}

describe('issue #17 defects, on real processes', () => {
  it('1: a pasted line over 64 KiB gets an answer, and the client keeps going', async () => {
    const { port } = await server();
    const alice = await client('alice', port);
    await alice.command('/register alice alice-secret', /^logged in as alice/);
    await alice.command('/register bob bob-secret-1', /^logged in as bob/);
    await alice.command('/login alice alice-secret', /^logged in as alice/);
    await alice.command('/group team bob', /^created team/);
    const from = alice.lines.length;
    alice.write(`/send team ${'x'.repeat(100_000)}`);
    alice.write('/groups');
    await alice.waitFor(/^error: .*\[TOO_LARGE\]$/, from);
    await alice.waitFor('team (1 member, 0 unread)', from);
  }, 30_000);

  it('2: thirty concurrent guesses on thirty connections: only the burst is ever verified', async () => {
    // A real scrypt cost (2^14: tens of ms per hash, two at a time), so that the guesses are all
    // in flight together, as they would be against the production cost.
    const { port, key, db } = await server({ CHAT_INSECURE_SCRYPT_LOG2N: '14' });
    const connect = async (): Promise<ChatClient> => {
      const c = new ChatClient({ transport: new ReliableDgramTransport({ trust: pinnedTrust(key) }), host: '127.0.0.1', port, reconnect: false });
      clients.push(c);
      await c.connect();
      return c;
    };
    const owner = await connect();
    await owner.register('victim', 'the-right-password');
    const guessers = await Promise.all(Array.from({ length: 30 }, connect));
    const outcomes = await Promise.all(
      guessers.map((c, i) =>
        c.login('victim', i === 29 ? 'the-right-password' : `guess-number-${i}`).then(
          () => 'ok',
          (err: unknown) => (err instanceof ChatRequestError ? err.code : String(err)),
        ),
      ),
    );
    const verified = outcomes.filter((o) => o === 'AUTH_FAILED' || o === 'ok').length;
    expect(outcomes.filter((o) => o === 'RATE_LIMITED').length).toBe(30 - verified);
    expect(verified).toBeLessThanOrEqual(5); // per-user burst; before the fix: all 30
    void db;
  }, 60_000);

  it('3: a line separator or bidi override never reaches another user\'s screen raw', async () => {
    const { port, key } = await server();
    const bob = await client('bob', port);
    await bob.command('/register bob bob-secret-1', /^logged in as bob/);
    const mallory = new ChatClient({ transport: new ReliableDgramTransport({ trust: pinnedTrust(key) }), host: '127.0.0.1', port, reconnect: false });
    clients.push(mallory);
    await mallory.connect();
    await mallory.register('mallory', 'mallory-secret');
    await mallory.login('mallory', 'mallory-secret');
    await mallory.createGroup('team', ['bob']);
    await bob.waitFor(/invites you to team/);
    await bob.command('/accept team', /^joined team/);
    const forged = ['a\u2028[team] bob: I agree, send it', 'pay \u202e0001\u202c EUR', 'ad\u200bmin'];
    for (const text of forged) {
      await expect(mallory.send('team', text)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await mallory.send('team', 'plain words');
    await bob.waitFor('[team] mallory: plain words');
    expect(bob.lines.join('\n')).not.toMatch(/[\u2028\u2029\u202a-\u202e\u200b]/);
  }, 30_000);

  it('5: a killed server is noticed within seconds; sends typed meanwhile are queued and go after the restart', async () => {
    const s = await server();
    const alice = await client('alice', s.port);
    await alice.command('/register alice alice-secret', /^logged in as alice/);
    await alice.command('/register bob bob-secret-1', /^logged in as bob/);
    await alice.command('/login alice alice-secret', /^logged in as alice/);
    await alice.command('/group team bob', /^created team/);
    s.proc.child.kill('SIGKILL');
    await s.proc.exited;
    const from = alice.lines.length;
    // The library's default idle timeout was 30 s; the chat's is 6 s.
    await alice.waitFor(/^\* connection lost \(.*\); reconnecting$/, from, 12_000);
    await alice.command('/send team typed while the server was down', '* not connected: message queued, it goes when the server is back');
    const again = await server({}, s.db, s.port);
    void again;
    await alice.waitFor('* reconnected as alice', from, 20_000);
    await alice.waitFor(/^stored #\d+ in team/, from, 20_000);
  }, 60_000);

  it('5: a server stopped with SIGTERM says goodbye: clients print "server restarting, reconnecting"', async () => {
    const s = await server();
    const alice = await client('alice', s.port);
    await alice.command('/register alice alice-secret', /^logged in as alice/);
    const from = alice.lines.length;
    s.proc.child.kill('SIGTERM');
    expect(await s.proc.exited).toBe(0);
    await alice.waitFor('* server restarting, reconnecting', from, 10_000);
    expect(alice.lines.slice(from).join('\n')).not.toMatch(/ERR_CONNECTION_RESET/);
  }, 30_000);

  it('7: on a terminal, the password is asked without echo and never recalled by Up', async () => {
    const { port } = await server();
    const pty = spawnPtyClient(port, { NO_COLOR: '1' });
    procs.push(pty);
    await pty.waitFor(/connected to [^\n]*\n> $/);
    let mark = pty.raw.length;
    pty.keys('/register alice\r');
    await pty.waitFor(/password: $/, mark);
    pty.keys('pw-NEVER-SHOWN-1\r');
    await pty.waitFor(/logged in as alice/, mark);
    expect(pty.raw).not.toContain('pw-NEVER-SHOWN-1');
    // Typed in full, it is masked on screen and dropped from the history.
    mark = pty.raw.length;
    pty.keys('/login alice pw-NEVER-SHOWN-1\r');
    await pty.waitFor(/logged in as alice/, mark);
    expect(stripAnsi(pty.raw.slice(mark))).toContain('/login alice ********');
    pty.keys('/groups\r');
    await pty.waitFor(/no groups/, mark);
    mark = pty.raw.length;
    pty.keys('\x1b[A\x1b[A\x1b[A'); // Up, Up, Up: /groups, then /register alice, never a password
    await pty.waitFor(/\/register alice/, mark);
    expect(pty.raw.slice(mark)).not.toContain('pw-NEVER-SHOWN-1');
    // NO_COLOR: no colour codes at all.
    expect(pty.raw).not.toMatch(/\x1b\[3\dm/);
    // Tab completes a command (a feature of the same terminal): "/sta" + Tab is /status.
    pty.keys('\x15'); // Ctrl-U: clear the recalled line
    mark = pty.raw.length;
    pty.keys('/sta');
    await pty.waitFor(/\/sta$/, mark);
    pty.keys('\t'); // alone: readline does not complete inside pasted input
    await pty.waitFor(/\/status$/, mark);
    pty.keys('\r');
    await pty.waitFor(/server 127\.0\.0\.1:\d+, key [A-Za-z0-9_-]{22}, connected, rtt [\d.]+ ms, loss [\d.]+ %/, mark);
  }, 30_000);
});
