/** The encrypted channel under the chat: handshake, secrecy on the wire, tampering, key pinning. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { knownServersTrust, pinnedTrust } from '../../src/client/known-servers.js';
import { fingerprint, generateServerIdentity, SecureTransport, type ServerIdentity } from '../../src/transport/secure-channel.js';
import type { Link, Listener, Transport } from '../../src/transport/transport.js';
import { MemoryTransport } from '../support/memory-transport.js';

/** A transport that records every message crossing it, and can tamper with server->client ones. */
class Wiretap implements Transport {
  readonly seen: Buffer[] = [];
  tamper: ((data: Uint8Array) => Uint8Array) | null = null;
  constructor(private readonly inner: MemoryTransport) {}
  listen(host: string, port: number): Promise<Listener> {
    return this.inner.listen(host, port).then((l) => ({
      ...l,
      host: l.host,
      port: l.port,
      onLink: (fn: (link: Link) => void) => l.onLink((link) => fn(this.tap(link))),
      close: () => l.close(),
    }));
  }
  async connect(host: string, port: number): Promise<Link> {
    return this.tap(await this.inner.connect(host, port));
  }
  private tap(link: Link): Link {
    const send = link.send.bind(link);
    link.send = (data) => {
      this.seen.push(Buffer.from(data));
      return send(this.tamper ? this.tamper(data) : data);
    };
    return link;
  }
}

const next = (link: Link): Promise<string> => new Promise((r) => link.onMessage((d) => r(Buffer.from(d).toString())));
const closed = (link: Link): Promise<Error | undefined> => new Promise((r) => link.onClose(r));

async function pair(identity: ServerIdentity, trustKey: string) {
  const memory = new MemoryTransport();
  const tap = new Wiretap(memory);
  const server = await new SecureTransport(tap, { identity }).listen('127.0.0.1', 0);
  const serverLinks: Link[] = [];
  server.onLink((l) => serverLinks.push(l));
  const client = new SecureTransport(tap, { trust: pinnedTrust(trustKey) });
  return { tap, server, serverLinks, connect: () => client.connect('127.0.0.1', server.port) };
}

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('secure channel', { timeout: 10_000 }, () => {
  it('carries messages both ways, and nothing readable crosses the wire', async () => {
    const { identity } = generateServerIdentity();
    const { tap, serverLinks, connect } = await pair(identity, fingerprint(identity.publicKey));
    const client = await connect();
    const serverLink = serverLinks[0] as Link;
    const atServer = next(serverLink);
    client.send(Buffer.from('{"type":"login","password":"hunter2-hunter2"}'));
    expect(await atServer).toBe('{"type":"login","password":"hunter2-hunter2"}');
    const atClient = next(client);
    serverLink.send(Buffer.from('{"type":"ok","token":"SECRET-TOKEN"}'));
    expect(await atClient).toBe('{"type":"ok","token":"SECRET-TOKEN"}');
    const wire = Buffer.concat(tap.seen).toString('latin1');
    expect(wire).not.toContain('hunter2');
    expect(wire).not.toContain('SECRET-TOKEN');
    expect(wire).not.toContain('login');
  });

  it('refuses a server whose key is not the pinned one', async () => {
    const { identity } = generateServerIdentity();
    const other = generateServerIdentity().identity;
    const { connect } = await pair(identity, fingerprint(other.publicKey));
    await expect(connect()).rejects.toMatchObject({ code: 'ERR_SERVER_KEY_MISMATCH' });
  });

  it('ends the connection when a message is altered on the way', async () => {
    const { identity } = generateServerIdentity();
    const { tap, serverLinks, connect } = await pair(identity, fingerprint(identity.publicKey));
    const client = await connect();
    const gone = closed(client);
    let delivered = false;
    client.onMessage(() => (delivered = true));
    tap.tamper = (data) => {
      const copy = Uint8Array.from(data);
      copy[0] = (copy[0] ?? 0) ^ 1;
      return copy;
    };
    (serverLinks[0] as Link).send(Buffer.from('pay 100 to bob'));
    expect(await gone).toBeDefined();
    expect(delivered).toBe(false);
  });

  it('drops a client that does not start with a handshake', async () => {
    const { identity } = generateServerIdentity();
    const memory = new MemoryTransport();
    const server = await new SecureTransport(memory, { identity }).listen('127.0.0.1', 0);
    let accepted = 0;
    server.onLink(() => accepted++);
    const raw = await memory.connect('127.0.0.1', server.port);
    const gone = closed(raw);
    raw.send(Buffer.from('{"type":"login","id":1,"user":"a","password":"plaintext!"}'));
    expect(await gone).toBeDefined();
    expect(accepted).toBe(0);
  });

  it('trusts a new server on first use, remembers it, and refuses a changed key', async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-known-'));
    const file = join(dir, 'sub', 'known.json');
    const announced: string[] = [];
    const trust = knownServersTrust(file, (address, fp, knownAs) => announced.push(`${address} ${fp}${knownAs ? ` as ${knownAs}` : ''}`));
    const a = generateServerIdentity().identity.publicKey;
    const b = generateServerIdentity().identity.publicKey;
    expect(await trust('127.0.0.1', 7777, a)).toBe(true);
    expect(announced).toEqual([`127.0.0.1:7777 ${fingerprint(a)}`]);
    expect(await trust('127.0.0.1', 7777, a)).toBe(true);
    expect(await trust('127.0.0.1', 7777, b)).toBe(false);
    expect(await trust('127.0.0.1', 7778, b)).toBe(true);
    // Defect 8: the file holds the fingerprint the server logs and /status shows (22 characters).
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ '127.0.0.1:7777': fingerprint(a), '127.0.0.1:7778': fingerprint(b) });
    expect(fingerprint(a)).toHaveLength(22);
  });

  it('knows a server reached through a proxy port by its key, and reads old files (defect 8)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-known-'));
    const file = join(dir, 'known.json');
    const a = generateServerIdentity().identity.publicKey;
    // An entry written by an older client: the raw key in base64.
    writeFileSync(file, JSON.stringify({ '127.0.0.1:7777': a.toString('base64') }));
    const announced: string[] = [];
    const trust = knownServersTrust(file, (address, fp, knownAs) => announced.push(`${address} ${fp}${knownAs ? ` as ${knownAs}` : ''}`));
    expect(await trust('127.0.0.1', 7777, a)).toBe(true);
    expect(announced).toEqual([]);
    expect(await trust('127.0.0.1', 9000, a)).toBe(true); // the same server behind a proxy
    expect(announced).toEqual([`127.0.0.1:9000 ${fingerprint(a)} as 127.0.0.1:7777`]);
  });
});
