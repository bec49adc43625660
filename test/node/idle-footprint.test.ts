// Idle connections stay small (issue 11 part 4), the Node shell's part: a server connection
// that exchanged one message each way and has nothing in flight owns no closure and no Map or
// Set of its own beyond the listeners the application added (channel iterators, receipts,
// flush()/close() waiters are created on first use, and so is the inbox: a message a listener
// takes at once is never queued). Before, each held a message filter closure, an inbox drop
// callback and three empty Maps, besides the engine's.
import type { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { closuresAndMaps, ownObjects } from '../helpers/footprint.js';
import { destroyAll, loopbackEndpoint, until } from './helpers.js';

const endpoints: Endpoint[] = [];
afterEach(() => destroyAll(endpoints));

/** Not the connection's own: the endpoint (shared) and the listeners the test itself added. */
const notOwn = (key: string): boolean => key === 'host' || key === '_events';

describe('an idle Node connection', () => {
  it('owns no closure, Map or Set beyond its listeners (server side, after one exchange)', async () => {
    const server = await loopbackEndpoint(endpoints);
    const accepted: Connection[] = [];
    server.on('connection', (conn) => {
      accepted.push(conn);
      conn.on('message', (m) => conn.send(m));
    });
    const client = await loopbackEndpoint(endpoints);
    const port = server.address()!.port;
    const clients = [await client.connect(port, '127.0.0.1'), await client.connect(port, '127.0.0.1')];
    let echoed = 0;
    for (const c of clients) {
      c.on('message', () => echoed++);
      c.send(Buffer.from('hello'));
    }
    await until(5000, 'both echoes', () => echoed === 2 && accepted.length === 2);
    const settled = (c: Connection): boolean => c.bufferedAmount === 0 && c.stats().bytesInFlight === 0;
    await until(5000, 'nothing in flight', () => [...accepted, ...clients].every(settled));
    const own = ownObjects(accepted[0]!, accepted[1]!, notOwn);
    expect(closuresAndMaps(own)).toEqual([]);
    expect(closuresAndMaps(ownObjects(clients[0]!, clients[1]!, notOwn))).toEqual([]);
    // Its 'message' listener took each message as it came: no inbox was needed.
    expect([...own.keys()].filter((o) => o.constructor?.name === 'Inbox')).toEqual([]);
    // No iterator, receipt, flush() or close() waited: nothing to wait with (created at the first).
    expect((accepted[0] as unknown as { waits: unknown }).waits).toBeNull();
    clients[0]!.send(Buffer.from('one more'));
    const flushed = clients[0]!.flush();
    expect((clients[0] as unknown as { waits: unknown }).waits).not.toBeNull();
    await flushed;
  });

  it('keeps its listeners in a table with a hidden class (not a hash table), which still inherits no event name', async () => {
    const server = await loopbackEndpoint(endpoints);
    server.on('connection', () => undefined);
    const client = await loopbackEndpoint(endpoints);
    const connection = await client.connect(server.address()!.port, '127.0.0.1');
    const table = (connection as unknown as { _events: object })._events;
    // Untyped: any event name.
    const conn = connection as unknown as EventEmitter;
    // node:events' own table is a null-prototype literal, which V8 keeps as a hash table.
    expect(Object.getPrototypeOf(table)).not.toBeNull();
    expect(Object.getPrototypeOf(Object.getPrototypeOf(table))).toBeNull();
    // Nothing is inherited: names of Object.prototype's members are events like any other.
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(conn.listenerCount(name)).toBe(0);
      expect(conn.emit(name)).toBe(false);
    }
    const calls: string[] = [];
    const onA = (): void => void calls.push('a');
    conn.on('toString', onA);
    conn.once('toString', () => calls.push('once'));
    conn.on('error', () => calls.push('error'));
    expect(conn.eventNames()).toEqual(['toString', 'error']);
    expect(conn.emit('toString')).toBe(true);
    expect(conn.emit('toString')).toBe(true);
    conn.off('toString', onA);
    expect(conn.emit('toString')).toBe(false);
    expect(conn.emit('error', new Error('x'))).toBe(true);
    expect(calls).toEqual(['a', 'once', 'a', 'error']);
    expect(conn.eventNames()).toEqual(['error']);
  });
});
