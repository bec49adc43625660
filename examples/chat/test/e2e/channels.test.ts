/**
 * The chat's two lanes over real UDP on 127.0.0.1 (PROTOCOL.md, "Channels"): a client paging a
 * long history, through reliable-dgram's impairment proxy (a 1 MB/s bottleneck with 2 % loss and
 * 10 ms of delay each way), still gets a live message at once, long before the page is complete.
 *
 * The server and both clients run in this process, so the test knows the moment the server has
 * queued the page (it wraps the server's links): the live message is sent after it. On one
 * ordered stream the live message could only arrive after the whole page; on the bulk lane the
 * page yields to it.
 *
 * Then who sets the bulk lane's priority: only the link that sends a page, once, just before it
 * (the sender's setting; clients, which send none, and links that never send one set nothing).
 */
import { Connection } from 'reliable-dgram';
import { ImpairProxy } from 'reliable-dgram/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatClient } from '../../src/client/chat-client.js';
import { pinnedTrust } from '../../src/client/known-servers.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { ChatServer } from '../../src/server/chat-server.js';
import { PasswordHasher } from '../../src/server/passwords.js';
import { SqliteChatStore } from '../../src/server/sqlite-store.js';
import { Store } from '../../src/server/store.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { fingerprint, generateServerIdentity } from '../../src/transport/server-key.js';
import type { Lane, Link, Listener } from '../../src/transport/transport.js';
import { TEST_SCRYPT } from '../support/harness.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A listener whose links report every bulk send to `onBulk` (then send it as usual). */
function watched(listener: Listener, onBulk: (bytes: number) => void): Listener {
  return {
    host: listener.host,
    port: listener.port,
    close: () => listener.close(),
    onLink: (accept) =>
      listener.onLink((link) => {
        const wrapped: Link = Object.create(link) as Link;
        wrapped.send = (data: Uint8Array, lane?: Lane): boolean => {
          const queued = link.send(data, lane);
          if (lane === 'bulk') onBulk(data.byteLength);
          return queued;
        };
        accept(wrapped);
      }),
  };
}

