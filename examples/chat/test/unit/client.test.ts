/**
 * The client engine never leaves a command waiting forever (defect 1): an oversized request
 * fails locally, and a request the server never answers fails with TIMEOUT. And what it shows
 * is escaped (defect 3, defence in depth: even a server that let a forged line through cannot
 * make the terminal show one).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatClient } from '../../src/client/chat-client.js';
import { Formatter, clean } from '../../src/client/format.js';
import { MemoryTransport } from '../support/memory-transport.js';
import { createHarness, errorCode, type Harness } from '../support/harness.js';

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
