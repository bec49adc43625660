/**
 * The client engine never leaves a command waiting forever (defect 1): an oversized request
 * fails locally, and a request the server never answers fails with TIMEOUT. And what it shows
 * is escaped (defect 3, defence in depth: even a server that let a forged line through cannot
 * make the terminal show one). Receipts under a steady stream go once per interval, a backlog
 * batch's at once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatClient, RECEIPT_AT_ONCE } from '../../src/client/chat-client.js';
import { Formatter, clean } from '../../src/client/format.js';
import { LIMITS } from '../../src/protocol/limits.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { MemoryTransport } from '../support/memory-transport.js';
import { createHarness, errorCode, nextEvents, settle, type Harness } from '../support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  h = undefined;
});

describe('no command waits forever', () => {
  it('refuses a request over 64 KiB itself, sending nothing', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    await h.group(alice, 'solo', []);
    const before = h.store.counts();
    expect(await errorCode(alice.send('solo', 'x'.repeat(100_000)))).toBe('TOO_LARGE');
    // ...and the connection goes on.
    expect((await alice.send('solo', 'small')).messageId).toBeGreaterThan(0);
    expect(h.store.counts().messages).toBe(before.messages + 1);
  });

  it('fails a request the server never answers with TIMEOUT', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const transport = new MemoryTransport();
    const listener = await transport.listen('127.0.0.1', 0);
    listener.onLink(() => {}); // a "server" that accepts and never says anything
    const client = new ChatClient({ transport, host: '127.0.0.1', port: listener.port, reconnect: false, heartbeatMs: 0, requestTimeoutMs: 5_000 });
    await client.connect();
    const outcome = client.listGroups().catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(client.status().pending).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    expect(client.status().pending).toBe(0);
    client.destroy();
  });
});

describe('display escaping', () => {
  it('shows separators, bidi overrides, zero-width and control characters escaped, never raw', () => {
    expect(clean('a\u2028[team] bob: forged')).toBe('a\\u{2028}[team] bob: forged');
    expect(clean('pay \u202e0001\u202c EUR')).toBe('pay \\u{202e}0001\\u{202c} EUR');
    expect(clean('ad\u200bmin\ufeff')).toBe('ad\\u{200b}min\\u{feff}');
    expect(clean('\x1b[2J\r\x85')).toBe('\\u{001b}[2J\\u{000d}\\u{0085}');
    expect(clean('tab\there, emoji 👩‍💻, Persian \u200c ok')).toBe('tab here, emoji 👩‍💻, Persian \u200c ok');
    const f = new Formatter();
    const line = f.incoming({ group: 'team', messageId: 1, from: 'eve', text: 'hi\u2029[team] bob: give me your password', sentAt: 0, kind: 'text' });
    expect(line).toBe('[team] eve: hi\\u{2029}[team] bob: give me your password');
    expect(line).not.toMatch(/[\u2028\u2029]/);
  });
});

describe('receipts under a steady stream', () => {
  /** Runs immediates until `done()` holds (bounded: the memory transport delivers on microtasks). */
  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !done(); i++) await settle();
  }

  /** Alice and bob logged in on `harness`, both in group 'team'. */
  async function aliceAndBobInTeam(harness: Harness) {
    const alice = await harness.loggedIn('alice');
    const bob = await harness.loggedIn('bob');
    await harness.group(alice, 'team', [bob]);
    const bobId = harness.store.findUser('bob')?.id ?? 0;
    const groupId = harness.store.findGroupForMember('team', bobId)?.id ?? 0;
    return { alice, bob, bobId, groupId };
  }

  it('acknowledges a stream of live messages with one receipt per interval, covering all of them', async () => {
    h = await createHarness();
    const { alice, bob, bobId, groupId } = await aliceAndBobInTeam(h);
    // Time stands still (performance.now and setTimeout are fake): only the interval's timer releases a delayed receipt.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const before = bob.messagesSent;
    let last = 0;
    for (let i = 0; i < 10; i++) {
      const shown = nextEvents<ChatMessage>(bob, 'message');
      last = (await alice.send('team', `m${i}`)).messageId;
      await shown;
      await settle();
    }
    // The first receipt went at once (nothing was acknowledged before); the nine after it wait for the interval.
    expect(bob.messagesSent - before).toBe(1);
    expect(h.store.deliveredMark(groupId, bobId)).toBeLessThan(last);
    await vi.advanceTimersByTimeAsync(100);
    await until(() => h?.store.deliveredMark(groupId, bobId) === last);
    expect(bob.messagesSent - before).toBe(2);
    expect(h.store.deliveredMark(groupId, bobId)).toBe(last);
  });

  it('a receipt waiting for the interval goes when the client closes (never lost with its timer)', async () => {
    h = await createHarness();
    const { alice, bob, bobId, groupId } = await aliceAndBobInTeam(h);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let last = 0;
    for (let i = 0; i < 2; i++) {
      const shown = nextEvents<ChatMessage>(bob, 'message');
      last = (await alice.send('team', `m${i}`)).messageId;
      await shown;
      await settle();
    }
    // The second receipt waits for the interval's timer, which never runs: close sends it first.
    expect(h.store.deliveredMark(groupId, bobId)).toBeLessThan(last);
    // (The memory transport closes both ends at once, dropping what is in flight, so the
    // server's mark cannot show it: the client's count of what it sent does.)
    const sentBefore = bob.messagesSent;
    const closed = bob.close();
    expect(bob.messagesSent - sentBefore).toBe(1);
    vi.useRealTimers();
    await closed;
  });

  it('acknowledges each backlog batch at once, so a long backlog never waits for the interval', async () => {
    h = await createHarness();
    const alice = await h.loggedIn('alice');
    const bob = await h.loggedIn('bob');
    await h.group(alice, 'team', [bob]);
    await bob.logout();
    const aliceId = h.store.findUser('alice')?.id ?? 0;
    const bobId = h.store.findUser('bob')?.id ?? 0;
    const groupId = h.store.findGroupForMember('team', bobId)?.id ?? 0;
    let last = 0;
    for (let i = 0; i < 2.5 * LIMITS.backlogBatch; i++) last = h.store.insertMessage(groupId, aliceId, `c${i}`, `m${i}`, h.clock.now).message.messageId;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const shown = nextEvents<ChatMessage>(bob, 'message', 2.5 * LIMITS.backlogBatch);
    await bob.login('bob', 'bob-password');
    await until(() => h?.store.deliveredMark(groupId, bobId) === last);
    // Three batches, each acknowledged without any timer running (time stands still).
    expect(h.store.deliveredMark(groupId, bobId)).toBe(last);
    expect((await shown).at(-1)?.messageId).toBe(last);
    expect(RECEIPT_AT_ONCE).toBeLessThan(LIMITS.backlogBatch);
  });
});
