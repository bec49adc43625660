/**
 * Child → parent messages travel as single stdout lines with a fixed prefix, so that anything
 * else a library prints cannot be mistaken for a result.
 */
import type { Role } from '../contenders/types.js';

export const LINE_PREFIX = '@@bench ';

export interface ChildSpec {
  contender: string;
  role: Role;
  options: Record<string, unknown>;
}

export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'result'; result: unknown }
  | { type: 'skip'; reason: string }
  | { type: 'error'; message: string };

export function emitToParent(msg: ChildMessage): void {
  process.stdout.write(LINE_PREFIX + JSON.stringify(msg) + '\n');
}

export function parseChildLine(line: string): ChildMessage | null {
  if (!line.startsWith(LINE_PREFIX)) return null;
  try {
    return JSON.parse(line.slice(LINE_PREFIX.length)) as ChildMessage;
  } catch {
    return null;
  }
}
