/** What the client prints, command by command, over the in-memory transport. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatClient } from '../../src/client/chat-client.js';
import { ChatSession } from '../../src/client/session.js';
import { Formatter } from '../../src/client/format.js';
import { createHarness, settle, type Harness } from '../support/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

interface TestSession {
  client: ChatClient;
  run(line: string): Promise<boolean>;
  lines: string[];
  s: ChatSession;
  answers: string[];
}

async function session(harness: Harness, options: { format?: Formatter } = {}): Promise<TestSession> {
  const lines: string[] = [];
  const answers: string[] = [];
  const client = await harness.client();
  const s = new ChatSession(client, (l) => lines.push(l), { ...options, ask: async () => answers.shift() ?? null, serverKey: () => 'KEYKEYKEY' });
  return { client, run: (line) => s.runLine(line), lines, s, answers };
}

/** Runs immediates until `done()` holds (bounded). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) await settle();
  expect(done()).toBe(true);
}

const norm = (lines: string[]): string[] => lines.map((l) => l.replace(/#\d+/g, '#N'));

describe('client session output', { timeout: 10_000 }, () => {
  it('prints one line per result and per error, and keeps going', async () => {
    h = await createHarness();
    const b = await session(h);
    b.answers.push('bob-password');
    await b.run('/register bob');
    const a = await session(h);
    a.answers.push('alice-password');
    await a.run('/register alice'); // registering logs you in (defect 7)
    await a.run('/group team bob');
    await b.run('/accept team');
    await until(() => a.lines.includes('* bob joined team'));
    await a.run('hello?');
    await a.run('/open team');
    await a.run('first message');
    await a.s.drain();
    await a.run('/groups');
    await a.run('/who team');
    await a.run('/history team 5 1');
    await a.run('/history team 1000');
    await a.run('/history team 0');
    await a.run('/open secret-club');
    await a.run('/invite team carol');
    await a.run('help');
    await a.run('quit');
    expect(await a.run('/quit')).toBe(false);
    expect(norm(a.lines)).toEqual([
      'registered alice',
      'logged in as alice (no unread messages)',
      'created team; invited bob (they join when they accept)',
      '* bob joined team',
      'error: no open group: /open <group> first, or /send <group> <text>',
      '--- team ---',
      '--- plain lines now go to team ---',
      'stored #N in team',
      'team (2 members, 0 unread)',
      'team: alice (online), bob (online)',
      'no messages in team',
      'error: count is 1-200 (got "1000")',
      'error: count is 1-200 (got "0")',
      'error: No such group: secret-club [NOT_FOUND]',
      'invited carol to team (they join when they accept)',
      // Defect 8: bare command words in /open mode are not sent as messages.
      'error: "help" was not sent: did you mean /help? (/send team help sends it)',
      'error: "quit" was not sent: did you mean /quit? (/send team quit sends it)',
    ]);
    expect(b.lines).toContain('* alice invites you to team: /accept team or /decline team');
    expect(a.s.prompt).toBe('team> ');
    expect(h.store.counts().messages).toBe(1);
  });

  it('shows offline members as offline (defect 8)', async () => {
    h = await createHarness();
    const a = await session(h);
    await a.run('/register alice alice-password');
    const bob = await h.loggedIn('bob');
    await a.run('/group team bob');
    await bob.accept('team');
    await bob.close();
    await a.run('/who team');
    expect(a.lines.at(-1)).toBe('team: alice (online), bob (offline)');
  });

  it('clears unread counts for messages seen live or through /history, not only /open (defect 6)', async () => {
    h = await createHarness();
    const a = await session(h);
    const b = await session(h);
    await a.run('/register alice alice-password');
    await b.run('/register bob bob-password');
    await a.run('/group team bob');
    await b.run('/accept team');
    await a.run('/send team one');
    await until(() => b.lines.includes('[team] alice: one'));
    await until(() => a.lines.some((l) => / seen by 1 of 1$/.test(l)));
    await b.run('/groups');
    expect(b.lines.at(-1)).toBe('team (2 members, 0 unread)');

    // Received but not shown (a client without a screen acknowledges it): still unread, until
    // /history shows it.
    await b.client.close();
    await a.run('/send team two');
    await a.s.drain();
    const bobRaw = await h.client();
    await bobRaw.login('bob', 'bob-password');
    await until(() => (h.store.deliveredMark(1, 2) ?? 0) >= 2);
    expect((await bobRaw.listGroups()).groups[0]?.unread).toBe(1);
    const lines: string[] = [];
    const c = new ChatSession(bobRaw, (l) => lines.push(l));
    await c.runLine('/history team 5');
    await c.runLine('/groups');
    expect(lines.at(-1)).toBe('team (2 members, 0 unread)');
  });

  it('traces delivery and reads ("seen by 2 of 2") for the sender', async () => {
    h = await createHarness();
    const a = await session(h);
    const b = await session(h);
    const c = await session(h);
    await a.run('/register alice alice-password');
    await b.run('/register bob bob-password');
    await c.run('/register carol carol-password');
    await a.run('/group team bob carol');
    await b.run('/accept team');
    await c.run('/accept team');
    await a.run('/send team hi all');
    await until(() => a.lines.some((l) => / seen by 2 of 2$/.test(l)));
    const traces = norm(a.lines.filter((l) => /delivered to|seen by/.test(l)));
    expect(traces.at(-1)).toBe('#N seen by 2 of 2');
    expect(traces).toContain('#N delivered to 2 of 2');
  });

  it('sends /me actions, edits and deletes your last message, and shows them to others', async () => {
    h = await createHarness();
    const a = await session(h);
    const b = await session(h);
    await a.run('/register alice alice-password');
    await b.run('/register bob bob-password');
    await a.run('/group team bob');
    await b.run('/accept team');
    await a.run('/open team');
    await a.run('/me waves');
    await until(() => b.lines.includes('[team] * alice waves'));
    await a.run('tpyo');
    await a.s.drain();
    await a.run('/edit typo');
    await until(() => b.lines.some((l) => / in team was edited: typo$/.test(l)));
    await a.run('/delete');
    await until(() => b.lines.some((l) => / in team was deleted$/.test(l)));
    await b.run('/history team 5');
    expect(norm(b.lines.slice(-2))).toEqual(['#N [team] * alice waves', '#N [team] (deleted)']);
    // Only your own last message: bob cannot touch alice's.
    const last = (await (await h.loggedIn('bob')).history('team')).messages.at(-1)?.messageId ?? 0;
    const bobClient = await h.loggedIn('bob');
    await expect(bobClient.edit('team', last, 'mine')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('pipelines pasted lines: all requests leave before the first reply comes back', async () => {
    h = await createHarness();
    const a = await session(h);
    await a.run('/register alice alice-password');
    await h.group(a.client, 'solo', []);
    await a.run('/open solo');
    // Hold the server's replies: a client that waits for each reply would send only one request.
    const gate = h.transport.holdReplies();
    const started = h.store.counts().messages;
    for (let i = 1; i <= 20; i++) await a.run(`line ${i}`);
    await settle();
    expect(h.store.counts().messages - started).toBe(20); // all 20 reached the server...
    expect(a.lines.filter((l) => l.startsWith('stored'))).toHaveLength(0); // ...before any reply
    gate.release();
    await a.s.drain();
    expect(norm(a.lines.filter((l) => l.startsWith('stored')))).toEqual(Array(20).fill('stored #N in solo (no other members)'));
  });

  it('/status shows the server, its key, and the link', async () => {
    h = await createHarness();
    const a = await session(h);
    await a.run('/status');
    expect(a.lines.at(-1)).toMatch(/^server 127\.0\.0\.1:\d+, key KEYKEYKEY, connected, 0 requests waiting$/);
  });

  it('completes commands, groups and names with tab', async () => {
    h = await createHarness();
    const a = await session(h);
    await a.run('/register alice alice-password');
    await h.loggedIn('bob');
    await a.run('/group team bob');
    expect(a.s.complete('/gr')).toEqual([['/group', '/groups'], '/gr']);
    expect(a.s.complete('/open te')).toEqual([['team '], 'te']);
    expect(a.s.complete('/invite team b')).toEqual([['bob '], 'b']);
    const b = await session(h);
    await b.run('/login bob bob-password');
    expect(b.s.complete('/accept t')).toEqual([['team '], 't']); // an invitation's group
  });

  it('shows who is typing in the open group, in the prompt', async () => {
    h = await createHarness();
    const a = await session(h);
    const b = await session(h);
    await a.run('/register alice alice-password');
    await b.run('/register bob bob-password');
    await a.run('/group team bob');
    await b.run('/accept team');
    await a.run('/open team');
    await b.run('/open team');
    b.s.typingActivity('hel');
    await until(() => a.s.prompt === 'team (bob typing)> ');
    await b.run('hello');
    await until(() => a.s.prompt === 'team> ');
  });

  it('colours by user and for errors only when asked, with local timestamps', async () => {
    h = await createHarness();
    const a = await session(h, { format: new Formatter({ color: true, timestamps: true, timeZone: 'UTC' }) });
    await a.run('/groups');
    expect(a.lines.at(-1)).toBe('\x1b[31merror: Log in first [UNAUTHENTICATED]\x1b[39m');
    const f = new Formatter({ timestamps: true, timeZone: 'UTC' });
    expect(f.incoming({ group: 'g', messageId: 1, from: 'bob', text: 'hi', sentAt: Date.UTC(2026, 0, 1, 14, 5), kind: 'text' })).toBe('14:05 [g] bob: hi');
    const colored = new Formatter({ color: true });
    expect(colored.user('bob')).toBe(colored.user('bob'));
    expect(colored.user('bob')).toMatch(/^\x1b\[\d+mbob\x1b\[39m$/);
  });
});
