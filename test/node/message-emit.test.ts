import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { EndpointConnection } from '../../src/core/endpoint.js';
import type { CoreEvent } from '../../src/core/types.js';
import { Connection, type ConnectionHost } from '../../src/node/connection.js';
import { bytesPerCall } from '../helpers/v8-natives.js';

/**
 * A message reaching a 'message' listener: with one plain listener the shell calls it itself
 * (Connection.handleCoreEvent), as node:events' emit would, without emit's rest-parameter array per
 * message (issue 11); everything else still goes through emit.
 */

/** A Connection over a stand-in endpoint: enough for engine events that carry no credit. */
function connection(): Connection {
  const host = { maxQueuedUnreliable: 16, maxQueuedUnreliableBytes: 1 << 20 } as unknown as ConnectionHost;
  const record = { core: { release: () => undefined } } as unknown as EndpointConnection;
  return new Connection(host, record);
}

function message(data: Buffer): CoreEvent {
  return { type: 'message', data, delivery: 'ordered', channel: 0, credit: 0 } as CoreEvent;
}

describe("a connection's 'message' event", () => {
  it('reaches one listener without an allocation per message', () => {
    const conn = connection();
    let seen = 0;
    conn.on('message', () => {
      seen++;
    });
    const events = Array.from({ length: 10_000 }, () => message(Buffer.alloc(8)));
    const bytes = bytesPerCall(Connection.prototype.handleCoreEvent, (i) => conn.handleCoreEvent(events[i]!));
    // Through emit(type, ...args): its arguments array, ~56 B per message.
    expect(bytes).toBeLessThan(16);
    expect(seen).toBeGreaterThan(10_000);
  });

  it('gives the listener the data, the info and the connection as `this`, as emit does', () => {
    const conn = connection();
    const calls: unknown[][] = [];
    conn.on('message', function (this: unknown, ...args: unknown[]) {
      calls.push([this, ...args]);
    });
    const data = Buffer.from('hi');
    conn.handleCoreEvent(message(data));
    expect(calls).toEqual([[conn, data, { channel: 0, delivery: 'ordered' }]]);
  });

  it("a once() listener hears one message; the next waits for the next listener", () => {
    const conn = connection();
    const got: string[] = [];
    conn.once('message', (d: Buffer) => got.push(`once ${d.toString()}`));
    conn.handleCoreEvent(message(Buffer.from('a')));
    conn.handleCoreEvent(message(Buffer.from('b')));
    expect(got).toEqual(['once a']);
    conn.on('message', (d: Buffer) => got.push(`on ${d.toString()}`));
    return new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => expect(got).toEqual(['once a', 'on b']));
  });

  it('reaches every listener when there are several', () => {
    const conn = connection();
    const got: string[] = [];
    conn.on('message', () => got.push('first'));
    conn.on('message', () => got.push('second'));
    conn.handleCoreEvent(message(Buffer.from('x')));
    expect(got).toEqual(['first', 'second']);
  });

  it("with captureRejections, a listener's rejected promise becomes 'error' (emit's own handling)", async () => {
    const before = EventEmitter.captureRejections;
    EventEmitter.captureRejections = true;
    let conn: Connection;
    try {
      conn = connection();
    } finally {
      EventEmitter.captureRejections = before;
    }
    const failure = new Error('listener failed');
    const heard = new Promise<unknown>((resolve) => conn.on('error', resolve));
    conn.on('message', async () => {
      throw failure;
    });
    conn.handleCoreEvent(message(Buffer.from('x')));
    expect(await heard).toBe(failure);
  });
});
