/**
 * Hostile and mistaken requests: each gets its error code, none changes stored data, and the
 * server keeps serving the same connection afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Link } from '../../src/transport/transport.js';
import { LIMITS } from '../../src/protocol/limits.js';
import { createHarness, errorCode, settle, type Harness } from '../support/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** A raw connection: send any bytes, read the replies as parsed JSON. */
async function rawLink(harness: Harness, from = '127.0.0.1'): Promise<{ link: Link; request(data: string | Uint8Array): Promise<Record<string, unknown>> }> {
  const link = await harness.transport.connectFrom(from, harness.port);
  const replies: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  link.onMessage((d) => {
    replies.push(JSON.parse(Buffer.from(d).toString('utf8')) as Record<string, unknown>);
    waiters.shift()?.();
  });
  return {
    link,
    async request(data) {
      const before = replies.length;
      link.send(typeof data === 'string' ? Buffer.from(data) : data);
      while (replies.length === before) await new Promise<void>((r) => waiters.push(r));
      return replies[before] ?? {};
    },
  };
}

async function seeded(): Promise<Harness> {
  const harness = await createHarness();
  const alice = await harness.loggedIn('alice');
  const bob = await harness.loggedIn('bob');
  await harness.loggedIn('eve');
  await harness.group(alice, 'team', [bob]);
  await alice.send('team', 'secret plans');
  return harness;
}

