/**
 * The chat on reliable-dgram's transport encryption: the server's long-term key, pinning and
 * trust on first use through the transport's `trust` option, and nothing readable on the wire.
 * Real sockets on 127.0.0.1 (the library's encryption runs in its endpoint).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LossySocket } from 'reliable-dgram/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { knownServersTrust, pinnedTrust } from '../../src/client/known-servers.js';
import { ReliableDgramTransport } from '../../src/transport/reliable-dgram.js';
import { fingerprint, generateServerIdentity, identityFromPkcs8, type ServerIdentity } from '../../src/transport/server-key.js';
import type { Link, Listener } from '../../src/transport/transport.js';

const next = (link: Link): Promise<string> => new Promise((r) => link.onMessage((d) => r(Buffer.from(d).toString())));

let dir = '';
const listeners: Listener[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.destroy();
  for (const l of listeners.splice(0)) await l.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** A chat server transport; every datagram it sends or receives is also copied into `seen`. */
async function server(identity: ServerIdentity, seen: Buffer[] = []): Promise<Listener> {
  const transport = new ReliableDgramTransport({
    keyPair: identity,
    endpointOptions: async () => {
      const inner = createSocket('udp4');
      await new Promise<void>((resolve) => inner.bind(0, '127.0.0.1', resolve));
      return { socket: new LossySocket(inner, { drop: (packet) => (seen.push(Buffer.from(packet)), false) }) };
    },
  });
  const listener = await transport.listen('127.0.0.1', 0);
  listeners.push(listener);
  // A reliable-dgram endpoint accepts connections only while someone listens for them.
  listener.onLink((link) => links.push(link));
  return listener;
}

describe('chat transport encryption', { timeout: 15_000 }, () => {
  it('carries messages both ways to a pinned server, and nothing readable crosses the wire', async () => {
    const { identity } = generateServerIdentity();
    const seen: Buffer[] = [];
    const listener = await server(identity, seen);
    const serverLinks: Link[] = [];
    listener.onLink((l) => serverLinks.push(l));
    const client = await new ReliableDgramTransport({ trust: pinnedTrust(fingerprint(identity.publicKey)) }).connect('127.0.0.1', listener.port);
    links.push(client);
    const atServer = new Promise<string>((resolve) => {
      const wait = (): void => (serverLinks[0] ? void next(serverLinks[0]).then(resolve) : void setImmediate(wait));
      wait();
    });
    client.send(Buffer.from('{"type":"login","password":"hunter2-hunter2"}'));
    expect(await atServer).toBe('{"type":"login","password":"hunter2-hunter2"}');
    const atClient = next(client);
    serverLinks[0]!.send(Buffer.from('{"type":"ok","token":"SECRET-TOKEN"}'));
    expect(await atClient).toBe('{"type":"ok","token":"SECRET-TOKEN"}');
    const wire = Buffer.concat(seen).toString('latin1');
    expect(seen.length).toBeGreaterThan(3);
    expect(wire).not.toContain('hunter2');
    expect(wire).not.toContain('SECRET-TOKEN');
    expect(wire).not.toContain('login');
  });

  it('refuses a server whose key is not the pinned one (ERR_SERVER_KEY_MISMATCH)', async () => {
    const listener = await server(generateServerIdentity().identity);
    const other = generateServerIdentity().identity;
    const client = new ReliableDgramTransport({ trust: pinnedTrust(fingerprint(other.publicKey)) });
    await expect(client.connect('127.0.0.1', listener.port)).rejects.toMatchObject({ code: 'ERR_SERVER_KEY_MISMATCH' });
  });

  it('refuses a plaintext client: nothing unencrypted reaches the chat server', async () => {
    const listener = await server(generateServerIdentity().identity);
    let accepted = 0;
    listener.onLink(() => accepted++);
    await expect(new ReliableDgramTransport().connect('127.0.0.1', listener.port)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    expect(accepted).toBe(0);
  });

  it('trusts a new server on first use, remembers it, and refuses a changed key', async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-known-'));
    const file = join(dir, 'sub', 'known.json');
    const announced: string[] = [];
    const trust = knownServersTrust(file, (address, fp, knownAs) => announced.push(`${address} ${fp}${knownAs ? ` as ${knownAs}` : ''}`));
    const a = generateServerIdentity().identity;
    const listener = await server(a);
    const client = new ReliableDgramTransport({ trust });
    links.push(await client.connect('127.0.0.1', listener.port));
    expect(announced).toEqual([`127.0.0.1:${listener.port} ${fingerprint(a.publicKey)}`]);
    links.push(await client.connect('127.0.0.1', listener.port));
    // The file holds the fingerprint the server logs and /status shows (22 characters).
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [`127.0.0.1:${listener.port}`]: fingerprint(a.publicKey) });
    // The same address with another key: refused, loudly.
    const b = generateServerIdentity().identity.publicKey;
    expect(trust('127.0.0.1', listener.port, b)).toBe(false);
    expect(trust('127.0.0.1', listener.port + 1, b)).toBe(true);
  });

  it('knows a server reached through a proxy port by its key, and reads old files', () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-known-'));
    const file = join(dir, 'known.json');
    const a = generateServerIdentity().identity.publicKey;
    // An entry written by an older client: the raw key in base64.
    writeFileSync(file, JSON.stringify({ '127.0.0.1:7777': a.toString('base64') }));
    const announced: string[] = [];
    const trust = knownServersTrust(file, (address, fp, knownAs) => announced.push(`${address} ${fp}${knownAs ? ` as ${knownAs}` : ''}`));
    expect(trust('127.0.0.1', 7777, a)).toBe(true);
    expect(announced).toEqual([]);
    expect(trust('127.0.0.1', 9000, a)).toBe(true); // the same server behind a proxy
    expect(announced).toEqual([`127.0.0.1:9000 ${fingerprint(a)} as 127.0.0.1:7777`]);
  });

  it('a stored identity keeps its key (and so its fingerprint) across restarts', () => {
    const { identity, pkcs8 } = generateServerIdentity();
    const again = identityFromPkcs8(pkcs8);
    expect(again.publicKey.equals(identity.publicKey)).toBe(true);
    expect(again.privateKey.length).toBe(32);
    expect(fingerprint(again.publicKey)).toHaveLength(22);
  });
});
