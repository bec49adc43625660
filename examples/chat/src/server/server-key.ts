/**
 * The server's long-term key from a file (`--key-file`), so that every node of one deployment
 * presents the same key and clients that pinned it (or trusted it on first use) accept a
 * failover to another node. The file holds the X25519 private key as PKCS#8 PEM; it is created
 * (mode 0600) when missing. Without the option, the key lives in the database, which nodes
 * sharing a PostgreSQL database share too.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { generateServerIdentity } from '../transport/server-key.js';

/** The key's PKCS#8 DER bytes (what identityFromPkcs8 takes). */
export function loadOrCreateKeyFile(file: string): Buffer {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    const { pkcs8 } = generateServerIdentity();
    pem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
    try {
      // 'wx': if another node created it meanwhile, use theirs.
      writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (writeErr) {
      if ((writeErr as { code?: unknown }).code !== 'EEXIST') throw writeErr;
      pem = readFileSync(file, 'utf8');
    }
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'x25519') throw new Error(`${file} does not hold an X25519 private key`);
  return key.export({ format: 'der', type: 'pkcs8' });
}