describe('chat lanes on reliable-dgram channels', { timeout: 60_000 }, () => {
  it('a live message overtakes a long history page on a slow, lossy link', async () => {
    const { identity } = generateServerIdentity();
    const store = new Store(':memory:');
    const server = new ChatServer({ store: new SqliteChatStore(store, ':memory:'), hasher: new PasswordHasher({ params: TEST_SCRYPT }) });
    cleanup.push(() => server.close());
    const listener = await new ReliableDgramTransport({ keyPair: identity }).listen('127.0.0.1', 0);
    cleanup.push(() => listener.close());
    let pageQueued: (bytes: number) => void = () => {};
    const queued = new Promise<number>((resolve) => (pageQueued = resolve));
    server.attach(watched(listener, (bytes) => pageQueued(bytes)));

    const impaired = { loss: 0.02, delay: 10, rate: 1_000_000, queue: 128 * 1024 };
    const proxy = await ImpairProxy.start({ target: { address: '127.0.0.1', port: listener.port }, up: { loss: 0.02, delay: 10 }, down: impaired, seed: 12, log: null });
    cleanup.push(() => proxy.close());
    const trust = pinnedTrust(fingerprint(identity.publicKey));
    const open = async (port: number, user: string): Promise<ChatClient> => {
      const c = new ChatClient({ transport: new ReliableDgramTransport({ trust }), host: '127.0.0.1', port, reconnect: false, heartbeatMs: 0 });
      cleanup.push(() => c.close());
      await c.connect();
      await c.register(user, `${user}-password`);
      await c.login(user, `${user}-password`);
      return c;
    };
    const alice = await open(proxy.address().port, 'alice');
    const bob = await open(listener.port, 'bob');
    await alice.createGroup('team', ['bob']);
    await bob.accept('team');

    // 200 messages of 2,400 characters, written straight into the store: a page of ~500 KB
    // (just under the page limit), some 440 packets, half a second at the bottleneck's 1 MB/s
    // before loss recovery.
    const bobId = store.findUser('bob')!.id;
    const groupId = store.findGroupForMember('team', bobId)!.id;
    for (let i = 1; i <= 200; i++) store.insertMessage(groupId, bobId, `old-${i}`, `${String(i).padStart(3, '0')} ${'x'.repeat(2_396)}`, Date.now());

    const order: string[] = [];
    const live = new Promise<ChatMessage>((resolve) => alice.on('message', (m) => m.text === 'live now' && resolve(m)));
    const page = alice.history('team', 200).then((p) => {
      order.push('page');
      return p;
    });
    const pageBytes = await queued;
    expect(pageBytes).toBeGreaterThan(480_000);
    // The page is queued at the server: the live message goes after it.
    const sentAt = performance.now();
    await bob.send('team', 'live now');
    await live;
    order.push('live');
    const liveMs = performance.now() - sentAt;
    const p = await page;
    const pageMs = performance.now() - sentAt;

    if (process.env['CHAT_LANES_LOG']) console.log(JSON.stringify({ liveMs, pageMs, pageBytes }));
    // On one ordered stream: ['page', 'live'], always.
    expect(order).toEqual(['live', 'page']);
    expect(p.messages).toHaveLength(200);
    expect(p.messages.map((m) => m.text.slice(0, 3))).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1).padStart(3, '0')));
  });

  it('only a link that sends a page sets the bulk lane, once, just before its first page (clients never)', async () => {
    // Every Connection of the library (server and client ones alike) is watched, then works as usual.
    const setChannel = vi.spyOn(Connection.prototype, 'setChannel');
    const send = vi.spyOn(Connection.prototype, 'send');
    cleanup.push(() => {
      setChannel.mockRestore();
      send.mockRestore();
    });
    const { identity } = generateServerIdentity();
    const server = new ChatServer({ store: new SqliteChatStore(new Store(':memory:'), ':memory:'), hasher: new PasswordHasher({ params: TEST_SCRYPT }) });
    cleanup.push(() => server.close());
    const listener = await new ReliableDgramTransport({ keyPair: identity }).listen('127.0.0.1', 0);
    cleanup.push(() => listener.close());
    server.attach(listener);
    const trust = pinnedTrust(fingerprint(identity.publicKey));
    const open = async (user: string): Promise<ChatClient> => {
      const c = new ChatClient({ transport: new ReliableDgramTransport({ trust }), host: '127.0.0.1', port: listener.port, reconnect: false, heartbeatMs: 0 });
      cleanup.push(() => c.close());
      await c.connect();
      await c.register(user, `${user}-password`);
      await c.login(user, `${user}-password`);
      return c;
    };
    const alice = await open('alice');
    const bob = await open('bob');
    await alice.createGroup('team', ['bob']);
    await bob.accept('team');
    const got = new Promise<ChatMessage>((resolve) => alice.on('message', (m) => m.text === 'hello' && resolve(m)));
    await bob.send('team', 'hello');
    await got;
    // Logins, a group, a message and its fan-out: all live, no link configured anything.
    expect(send.mock.calls.length).toBeGreaterThan(10);
    expect(setChannel).not.toHaveBeenCalled();

    const page = await alice.history('team', 20);
    expect(page.messages.map((m) => m.text)).toEqual(['hello']);
    expect(setChannel.mock.calls).toEqual([[1, { priority: 1 }]]);
    // On the server's connection to alice, right before the page (the next send, on channel 1).
    const at = setChannel.mock.invocationCallOrder[0]!;
    const next = send.mock.invocationCallOrder.findIndex((order) => order > at);
    expect(send.mock.calls[next]?.[1]).toEqual({ channel: 1 });
    expect(send.mock.contexts[next]).toBe(setChannel.mock.contexts[0]);
    await alice.history('team', 20);
    await bob.history('team', 20);
    // Once per link: bob's server link sets it at its own first page.
    expect(setChannel.mock.calls).toEqual([[1, { priority: 1 }], [1, { priority: 1 }]]);
    expect(setChannel.mock.contexts[1]).not.toBe(setChannel.mock.contexts[0]);
  });
});
