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

/**
 * Trust on first use, remembered in `file` as host:port -> fingerprint (the same 22 characters
 * the server logs as `key=` and /status shows). Entries written by older clients (the raw key in
 * base64) still count. A key already trusted under another address (the same server reached
 * through a proxy, or by another name) is trusted for the new address too, without the
 * first-use warning: the handshake proved the server holds that key. `onNew` hears about each
 * newly remembered address, with the address it was already known under, if any.
 * `deployment`: the host:port of every node of one deployment (`--server a,b`): they share one
 * key, so a node seen for the first time must present the key already trusted for another node
 * of the list (if one is known): a failover never trusts a stranger's key.
 */
export function knownServersTrust(
  file: string,
  onNew: (address: string, fingerprint: string, knownAs?: string) => void,
  deployment: readonly string[] = [],
): TrustServer {
  return (host, port, key) => {
    const address = `${host}:${port}`;
    let known: Record<string, string> = Object.create(null) as Record<string, string>;
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null) known = Object.assign(known, parsed);
    } catch {
      // No file yet (or unreadable): nothing is known.
    }
    const fp = fingerprint(key);
    const legacy = key.toString('base64');
    const matches = (entry: unknown): boolean => entry === fp || entry === legacy;
    const stored = known[address];
    if (stored !== undefined) return matches(stored);
    const sibling = deployment.map((a) => known[a]).find((k) => k !== undefined);
    if (sibling !== undefined && !matches(sibling)) return false;
    const knownAs = Object.keys(known).find((a) => matches(known[a]));
    known[address] = fp;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(known, null, 2) + '\n', { mode: 0o600 });
    onNew(address, fp, knownAs);
    return true;
  };
}
