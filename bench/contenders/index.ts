/**
 * The contenders, loaded lazily so that one that cannot load (reliable-dgram before its endpoint
 * exists, udx-native without its prebuild) is reported as unavailable instead of breaking the run.
 */
import type { Contender } from './types.js';

export const CONTENDER_NAMES = ['dgram', 'tcp', 'udx', 'reliable-dgram', 'udx-secret-stream', 'reliable-dgram-encrypted'] as const;
export type ContenderName = (typeof CONTENDER_NAMES)[number];

export type Loaded = { ok: true; contender: Contender } | { ok: false; reason: string };

export async function loadContender(name: string): Promise<Loaded> {
  try {
    switch (name) {
      case 'dgram':
        return { ok: true, contender: (await import('./dgram.js')).contender };
      case 'tcp':
        return { ok: true, contender: (await import('./tcp.js')).contender };
      case 'udx':
        return { ok: true, contender: (await import('./udx.js')).contender };
      case 'reliable-dgram': {
        const mod = await import('./reliable-dgram.js');
        const available = await mod.availability();
        return available.ok ? { ok: true, contender: mod.contender } : available;
      }
      case 'udx-secret-stream':
        return { ok: true, contender: (await import('./udx-secret-stream.js')).contender };
      case 'reliable-dgram-encrypted': {
        const mod = await import('./reliable-dgram.js');
        const available = await mod.availability();
        return available.ok ? { ok: true, contender: mod.encryptedContender } : available;
      }
      default:
        return { ok: false, reason: `unknown contender '${name}'` };
    }
  } catch (err) {
    return { ok: false, reason: `failed to load: ${(err as Error).message}` };
  }
}