describe('authentication', { timeout: 10_000 }, () => {
  it('gives unknown user and wrong password the same error, and creates no session', async () => {
    h = await seeded();
    const before = h.store.counts();
    const c = await h.client();
    const wrong = await c.login('alice', 'not-her-password').catch((e: unknown) => e as { code: string; message: string });
    const unknown = await c.login('mallory', 'whatever-password').catch((e: unknown) => e as { code: string; message: string });
    expect(wrong).toMatchObject({ code: 'AUTH_FAILED' });
    expect(unknown).toEqual(wrong);
    expect(h.store.counts()).toEqual(before);
    expect(await errorCode(c.listGroups())).toBe('UNAUTHENTICATED');
  });

  it('throttles failed logins per user, even with the right password, and lets it recover', async () => {
    h = await seeded();
    const c = await h.client();
    for (let i = 0; i < 5; i++) expect(await errorCode(c.login('alice', 'wrong-password'))).toBe('AUTH_FAILED');
    const limited = await c.login('alice', 'alice-password').catch((e: unknown) => e as { code: string; retryAfterMs?: number });
    expect(limited).toMatchObject({ code: 'RATE_LIMITED' });
    expect((limited as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    // Another user from the same address is not locked out by alice's failures.
    expect((await c.login('bob', 'bob-password')).user).toBe('bob');
    h.clock.now += 60_000;
    expect((await c.login('alice', 'alice-password')).user).toBe('alice');
  });

  it('throttles failed logins per address, across user names', async () => {
    h = await seeded();
    const c = await h.client();
    for (let i = 0; i < 20; i++) expect(await errorCode(c.login(`guess${i}`, 'wrong-password'))).toBe('AUTH_FAILED');
    expect(await errorCode(c.login('bob', 'bob-password'))).toBe('RATE_LIMITED');
    const elsewhere = await rawLink(h, '10.0.0.9');
    const reply = await elsewhere.request(JSON.stringify({ type: 'login', id: 1, user: 'bob', password: 'bob-password' }));
    expect(reply).toMatchObject({ type: 'ok', id: 1, user: 'bob' });
  });

  it('rejects forged and malformed tokens', async () => {
    h = await seeded();
    const c = await h.client();
    expect(await errorCode(c.resume('A'.repeat(43)))).toBe('INVALID_SESSION');
    expect(await errorCode(c.resume('short'))).toBe('INVALID_SESSION');
    expect(await errorCode(c.listGroups())).toBe('UNAUTHENTICATED');
  });

  it('expires sessions after inactivity and after their maximum age', async () => {
    h = await seeded();
    const c = await h.loggedIn('carol');
    const token = c.sessionToken ?? '';
    h.clock.now += 30 * 60_000;
    expect(await errorCode(c.listGroups())).toBe('INVALID_SESSION');
    expect(await errorCode((await h.client()).resume(token))).toBe('INVALID_SESSION');

    const d = await h.loggedIn('dave');
    // Active every 10 minutes: never idle, yet gone after 8 hours.
    for (let t = 0; t < 47; t++) {
      h.clock.now += 10 * 60_000;
      await d.listGroups();
    }
    h.clock.now += 10 * 60_000;
    expect(await errorCode(d.listGroups())).toBe('INVALID_SESSION');
  });

  it('keeps a session alive for all its connections while any of them is active', async () => {
    h = await seeded();
    const busy = await h.loggedIn('carol');
    const quiet = await h.client();
    await quiet.resume(busy.sessionToken ?? '');
    for (let t = 0; t < 5; t++) {
      h.clock.now += 10 * 60_000;
      await busy.listGroups();
    }
    // 50 minutes without a request on `quiet`, but the session was in use all along.
    expect((await quiet.listGroups()).groups).toEqual([]);
  });

  it('stores passwords only as salted scrypt hashes', async () => {
    h = await seeded();
    const row = h.store.findUser('alice');
    expect(row?.passwordHash).toMatch(/^scrypt\$4\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(row?.passwordHash).not.toContain('alice-password');
    expect(h.store.findUser('bob')?.passwordHash.split('$')[4]).not.toBe(row?.passwordHash.split('$')[4]);
  });
});

describe('group visibility', { timeout: 10_000 }, () => {
  it('answers a non-member exactly as for a group that does not exist, and changes nothing', async () => {
    h = await seeded();
    const eve = await h.loggedIn('eve');
    const before = h.store.counts();
    const attempts = (group: string) => [
      eve.history(group),
      eve.send(group, 'let me in'),
      eve.who(group),
      eve.invite(group, 'eve'),
      eve.accept(group),
      eve.decline(group),
      eve.edit(group, 1, 'mine now'),
      eve.deleteMessage(group, 1),
      eve.typing(group),
      eve.leaveGroup(group),
      eve.request({ type: 'received', group, upTo: 1 }),
      eve.markRead(group, 1),
    ];
    // Errors name the group asked about (the caller's own word): compare them with it blanked.
    const outcome = (group: string) => (p: Promise<unknown>) =>
      p.catch((e: unknown) => ({ ...(e as object), message: (e as Error).message.replace(group, 'G') }));
    const member = await Promise.all(attempts('team').map(outcome('team')));
    const missing = await Promise.all(attempts('nosuchgroup').map(outcome('nosuchgroup')));
    for (const result of member) expect(result).toMatchObject({ code: 'NOT_FOUND' });
    expect(member).toEqual(missing);
    expect(h.store.counts()).toEqual(before);
    expect((await eve.listGroups()).groups).toEqual([]);
  });

});

describe('malformed and oversized requests', { timeout: 10_000 }, () => {
  const cases: [string, string | (() => Uint8Array), string, unknown][] = [
    ['not JSON', '{"type": "login", ', 'BAD_REQUEST', null],
    ['invalid UTF-8', () => Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]), 'BAD_REQUEST', null],
    ['a JSON array', '[1,2,3]', 'BAD_REQUEST', null],
    ['no id', '{"type":"listGroups"}', 'BAD_REQUEST', null],
    ['an object id', '{"type":"listGroups","id":{"x":1}}', 'BAD_REQUEST', null],
    ['a __proto__ key', '{"type":"login","id":3,"user":"alice","password":"alice-password","__proto__":{"polluted":true}}', 'BAD_REQUEST', null],
    ['a nested constructor key', '{"type":"createGroup","id":4,"group":"g","members":[],"x":{"constructor":{"prototype":{"polluted":true}}}}', 'BAD_REQUEST', null],
    ['an unknown type', '{"type":"dropTables","id":5}', 'UNKNOWN_TYPE', 5],
    ['a missing type', '{"id":6}', 'BAD_REQUEST', 6],
    ['a field of the wrong type', '{"type":"send","id":7,"group":"team","clientMsgId":"x","text":42}', 'BAD_REQUEST', 7],
    ['a bad user name', '{"type":"register","id":8,"user":"../etc","password":"long-enough-pw"}', 'INVALID_ARGUMENT', 8],
    ['a short password', '{"type":"register","id":9,"user":"zed","password":"short"}', 'INVALID_ARGUMENT', 9],
    ['a negative history limit', '{"type":"history","id":10,"group":"team","limit":-1}', 'BAD_REQUEST', 10],
    ['escape codes in a message', '{"type":"send","id":11,"group":"team","clientMsgId":"esc","text":"\\u001b[2Jgotcha"}', 'INVALID_ARGUMENT', 11],
    ['a newline in a message', '{"type":"send","id":12,"group":"team","clientMsgId":"nl","text":"a\\n[team] bob: forged"}', 'INVALID_ARGUMENT', 12],
    // Defect 3: characters that forge lines or reorder text without being "control characters".
    ['a line separator in a message', '{"type":"send","id":21,"group":"team","clientMsgId":"ls","text":"a\\u2028[team] bob: forged"}', 'INVALID_ARGUMENT', 21],
    ['a paragraph separator in a message', '{"type":"send","id":22,"group":"team","clientMsgId":"ps","text":"a\\u2029b"}', 'INVALID_ARGUMENT', 22],
    ['a bidi override in a message', '{"type":"send","id":23,"group":"team","clientMsgId":"rlo","text":"pay \\u202e0001\\u202c EUR"}', 'INVALID_ARGUMENT', 23],
    ['a bidi isolate in a message', '{"type":"send","id":24,"group":"team","clientMsgId":"fsi","text":"x\\u2068y\\u2069"}', 'INVALID_ARGUMENT', 24],
    ['a zero-width space in a message', '{"type":"send","id":25,"group":"team","clientMsgId":"zw","text":"ad\\u200bmin"}', 'INVALID_ARGUMENT', 25],
    ['a byte order mark in a message', '{"type":"send","id":26,"group":"team","clientMsgId":"bom","text":"\\ufeffhi"}', 'INVALID_ARGUMENT', 26],
    ['a line separator in an edit', '{"type":"edit","id":27,"group":"team","messageId":1,"text":"a\\u2028b"}', 'INVALID_ARGUMENT', 27],
    // Defect 1: a request too large (or too broken) to parse is still answered with its id.
    ['an oversized request, id first', () => Buffer.from(`{"id":28,"type":"send","group":"team","clientMsgId":"huge","text":"${'x'.repeat(LIMITS.maxRequestBytes)}"}`), 'TOO_LARGE', 28],
    ['broken JSON, id first', '{"id":"req-29","type":"send",', 'BAD_REQUEST', 'req-29'],
    ['a message over the text limit', () => Buffer.from(JSON.stringify({ type: 'send', id: 13, group: 'team', clientMsgId: 'big', text: 'x'.repeat(LIMITS.maxTextLength + 1) })), 'TOO_LARGE', 13],
    ['a request over the size limit', () => Buffer.from(JSON.stringify({ type: 'send', id: 14, group: 'team', clientMsgId: 'huge', text: 'x'.repeat(LIMITS.maxRequestBytes) })), 'TOO_LARGE', null],
  ];

  it.each(cases)('%s gets %s and changes nothing', async (_name, payload, code, id) => {
    h = await seeded();
    const raw = await rawLink(h);
    // Log in on this raw connection so that authenticated request types are really checked.
    expect(await raw.request(JSON.stringify({ type: 'login', id: 'login', user: 'alice', password: 'alice-password' }))).toMatchObject({ type: 'ok' });
    const before = h.store.counts();
    const reply = await raw.request(typeof payload === 'string' ? payload : payload());
    expect(reply).toMatchObject({ type: 'error', code, id });
    expect(typeof reply['message']).toBe('string');
    expect(h.store.counts()).toEqual(before);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // The connection still works.
    expect(await raw.request('{"type":"listGroups","id":99}')).toMatchObject({ type: 'ok', id: 99 });
  });

  it('refuses authenticated requests before login', async () => {
    h = await seeded();
    const raw = await rawLink(h);
    const before = h.store.counts();
    const reply = await raw.request('{"type":"send","id":1,"group":"team","clientMsgId":"a","text":"hi"}');
    expect(reply).toMatchObject({ type: 'error', id: 1, code: 'UNAUTHENTICATED' });
    expect(h.store.counts()).toEqual(before);
  });
});

describe('server robustness', { timeout: 10_000 }, () => {
  it('answers an unexpected failure with INTERNAL, logs it, and keeps serving the connection', async () => {
    h = await seeded();
    const alice = await h.loggedIn('alice');
    const original = h.store.history.bind(h.store);
    h.store.history = () => {
      throw new Error('disk on fire');
    };
    expect(await errorCode(alice.history('team'))).toBe('INTERNAL');
    h.store.history = original;
    expect((await alice.history('team')).messages.map((m) => m.text)).toEqual(['secret plans']);
    expect(h.logs.some((l) => l.startsWith('error ') && l.includes('disk on fire'))).toBe(true);
  });

  it('throttles a flooding connection, still echoing each request id', async () => {
    h = await createHarness({ requestThrottle: { burst: 3, refillMs: 1_000_000 } });
    const raw = await rawLink(h);
    for (let id = 1; id <= 3; id++) expect(await raw.request(`{"type":"ping","id":${id}}`)).toMatchObject({ type: 'ok', id });
    expect(await raw.request('{"type":"ping","id":4}')).toMatchObject({ type: 'error', id: 4, code: 'RATE_LIMITED' });
  });
});

describe('notices (receipts without an id)', { timeout: 10_000 }, () => {
  it('get no reply, not even an error, and still take effect', async () => {
    h = await seeded();
    const raw = await rawLink(h);
    expect(await raw.request(JSON.stringify({ type: 'login', id: 1, user: 'bob', password: 'bob-password' }))).toMatchObject({ type: 'ok' });
    raw.link.send(Buffer.from(JSON.stringify({ type: 'read', group: 'team', upTo: 1 })));
    raw.link.send(Buffer.from(JSON.stringify({ type: 'read', group: 'nosuchgroup', upTo: 1 }))); // an error, silently
    raw.link.send(Buffer.from(JSON.stringify({ type: 'listGroups' }))); // not a notice type: BAD_REQUEST
    // The next reply is the listGroups error: the notices were answered by nothing.
    const next = await raw.request(JSON.stringify({ type: 'ping', id: 2 }));
    expect(next).toMatchObject({ type: 'error', id: null, code: 'BAD_REQUEST' });
    // That error is sent as the request is parsed; the notices before it are applied in order
    // through the (async) store: give them their turns (bounded).
    const unread = (): number | undefined => h.store.groupsOf(h.store.findUser('bob')?.id ?? 0)[0]?.unread;
    for (let i = 0; i < 50 && unread() !== 0; i++) await settle();
    expect(unread()).toBe(0);
  });
});
