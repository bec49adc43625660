/**
 * Workload 5, chat fan-out: runs the chat example's own load harness with 200 clients in 20
 * groups and reports what it measured. Two harness shapes are understood:
 * - a script (examples/chat/bench/load.ts) run as
 *     node --import tsx examples/chat/bench/load.ts --clients 200 --groups 20 --seconds <n>
 *   whose last stdout line is { "messagesPerSec": number, "p50Ms": number, "p99Ms": number };
 * - the chat example's load test (examples/chat/test/e2e/load.test.ts: the real server process,
 *   200 clients in the test process), run through vitest with CHAT_LOAD_SECONDS and
 *   CHAT_LOAD_INTERVAL_MS (200 ms, the rate of the chat's own `npm run bench`), whose
 *   "chat load: ..." line is parsed.
 * Without either, the workload is skipped with a message.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../lib/paths.js';
import { killChild, spawnNode, spawnPlainNode } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { spread, type Spread } from '../lib/stats.js';
import { note, runTimeout, withinBudget, type BenchContext } from './context.js';

export const CHAT_LOAD_CANDIDATES = ['examples/chat/bench/load.ts', 'examples/chat/src/bench/load.ts', 'examples/chat/src/load.ts'];
export const CHAT_LOAD_TEST = 'examples/chat/test/e2e/load.test.ts';
const CHAT_INTERVAL_MS = 200;

export interface ChatSample {
  /** Messages sent and stored by the server per second. */
  messagesPerSec: number;
  /** Messages delivered to group members per second (load test only). */
  deliveriesPerSec?: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * p99 of the messages sent after the send phase's first second (load test only): the same
   * deliveries without the warm-up of both processes (bench/history.md, "Where the chat's slow
   * deliveries wait"). Reported beside p99Ms, never instead of it.
   */
  steadyP99Ms?: number;
  /** p99 of the messages sent in the first second (load test only). */
  firstSecondP99Ms?: number;
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
  deliveriesPerSec?: Spread;
  p50Ms?: Spread;
  p99Ms?: Spread;
  steadyP99Ms?: Spread;
  firstSecondP99Ms?: Spread;
  errors: string[];
}

/** Grace between SIGTERM and SIGKILL when a chat run times out. */
const KILL_GRACE_MS = 3_000;

/**
 * On timeout: SIGTERM, so the child (vitest, the load script) can shut down and run its
 * teardown, then SIGKILL after KILL_GRACE_MS if it is still there. (A temp PostgreSQL it started
 * stops itself even after a SIGKILL: examples/chat/scripts/temp-postgres.ts's watchdog.)
 * Returns the cancel, for when the child exits by itself.
 */
function killOnTimeout(child: ChildProcess, timeoutMs: number): () => void {
  let grace: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    killChild(child, 'SIGTERM');
    grace = setTimeout(() => killChild(child, 'SIGKILL'), KILL_GRACE_MS);
  }, timeoutMs);
  return () => {
    clearTimeout(timer);
    clearTimeout(grace);
  };
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
  const cancelKill = killOnTimeout(child, timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  cancelKill();
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

/**
 * `chat load: ... (411 msg/s), ... (3702 deliveries/s overall), latency p50 208.4 ms, p99 402.0 ms`,
 * optionally followed (newer load tests) by `p99 by send time: first second 95.0 ms, after it 8.1 ms`.
 */
export function parseChatLoadLine(text: string): ChatSample | null {
  const m = /chat load:.*?\((\d+(?:\.\d+)?) msg\/s\).*?\((\d+(?:\.\d+)?) deliveries\/s.*?p50 (\d+(?:\.\d+)?) ms, p99 (\d+(?:\.\d+)?) ms/.exec(text);
  if (!m) return null;
  const sample: ChatSample = { messagesPerSec: Number(m[1]), deliveriesPerSec: Number(m[2]), p50Ms: Number(m[3]), p99Ms: Number(m[4]) };
  const bySendTime = /chat load:.*?p99 by send time: first second (\d+(?:\.\d+)?) ms, after it (\d+(?:\.\d+)?) ms/.exec(text);
  if (bySendTime) {
    sample.firstSecondP99Ms = Number(bySendTime[1]);
    sample.steadyP99Ms = Number(bySendTime[2]);
  }
  return sample;
}

async function oneLoadTestRun(seconds: number, timeoutMs: number): Promise<ChatSample> {
  const vitest = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  const child = spawnPlainNode([vitest, 'run', '--root', REPO_ROOT, CHAT_LOAD_TEST], {
    CHAT_LOAD_SECONDS: String(seconds),
    CHAT_LOAD_INTERVAL_MS: String(CHAT_INTERVAL_MS),
    CHAT_LOAD_CLIENTS: '200',
    NO_COLOR: '1',
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const cancelKill = killOnTimeout(child, timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  cancelKill();
  const sample = parseChatLoadLine(out);
  if (sample && code === 0) return sample;
  throw new Error(`chat load test (exit ${code}) ${sample ? 'failed its checks' : 'printed no "chat load:" line'}: ${out.trim().slice(-300)}`);
}

export async function runChat(ctx: BenchContext): Promise<ChatResult> {
  const result: ChatResult = { available: false, clients: 200, groups: 20, runs: 0, samples: [], errors: [] };
  const script = CHAT_LOAD_CANDIDATES.find((p) => existsSync(path.join(REPO_ROOT, p)));
  const loadTest = existsSync(path.join(REPO_ROOT, CHAT_LOAD_TEST)) ? CHAT_LOAD_TEST : undefined;
  const found = script ?? loadTest;
  if (found === undefined) {
    result.reason = `the chat example has no load harness yet (looked for ${[...CHAT_LOAD_CANDIDATES, CHAT_LOAD_TEST].join(', ')})`;
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
      const timeoutMs = runTimeout(ctx, ctx.quick ? 30_000 : 90_000);
      result.samples.push(
        script !== undefined
          ? await oneRun(path.join(REPO_ROOT, script), ctx.quick ? 5 : 15, timeoutMs)
          : await oneLoadTestRun(ctx.quick ? 2 : 3, timeoutMs),
      );
    } catch (err) {
      result.errors.push((err as Error).message);
      note(ctx, `chat fan-out run ${run + 1} failed: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  if (result.samples.length > 0) {
    result.messagesPerSec = spread(result.samples.map((s) => s.messagesPerSec));
    const deliveries = result.samples.map((s) => s.deliveriesPerSec).filter((v): v is number => v !== undefined);
    if (deliveries.length > 0) result.deliveriesPerSec = spread(deliveries);
    result.p50Ms = spread(result.samples.map((s) => s.p50Ms));
    result.p99Ms = spread(result.samples.map((s) => s.p99Ms));
    const steady = result.samples.map((s) => s.steadyP99Ms).filter((v): v is number => v !== undefined);
    if (steady.length > 0) result.steadyP99Ms = spread(steady);
    const first = result.samples.map((s) => s.firstSecondP99Ms).filter((v): v is number => v !== undefined);
    if (first.length > 0) result.firstSecondP99Ms = spread(first);
  }
  return result;
}
