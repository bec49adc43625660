import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/protocol/messages.js';
import type { TraceEvent } from '../../src/client/chat-client.js';
import { createHarness, errorCode, nextEvents, settle, type Harness } from '../support/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('chat server over the in-memory transport', { timeout: 10_000 }, () => {
  it('registers, logs in, creates a group, pushes messages both ways and traces delivery', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    const created = await alice.createGroup('team', ['bob']);
    expect(created).toEqual({ group: 'team', members: ['alice'], invited: ['bob'] });
    await bob.accept('team');

    const bobGets = nextEvents<ChatMessage>(bob, 'message');
    const aliceTrace = nextEvents<TraceEvent>(alice, 'trace');
    const stored = await alice.send('team', 'hello bob');
    expect(stored).toMatchObject({ group: 'team', recipients: 1, delivered: 0, duplicate: false });
    const [m] = await bobGets;
    expect(m).toMatchObject({ group: 'team', from: 'alice', text: 'hello bob', messageId: stored.messageId });
    const [trace] = await aliceTrace;
    expect(trace).toMatchObject({ messageId: stored.messageId, delivered: 1, recipients: 1 });

    const aliceGets = nextEvents<ChatMessage>(alice, 'message');
    await bob.send('team', 'hi alice');
    expect((await aliceGets)[0]).toMatchObject({ from: 'bob', text: 'hi alice' });
  });

  it('stores a retried send once and acknowledges it again with the same id', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    await h.group(alice, 'team', [await h.loggedIn('bob')]);
    const first = await alice.send('team', 'once', 'fixed-id-1');
    const again = await alice.send('team', 'once', 'fixed-id-1');
    expect(again.messageId).toBe(first.messageId);
    expect(again.duplicate).toBe(true);
    expect(h.store.counts().messages).toBe(1);
  });

  it('pages history by message id, oldest first within a page', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    await h.group(alice, 'solo', []);
    const ids: number[] = [];
    for (let i = 1; i <= 25; i++) ids.push((await alice.send('solo', `m${i}`)).messageId);
    const newest = await alice.history('solo', 10);
    expect(newest.messages.map((m) => m.text)).toEqual(ids.slice(15).map((_, i) => `m${16 + i}`));
    expect(newest.more).toBe(true);
    const older = await alice.history('solo', 10, newest.messages[0]?.messageId);
    expect(older.messages.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${6 + i}`));
    const oldest = await alice.history('solo', 10, older.messages[0]?.messageId);
    expect(oldest.messages).toHaveLength(5);
    expect(oldest.more).toBe(false);
  });

  it('cuts a history page to 512 KiB, keeping its newest messages, and pages on from there', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    await h.group(alice, 'solo', []);
    // 60 messages of 4,000 three-byte characters: 720 KB, beyond the page's 512 KiB (and 200 of
    // them would be beyond the transport's 1 MiB message limit).
    const text = (i: number): string => `${String(i).padStart(2, '0')}${'€'.repeat(3_998)}`;
    const me = h.store.findUser('alice')!.id;
    const group = h.store.findGroupForMember('solo', me)!.id;
    for (let i = 1; i <= 60; i++) h.store.insertMessage(group, me, `m${i}`, text(i), h.clock.now);
    const newest = await alice.history('solo', 200);
    expect(newest.more).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(newest.messages))).toBeLessThanOrEqual(512 * 1024);
    const n = newest.messages.length;
    expect(n).toBeGreaterThan(30);
    expect(newest.messages.map((m) => m.text.slice(0, 2))).toEqual(Array.from({ length: n }, (_, i) => String(61 - n + i).padStart(2, '0')));
    const rest = await alice.history('solo', 200, newest.messages[0]!.messageId);
    expect(rest.more).toBe(false);
    expect(rest.messages.length + n).toBe(60);
  });

  it('sends history pages on the bulk lane and everything else on the live lane', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    await h.group(alice, 'solo', []);
    await alice.send('solo', 'one');
    await alice.history('solo', 10);
    await alice.who('solo');
    await errorCode(alice.history('nowhere'));
    const link = h.transport.serverLinks[0]!;
    const lanes = link.log.map(({ lane, text }) => `${lane} ${(JSON.parse(text) as { type: string }).type}`);
    expect(lanes).toEqual(['live ok', 'live ok', 'live ok', 'bulk ok', 'live ok', 'live error']);
    expect(JSON.parse(link.log[3]!.text)).toMatchObject({ group: 'solo', messages: [{ text: 'one' }] });
  });

  it('delivers a live message and later replies while a history page is still on its way', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    await h.group(alice, 'team', [bob]);
    for (let i = 1; i <= 30; i++) await bob.send('team', `old ${i}`);
    await settle();
    // The bulk lane stalls (a lost packet of a long page): live traffic must not wait for it.
    const gate = h.transport.holdReplies('bulk');
    const order: string[] = [];
    const page = alice.history('team', 30).then((p) => (order.push('page'), p));
    const live = nextEvents<ChatMessage>(alice, 'message');
    await bob.send('team', 'live one');
    const [m] = await live;
    order.push(`live ${m?.text}`);
    // A request sent after the history request is answered first (matched by its id).
    const who = await alice.who('team');
    order.push(`who ${who.members.length}`);
    expect(order).toEqual(['live live one', 'who 2']);
    gate.release();
    const p = await page;
    expect(order).toEqual(['live live one', 'who 2', 'page']);
    expect(p.messages.map((x) => x.text)).toEqual(Array.from({ length: 30 }, (_, i) => `old ${i + 1}`));
  });

  it('counts unread messages for offline members and delivers the backlog at login, once', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    await h.group(alice, 'team', [bob]);
    await bob.close();
    for (let i = 1; i <= 3; i++) await alice.send('team', `while away ${i}`);

    const bob2 = await h.client();
    const backlog = nextEvents<ChatMessage>(bob2, 'message', 3);
    const login = await bob2.login('bob', 'bob-password');
    expect(login.groups).toEqual([{ name: 'team', unread: 3, members: 2 }]);
    expect((await backlog).map((m) => m.text)).toEqual(['while away 1', 'while away 2', 'while away 3']);

    // Delivered is not read: /groups still shows 3 unread until bob reads them.
    await settle();
    expect((await bob2.listGroups()).groups[0]?.unread).toBe(3);
    const newest = (await bob2.history('team')).messages.at(-1);
    await bob2.markRead('team', newest?.messageId ?? 0);
    expect((await bob2.listGroups()).groups[0]?.unread).toBe(0);

    // A later login gets no backlog again: everything was acknowledged.
    await settle();
    const bob3 = await h.client();
    let extra = 0;
    bob3.on('message', () => extra++);
    await bob3.login('bob', 'bob-password');
    await bob3.listGroups();
    await settle();
    expect(extra).toBe(0);
  });

  it('sends a long backlog in batches, in order, without duplicates', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    await h.group(alice, 'team', [bob]);
    await bob.close();
    for (let i = 1; i <= 250; i++) await alice.send('team', `n${i}`);
    const bob2 = await h.client();
    const all = nextEvents<ChatMessage>(bob2, 'message', 251);
    await bob2.login('bob', 'bob-password');
    // A live message sent during the catch-up arrives after the backlog, not inside it.
    await alice.send('team', 'live');
    const received = await all;
    expect(received.map((m) => m.text)).toEqual([...Array.from({ length: 250 }, (_, i) => `n${i + 1}`), 'live']);
  });

  it('makes nobody a member without consent: invitations the invitee accepts or declines', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const carol = await h.loggedIn('carol');
    const bob = await h.loggedIn('bob');
    const bobInvited = nextEvents<{ group: string; by: string }>(bob, 'invited');
    await alice.createGroup('team', ['bob']);
    expect((await bobInvited)[0]).toEqual({ group: 'team', by: 'alice' });
    // Invited is not a member: nothing of the group is visible yet, and it does not count.
    expect(await errorCode(bob.history('team'))).toBe('NOT_FOUND');
    expect((await alice.who('team')).members).toEqual([{ user: 'alice', online: true }]);
    expect((await bob.invitations()).invitations).toEqual([{ group: 'team', by: 'alice' }]);
    const aliceTold = nextEvents<{ group: string; user: string }>(alice, 'joined');
    expect(await bob.accept('team')).toEqual({ group: 'team', members: 2 });
    expect((await aliceTold)[0]).toEqual({ group: 'team', user: 'bob' });
    expect(await errorCode(bob.accept('team'))).toBe('NOT_FOUND'); // the invitation is used up

    const carolInvited = nextEvents<{ group: string; by: string }>(carol, 'invited');
    await alice.invite('team', 'carol');
    expect((await carolInvited)[0]).toEqual({ group: 'team', by: 'alice' });
    await carol.decline('team');
    expect((await carol.invitations()).invitations).toEqual([]);
    expect(await errorCode(carol.history('team'))).toBe('NOT_FOUND');
    await bob.close();
    expect((await alice.who('team')).members).toEqual([
      { user: 'alice', online: true },
      { user: 'bob', online: false },
    ]);
    await alice.leaveGroup('team');
    expect(await errorCode(alice.history('team'))).toBe('NOT_FOUND');
  });

  it('answers an invitation the same whoever is named, so nothing about users leaks (defect 4)', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    await h.group(alice, 'team', [bob]);
    await h.loggedIn('carol');
    // A registered user, a member, someone invited twice, and nobody: one answer shape for all.
    const answers = [await alice.invite('team', 'carol'), await alice.invite('team', 'bob'), await alice.invite('team', 'carol'), await alice.invite('team', 'ghost')];
    expect(answers).toEqual([
      { group: 'team', user: 'carol' },
      { group: 'team', user: 'bob' },
      { group: 'team', user: 'carol' },
      { group: 'team', user: 'ghost' },
    ]);
    expect(await alice.createGroup('other', ['ghost', 'carol'])).toEqual({ group: 'other', members: ['alice'], invited: ['carol', 'ghost'] });
    expect(h.store.counts().invitations).toBe(2); // carol to team and to other; nothing for ghost
  });

  it('cannot fill a user up with groups: 200 invitations make no membership (defect 4)', async () => {
    h = await createHarness();
    const mallory = await h.loggedIn('mallory');
    const victim = await h.loggedIn('victim');
    for (let i = 0; i < 200; i++) await mallory.createGroup(`spam${i}`, ['victim']);
    // Pending invitations are capped (oldest give way); none is a membership.
    expect((await victim.invitations()).invitations).toHaveLength(50);
    expect((await victim.listGroups()).groups).toEqual([]);
    const friend = await h.loggedIn('friend');
    await friend.createGroup('real', ['victim']);
    expect(await victim.accept('real')).toEqual({ group: 'real', members: 2 });
  });

  it('refuses a group naming only its creator (defect 8)', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    expect(await errorCode(alice.createGroup('x', ['alice']))).toBe('INVALID_ARGUMENT');
    expect(await errorCode(alice.createGroup('x', ['ALICE']))).toBe('INVALID_ARGUMENT');
    expect(h.store.counts().groups).toBe(0);
  });

  it('logs significant events without passwords or tokens', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice', 'secret-password-1');
    await errorCode((await h.client()).login('alice', 'wrong-password-9'));
    await h.group(alice, 'team', [await h.loggedIn('bob')]);
    const text = h.logs.join('\n');
    expect(text).toMatch(/register .*alice/);
    expect(text).toMatch(/login failed .*alice/);
    expect(text).toMatch(/group created .*team/);
    expect(text).not.toContain('secret-password-1');
    expect(text).not.toContain('wrong-password-9');
    expect(text).not.toContain(alice.sessionToken ?? 'no token');
  });

  it('resumes a session on a new connection, and logout revokes it everywhere', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const token = alice.sessionToken ?? '';
    const other = await h.client();
    expect((await other.resume(token)).user).toBe('alice');
    await alice.logout();
    expect(await errorCode(other.listGroups())).toBe('UNAUTHENTICATED');
    const third = await h.client();
    expect(await errorCode(third.resume(token))).toBe('INVALID_SESSION');
  });

  it('reconnects after a dropped link, resumes, and the retried send is stored once', async () => {
    h = await createHarness();
    const alice = await h.client({ reconnect: true });
    await alice.register('alice', 'alice-password');
    await alice.login('alice', 'alice-password');
    await h.group(alice, 'solo', []);
    // Kill every server-side link: the client reconnects and resumes on its own.
    h.server.close();
    const reconnected = new Promise((r) => alice.once('reconnected', r));
    await reconnected;
    const a = await alice.send('solo', 'after reconnect', 'same-id');
    const b = await alice.send('solo', 'after reconnect', 'same-id');
    expect(b.messageId).toBe(a.messageId);
    expect(h.store.counts().messages).toBe(1);
  });
});
