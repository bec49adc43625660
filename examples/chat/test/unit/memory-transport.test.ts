import { describe, expect, it } from 'vitest';
import type { Link } from '../../src/transport/transport.js';
import { MemoryTransport } from '../support/memory-transport.js';

/**
 * The unit tests' in-memory transport closes as reliable-dgram does (docs/protocol.md §18.1): a
 * graceful close delivers what was already sent, in both directions, before either end reports
 * the close; only destroy() drops what is in flight.
 */
async function linked(): Promise<{ transport: MemoryTransport; client: Link; server: Link }> {
  const transport = new MemoryTransport();
  const listener = await transport.listen('127.0.0.1', 0);
  let server: Link | undefined;
  listener.onLink((l) => (server = l));
  const client = await transport.connect('127.0.0.1', listener.port);
  return { transport, client, server: server! };
}

/** Everything a link reports, in order: `msg:<text>` and `close[:<code>]`. */
function record(link: Link): string[] {
  const seen: string[] = [];
  link.onMessage((d) => seen.push(`msg:${Buffer.from(d).toString()}`));
  link.onClose((err) => seen.push(err ? `close:${(err as { code?: string }).code}` : 'close'));
  return seen;
}

const text = (s: string): Uint8Array => Buffer.from(s);
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('MemoryTransport closing', () => {
  it('close() right after send(): the peer still gets every message, then the close; later sends throw', async () => {
    const { client, server } = await linked();
    const atServer = record(server);
    const atClient = record(client);
    client.send(text('a'));
    client.send(text('b'), 'bulk');
    const closed = client.close();
    expect(() => client.send(text('c'))).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
    await closed;
    await settle();
    expect(atServer).toEqual(['msg:a', 'msg:b', 'close']);
    expect(atClient).toEqual(['close']);
  });

  it('messages the peer sent before it heard of the close still reach the closing end', async () => {
    const { client, server } = await linked();
    const atClient = record(client);
    record(server);
    server.send(text('reply-1'));
    const closed = client.close();
    server.send(text('reply-2'));
    await closed;
    await settle();
    expect(atClient).toEqual(['msg:reply-1', 'msg:reply-2', 'close']);
  });

  it('held replies arrive before the close completes (the close waits behind them)', async () => {
    const { transport, client, server } = await linked();
    const atClient = record(client);
    record(server);
    const hold = transport.holdReplies();
    server.send(text('held'));
    let done = false;
    void server.close().then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    expect(atClient).toEqual([]);
    hold.release();
    await settle();
    expect(done).toBe(true);
    expect(atClient).toEqual(['msg:held', 'close']);
  });

  it('destroy() ends both ends at once and drops what is in flight; the peer sees a reset', async () => {
    const { client, server } = await linked();
    const atServer = record(server);
    client.send(text('lost'));
    client.destroy();
    await settle();
    expect(atServer).toEqual(['close:ERR_CONNECTION_RESET']);
  });
});
