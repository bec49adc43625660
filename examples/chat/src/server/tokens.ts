/**
 * Session tokens: 32 bytes from the CSPRNG, given to the client in base64url, stored only as
 * their SHA-256 (a fast hash is right here: the token has 256 bits of entropy, unlike a password).
 */
import { createHash, randomBytes } from 'node:crypto';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
