/**
 * Workload 5, chat fan-out: runs the chat example's own load harness, when it has one, with 200
 * clients in 20 groups, and reports what it measured. The harness contract (for examples/chat):
 *   node --import tsx examples/chat/bench/load.ts --clients 200 --groups 20 --seconds <n>
 * prints, as its last stdout line, one JSON object:
 *   { "messagesPerSec": number, "p50Ms": number, "p99Ms": number }
 * Until such a file exists the workload is skipped with a message.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../lib/paths.js';
import { spawnNode } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { spread, type Spread } from '../lib/stats.js';
import { note, runTimeout, withinBudget, type BenchContext } from './context.js';

export const CHAT_LOAD_CANDIDATES = ['examples/chat/bench/load.ts', 'examples/chat/src/bench/load.ts', 'examples/chat/src/load.ts'];

export interface ChatSample {
  messagesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ChatResult {
  available: boolean;
  reason?: string;
  harness?: string;
  clients: number;
  groups: number;
  runs: number;
  samples: ChatSample[];
  messagesPerSec?: Spread;
  p50Ms?: Spread;
  p99Ms?: Spread;
  errors: string[];
}

async function oneRun(script: string, seconds: number, timeoutMs: number): Promise<ChatSample> {
  const child = spawnNode(script, ['--clients', '200', '--groups', '20', '--seconds', String(seconds)], {
    timeoutMs,
    label: 'chat load',
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-1000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  const last = out.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(last) as Partial<ChatSample>;
    if (typeof parsed.messagesPerSec === 'number' && typeof parsed.p50Ms === 'number' && typeof parsed.p99Ms === 'number') {
      return { messagesPerSec: parsed.messagesPerSec, p50Ms: parsed.p50Ms, p99Ms: parsed.p99Ms };
    }
  } catch {
    // fall through: report what it printed
  }
  throw new Error(`chat load harness (exit ${code}) did not end with the expected JSON line: ${last.slice(0, 200)} ${err.trim()}`);
}

export async function runChat(ctx: BenchContext): Promise<ChatResult> {
  const result: ChatResult = { available: false, clients: 200, groups: 20, runs: 0, samples: [], errors: [] };
  const found = CHAT_LOAD_CANDIDATES.find((p) => existsSync(path.join(REPO_ROOT, p)));
  if (found === undefined) {
    result.reason = `the chat example has no load harness yet (looked for ${CHAT_LOAD_CANDIDATES.join(', ')})`;
    note(ctx, `chat fan-out skipped: ${result.reason}`);
    return result;
  }
  result.available = true;
  result.harness = found;
  result.runs = ctx.quick ? 1 : 3;
  for (let run = 0; run < result.runs; run++) {
    if (!withinBudget(ctx, 'chat fan-out')) break;
    progress(`chat fan-out 200 clients / 20 groups run ${run + 1}/${result.runs}`);
    try {
      result.samples.push(await oneRun(path.join(REPO_ROOT, found), ctx.quick ? 5 : 15, runTimeout(ctx, ctx.quick ? 30_000 : 90_000)));
    } catch (err) {
      result.errors.push((err as Error).message);
      note(ctx, `chat fan-out run ${run + 1} failed: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  if (result.samples.length > 0) {
    result.messagesPerSec = spread(result.samples.map((s) => s.messagesPerSec));
    result.p50Ms = spread(result.samples.map((s) => s.p50Ms));
    result.p99Ms = spread(result.samples.map((s) => s.p99Ms));
  }
  return result;
}
