/**
 * Starting and stopping child processes. Every child is bounded by a hard timeout and tracked, so
 * an interrupted or failed run never leaves a process behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseChildLine, type ChildSpec } from './child-protocol.js';
import { CHILD_SCRIPT, REPO_ROOT } from './paths.js';

const live = new Set<ChildProcess>();
/** Node flags added to every child (e.g. --cpu-prof from `run.ts --cpu-prof`). */
const extraNodeArgs: string[] = [];

export function addNodeArgsForChildren(args: readonly string[]): void {
  extraNodeArgs.push(...args);
}

/** Kills every child still running (used on exit and on Ctrl-C). */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

let tasksetChecked: boolean | undefined;
/** Whether `taskset -c` works here (util-linux; absent on macOS and some containers). */
export function tasksetAvailable(): boolean {
  tasksetChecked ??= spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;
  return tasksetChecked;
}

export class SkipError extends Error {}

export interface ProcessOptions {
  /** CPU list for `taskset -c`, e.g. "0" or "1". */
  cpu?: string;
  /** Extra node flags, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
  timeoutMs: number;
  label: string;
}

/** Spawns `node <args>` (no tsx), tracked like every child; for tools such as vitest. */
export function spawnPlainNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** Spawns `node --import tsx <script> ...args`, optionally pinned, with captured output. */
export function spawnNode(script: string, args: string[], o: ProcessOptions): ChildProcess {
  const nodeArgv = [...extraNodeArgs, ...(o.nodeArgs ?? []), '--import', 'tsx', script, ...args];
  const child =
    o.cpu !== undefined
      ? spawn('taskset', ['-c', o.cpu, process.execPath, ...nodeArgv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, nodeArgv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** A benchmark child (bench/child.ts): resolves `ready` with its port, `result` with its report. */
export class BenchChild {
  readonly ready: Promise<{ port: number }>;
  readonly result: Promise<unknown>;
  private readonly child: ChildProcess;
  private readonly timer: NodeJS.Timeout;
  private stderrTail = '';

  constructor(spec: ChildSpec, o: ProcessOptions) {
    this.child = spawnNode(CHILD_SCRIPT, [JSON.stringify(spec)], o);
    let onReady!: (v: { port: number }) => void;
    let onResult!: (v: unknown) => void;
    let fail!: (e: Error) => void;
    let failResult!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      fail = reject;
    });
    this.result = new Promise((resolve, reject) => {
      onResult = resolve;
      failResult = reject;
    });
    // Callers may await only one of the two: never let the other become an unhandled rejection.
    this.ready.catch(() => undefined);
    this.result.catch(() => undefined);
    const failBoth = (err: Error): void => {
      fail(err);
      failResult(err);
    };
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = parseChildLine(line);
      if (msg === null) return;
      if (msg.type === 'ready') onReady({ port: msg.port });
      else if (msg.type === 'result') onResult(msg.result);
      else if (msg.type === 'skip') failBoth(new SkipError(msg.reason));
      else failBoth(new Error(`${o.label}: ${msg.message}`));
    });
    this.child.on('exit', (code, signal) => {
      clearTimeout(this.timer);
      failBoth(new Error(`${o.label}: exited (${signal ?? code}) before reporting. ${this.stderrTail.trim()}`));
    });
    this.timer = setTimeout(() => {
      failBoth(new Error(`${o.label}: timed out after ${o.timeoutMs} ms`));
      this.child.kill('SIGKILL');
    }, o.timeoutMs);
  }

  /** Resolves once the process has gone (so the next run starts on a quiet machine). SIGTERM
   * first (the child exits cleanly, writing a CPU profile if asked), SIGKILL if it lingers. */
  async killAndWait(): Promise<void> {
    clearTimeout(this.timer);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const force = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await gone;
    clearTimeout(force);
  }
}
