/**
 * Which server keys the client trusts, like SSH's known_hosts: either one fingerprint given on
 * the command line (`--server-key`), or trust on first use, remembered per host:port in a small
 * JSON file. A key that changes is refused, loudly: it is what a man in the middle looks like.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fingerprint, type TrustServer } from '../transport/server-key.js';

export function defaultKnownServersFile(): string {
  const base = process.env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'reliable-dgram-chat', 'known_servers.json');
}

export function pinnedTrust(expectedFingerprint: string): TrustServer {
  return (_host, _port, key) => fingerprint(key) === expectedFingerprint;
}

/** Trust on first use, remembered in `file`; `onNew` hears about each newly trusted key. */
export function knownServersTrust(file: string, onNew: (address: string, fingerprint: string) => void): TrustServer {
  return (host, port, key) => {
    const address = `${host}:${port}`;
    let known: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null) known = Object.assign(Object.create(null) as Record<string, string>, parsed);
    } catch {
      // No file yet (or unreadable): nothing is known.
    }
    const stored = known[address];
    const presented = key.toString('base64');
    if (stored !== undefined) return stored === presented;
    known[address] = presented;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(known, null, 2) + '\n', { mode: 0o600 });
    onNew(address, fingerprint(key));
    return true;
  };
}
