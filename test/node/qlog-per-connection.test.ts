import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEndpoint, type Connection, type Endpoint } from '../../src/index.js';
import type { TracedConnection } from '../../src/core/trace.js';
import { destroyAll, loopbackEndpoint, within } from './helpers.js';

/**
 * Per-connection qlog on real sockets (127.0.0.1): connect()'s `qlog` option on the client side,
 * the endpoint's `qlogFilter` for the connections it accepts (and opens).
 */

const root = mkdtempSync(join(tmpdir(), 'rd-qlog-conn-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const endpoints: Endpoint[] = [];
afterEach(() => destroyAll(endpoints));
let n = 0;
const fresh = (): string => join(root, `t${n++}`);
const ls = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

/** Open `count` connections from `client` to `server`, send on each, close both endpoints; returns the accepted ones' ids. */
async function exchange(server: Endpoint, client: Endpoint, options: Parameters<Endpoint['connect']>[2][]): Promise<Connection[]> {
  const accepted: Connection[] = [];
  let got = 0;
  const all = new Promise<void>((resolve) => {
    server.on('connection', (c: Connection) => {
      accepted.push(c);
      c.on('message', () => {
        if (++got === options.length) resolve();
      });
    });
  });
  const conns: Connection[] = [];
  for (const o of options) conns.push(await client.connect(server.address().port, '127.0.0.1', o));
  for (const c of conns) c.send('hello');
  await within(5000, 'every message', all);
  await Promise.all([client.close(), server.close()]);
  return accepted;
}

/** JSON-SEQ (RFC 7464): RS before each record. */
const parseJsonSeq = (text: string): unknown[] =>
  text
    .split('\x1e')
    .slice(1)
    .map((r) => JSON.parse(r) as unknown);

const records = (path: string): { name?: string; data?: Record<string, unknown>; trace?: { vantage_point?: { type?: string } } }[] =>
  parseJsonSeq(readFileSync(path, 'utf8')) as never;

describe('qlog per connection', () => {
  it("connect(..., { qlog: { dir } }) writes that connection's file there, on an endpoint without qlogDir; others write none", async () => {
    const dir = join(fresh(), 'nested'); // created by connect()
    const server = await loopbackEndpoint(endpoints);
    const client = await loopbackEndpoint(endpoints);
    await exchange(server, client, [{ qlog: { dir } }, undefined]);
    const files = ls(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^client-[0-9a-f]{16}\.sqlog$/);
    const [header, ...events] = records(join(dir, files[0]!));
    expect(header!.trace?.vantage_point?.type).toBe('client');
    expect(events.some((e) => e.name === 'transport:packet_sent')).toBe(true);
    expect(events.at(-1)).toMatchObject({ name: 'connectivity:connection_state_updated', data: { new: 'closed' } });
  });

  it('with qlogDir: qlog false leaves one connection out, qlog true keeps one in when qlogFilter says no', async () => {
    const clientDir = fresh();
    const serverDir = fresh();
    const seen: TracedConnection[] = [];
    const server = await loopbackEndpoint(endpoints, { qlogDir: serverDir });
    const client = await loopbackEndpoint(endpoints, {
      qlogDir: clientDir,
      qlogFilter: (c) => {
        seen.push(c);
        return false;
      },
    });
    await exchange(server, client, [{ qlog: false }, { qlog: true }, undefined]);
    // Client side: only the one that asked (qlog: true); the filter was asked only for the third.
    expect(ls(clientDir)).toHaveLength(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.role).toBe('client');
    // Server side: no filter, every accepted connection.
    expect(ls(serverDir)).toHaveLength(3);
  });

  it('qlogFilter chooses which accepted connections are traced (and a filter that throws traces none)', async () => {
    const dir = fresh();
    let asked = 0;
    const server = await loopbackEndpoint(endpoints, {
      qlogDir: dir,
      qlogFilter: (c) => {
        asked++;
        if (asked === 3) throw new Error('user bug');
        return c.role === 'server' && asked % 2 === 1;
      },
    });
    const client = await loopbackEndpoint(endpoints);
    const accepted = await exchange(server, client, [undefined, undefined, undefined, undefined]);
    expect(accepted).toHaveLength(4);
    expect(asked).toBe(4);
    // Asked 1: yes, 2: no, 3: threw, 4: no.
    const files = ls(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^server-/);
  });

  it('rejects bad qlog options: unknown keys, wrong types, true without qlogDir', async () => {
    const ep = await createEndpoint({ host: '127.0.0.1' });
    try {
      expect(() => ep.connect(1, '127.0.0.1', { qlog: 'yes' as never })).toThrow(TypeError);
      expect(() => ep.connect(1, '127.0.0.1', { qlog: { dir: '' } })).toThrow(TypeError);
      expect(() => ep.connect(1, '127.0.0.1', { qlog: { dri: '/tmp' } as never })).toThrow(/options\.qlog\.dri is not a known option; did you mean options\.qlog\.dir\?/);
      expect(() => ep.connect(1, '127.0.0.1', { qlog: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect(() => ep.connect({ port: 1, qlogg: true } as never)).toThrow(/did you mean options\.qlog\?/);
      expect(() => createEndpoint({ qlogFilter: 'all' as never })).toThrow(TypeError);
    } finally {
      await ep.close();
    }
  });
});
