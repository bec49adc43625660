import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { createEndpoint } from '../../src/index.js';
import { Inbox } from '../../src/node/inbox.js';
import { destroyAll, loopbackEndpoint, once, until, within } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function pair(endpoints: Endpoint[], serverOptions = {}, clientOptions = {}): Promise<{ conn: Connection; peer: Connection }> {
  const server = await loopbackEndpoint(endpoints, serverOptions);
  const accepted = once(server, 'connection');
  const client = await loopbackEndpoint(endpoints, clientOptions);
  const conn = await client.connect(server.address().port, '127.0.0.1');
  const [peer] = (await accepted) as [Connection];
  return { conn, peer };
}

describe('send limits (issue #10)', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('createEndpoint refuses a maxMessageSize larger than maxQueuedBytes (such a message could never be queued)', async () => {
    let error: unknown;
    try {
      endpoints.push(await createEndpoint({ maxMessageSize: 9 * MiB, maxQueuedBytes: 8 * MiB }));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('maxQueuedBytes') });
    expect(error).toBeInstanceOf(RangeError);
  });

  it("every ERR_SEND_QUEUE_FULL is followed by 'drain' once the refused message fits; then it is accepted", async () => {
    const options = { maxMessageSize: 8 * MiB, maxQueuedBytes: 8 * MiB, receiveWindow: 8 * MiB };
    const { conn, peer } = await pair(endpoints, options, options);
    let received = 0;
    peer.on('message', (m) => (received += m.length));
    expect(conn.send(Buffer.alloc(1024))).toBe(true);
    let refused: { code?: string } | undefined;
    try {
      conn.send(Buffer.alloc(8 * MiB));
    } catch (e) {
      refused = e as { code?: string };
    }
    expect(refused?.code).toBe('ERR_SEND_QUEUE_FULL');
    await within(5000, "'drain' after ERR_SEND_QUEUE_FULL", once(conn, 'drain'));
    conn.send(Buffer.alloc(8 * MiB));
    await within(20_000, 'the big message arrives', (async () => {
      while (received < 8 * MiB + 1024) await new Promise((r) => setTimeout(r, 10));
    })());
    expect(received).toBe(8 * MiB + 1024);
  }, 30_000);

  it("refuses locally a message larger than the peer's announced maxMessageSize, instead of being reset by it", async () => {
    const { conn, peer } = await pair(endpoints, { maxMessageSize: 1000 });
    const got: number[] = [];
    peer.on('message', (m) => got.push(m.length));
    expect(() => conn.send(Buffer.alloc(1001))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE', message: expect.stringContaining("peer's") }));
    conn.send(Buffer.alloc(1000));
    await within(5000, 'the message that fits', (async () => {
      while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    })());
    expect(got).toEqual([1000]);
    expect(conn.state).toBe('open');
  });
});

describe('unreliable overload (issue #10)', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('an application that does not read keeps a bounded number of unreliable bytes: the oldest are dropped and counted', async () => {
    const options = { receiveWindow: 1 * MiB, maxMessageSize: 1 * MiB };
    const { conn, peer } = await pair(endpoints, options, options);
    // The server reads nothing for now: unreliable messages queue up in its inbox.
    for (let i = 0; i < 40; i++) {
      conn.send(Buffer.alloc(100 * KiB, i), { delivery: 'unreliable' });
      await new Promise((r) => setTimeout(r, 5));
    }
    // Every one of the 40 either reached the inbox (messagesReceived) or was dropped by the engine
    // (unreliableDropped counts both the engine's drops and the inbox's unreliableQueueDropped): then
    // nothing is still on its way, and the inbox holds its final content.
    await until(5000, 'all 40 accounted for', () => {
      const s = peer.stats();
      return s.messagesReceived + (s.unreliableDropped - s.unreliableQueueDropped) >= 40 && s.unreliableQueueDropped >= 20;
    });
    const stats = peer.stats();
    // Half of min(maxMessageSize, receiveWindow) for unread messages: 512 KiB, about 5 of them.
    expect(stats.queuedMessages).toBeLessThanOrEqual(6);
    expect(stats.retainedBytes).toBeLessThanOrEqual(1 * MiB + 64 * KiB);
    // What is left are the newest.
    const firsts: number[] = [];
    const it = peer[Symbol.asyncIterator]();
    for (let n = 0; n < stats.queuedMessages; n++) firsts.push((await it.next()).value[0]);
    expect(firsts.at(-1)).toBe(39);
    expect(firsts[0]).toBeGreaterThan(30);
    await it.return?.();
  });

  it('Inbox: past its byte limit the oldest unreliable message goes (its credit is given back); reliable ones never', () => {
    const dropped: number[] = [];
    const inbox = new Inbox(1024, 1000, { inboxDropped: (item) => dropped.push(item.credit) });
    const item = (credit: number, unreliable: boolean) => ({
      data: Buffer.alloc(0),
      credit,
      unreliable,
      info: { channel: 0, delivery: unreliable ? ('unreliable' as const) : ('ordered' as const) },
    });
    inbox.push(item(400, true));
    inbox.push(item(5000, false));
    inbox.push(item(400, true));
    inbox.push(item(300, true)); // 1,100 > 1,000: the first unreliable one goes
    expect(dropped).toEqual([400]);
    expect(inbox.dropped).toBe(1);
    expect(inbox.queuedUnreliableBytes).toBe(700);
    expect(inbox.length).toBe(3);
    expect(inbox.shift()?.credit).toBe(5000);
  });
});
