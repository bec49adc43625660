/** What the client prints, command by command, over the in-memory transport. */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatSession } from '../../src/client/session.js';
import { createHarness, settle, type Harness } from '../support/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function session(harness: Harness): Promise<{ run(line: string): Promise<boolean>; lines: string[]; s: ChatSession }> {
  const lines: string[] = [];
  const s = new ChatSession(await harness.client(), (l) => lines.push(l));
  return { run: (line) => s.runLine(line), lines, s };
}

describe('client session output', { timeout: 10_000 }, () => {
  it('prints one line per result and per error, and keeps going', async () => {
    h = await createHarness();
    const a = await session(h);
    await a.run('/register alice alice-password');
    await a.run('/register bob bob-password');
    await a.run('/login alice alice-password');
    await a.run('/group team bob');
    await a.run('hello?');
    await a.run('/open team');
    await a.run('first message');
    await a.run('/groups');
    await a.run('/who team');
    await a.run('/history team 5 1');
    await a.run('/add team carol');
    await a.run('/login alice');
    expect(await a.run('/quit')).toBe(false);
    expect(a.lines.map((l) => l.replace(/#\d+/g, '#N'))).toEqual([
      'registered alice',
      'registered bob',
      'logged in as alice (no unread messages)',
      'created team with alice, bob',
      'error: no open group: /open <group> first, or /send <group> <text>',
      '--- team ---',
      '--- plain lines now go to team ---',
      'stored #N in team',
      'team (2 members, 0 unread)',
      'team: alice (online), bob',
      'no messages in team',
      'error: No such user: carol [UNKNOWN_USER]',
      'error: usage: /login <user> <password>',
    ]);
    expect(a.s.prompt).toBe('team> ');
  });

  it('shows incoming messages, delivery traces and unread counts', async () => {
    h = await createHarness();
    const a = await session(h);
    const b = await session(h);
    await a.run('/register alice alice-password');
    await a.run('/register bob bob-password');
    await a.run('/login alice alice-password');
    await b.run('/login bob bob-password');
    await a.run('/group team bob');
    await a.run('/send team one');
    for (let i = 0; i < 5 && !a.lines.some((l) => / delivered to 1 of 1$/.test(l)); i++) await settle();
    expect(b.lines).toContain('[team] alice: one');
    expect(b.lines).toContain('* alice added you to team');
    expect(a.lines.filter((l) => / delivered to /.test(l))).toHaveLength(1);
    await b.run('/groups');
    expect(b.lines.at(-1)).toBe('team (2 members, 1 unread)');
    await b.run('/open team');
    await b.run('/groups');
    expect(b.lines.at(-1)).toBe('team (2 members, 0 unread)');
  });
});
