/**
 * Starting and stopping child processes. Every child is bounded by a hard timeout and tracked, so
 * an interrupted or failed run never leaves a process behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { isReportLine, parseChildLine, REPORT_FD, REPORT_FD_ENV, type ChildMessage, type ChildSpec } from './child-protocol.js';
import { CHILD_SCRIPT, REPO_ROOT } from './paths.js';
import { childBundle } from './child-build.js';

const live = new Set<ChildProcess>();
/** Node flags added to every child (e.g. --cpu-prof from `run.ts --cpu-prof`). */
const extraNodeArgs: string[] = [];

export function addNodeArgsForChildren(args: readonly string[]): void {
  extraNodeArgs.push(...args);
}

/**
 * How benchmark children (bench/child.ts, every contender alike) run: 'bundle' (default) is
 * `node <esbuild bundle>` (bench/lib/child-build.ts), the process a user runs; 'tsx' is the old
 * `node --import tsx bench/child.ts`, kept for comparison (`run.ts --children tsx`, or
 * BENCH_CHILDREN=tsx for every bench tool).
 */
export type ChildRuntime = 'bundle' | 'tsx';
export const CHILD_RUNTIMES: readonly ChildRuntime[] = ['bundle', 'tsx'];

function runtimeFromEnv(): ChildRuntime {
  const v = process.env.BENCH_CHILDREN;
  if (v === undefined || v === '') return 'bundle';
  if (!(CHILD_RUNTIMES as readonly string[]).includes(v)) throw new RangeError(`BENCH_CHILDREN: unknown '${v}' (choose from ${CHILD_RUNTIMES.join(', ')})`);
  return v as ChildRuntime;
}

let childRuntime: ChildRuntime = runtimeFromEnv();

export function setChildRuntime(runtime: ChildRuntime): void {
  childRuntime = runtime;
}

export function getChildRuntime(): ChildRuntime {
  return childRuntime;
}

/** The command a benchmark child runs as, for the results and the docs. */
export function childCommand(runtime: ChildRuntime = childRuntime): string {
  return runtime === 'tsx' ? 'node --import tsx bench/child.ts' : 'node <esbuild bundle of bench/child.ts>';
}

/**
 * The script and loader of a benchmark child: bench/child.ts's bundle in plain node, or (tsx
 * runtime, or another script such as the harness tests' fixtures) that script under tsx.
 * Builds the bundle on first use; run.ts calls it at its start so that a build error ends the
 * run before any workload.
 */
export function benchChildScript(script?: string): { script: string; tsx: boolean } {
  if (script !== undefined) return { script, tsx: true };
  if (childRuntime === 'tsx') return { script: CHILD_SCRIPT, tsx: true };
  return { script: childBundle(), tsx: false };
}

/** Kills every child still running (used on exit and on Ctrl-C). */
export function killAllChildren(): void {
  for (const child of live) killChild(child, 'SIGKILL');
  live.clear();
}

/** Children started as the leader of their own process group (spawnPlainNode). */
const groupLeaders = new WeakSet<ChildProcess>();

/**
 * Signals a child, and with it its whole process group when it leads one (spawnPlainNode's):
 * vitest's worker processes outlive a signal to vitest's main process alone (stop 32: the chat
 * load test's worker ran on, with its PostgreSQL, after its vitest was killed).
 */
export function killChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (groupLeaders.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal);
      return;
    } catch {
      // The group is gone (or never formed): signal the child itself.
    }
  }
  child.kill(signal);
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
  /** Open the report pipe (fd 3, bench/lib/child-protocol.ts) and tell the child in its environment. */
  report?: boolean;
  /** Load the script through tsx (`--import tsx`); default true. False for plain JavaScript. */
  tsx?: boolean;
}

/** A BenchChild's options: another script than bench/child.ts may play it (the harness's tests do; it runs under tsx). */
export interface BenchChildOptions extends ProcessOptions {
  script?: string;
}

/** Spawns `node <args>` (no tsx), tracked like every child, in its own process group; for tools such as vitest. */
export function spawnPlainNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // Its own process group (detached), so that killChild reaches the processes it starts (vitest's
  // workers); Ctrl-C still ends them through run.ts's SIGINT handler (killAllChildren).
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
  groupLeaders.add(child);
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** Spawns `node --import tsx <script> ...args` (or, with `tsx: false`, `node <script> ...args`), optionally pinned, with captured output. */
export function spawnNode(script: string, args: string[], o: ProcessOptions): ChildProcess {
  const loader = o.tsx === false ? [] : ['--import', 'tsx'];
  const nodeArgv = [...extraNodeArgs, ...(o.nodeArgs ?? []), ...loader, script, ...args];
  const report = o.report === true;
  const how: SpawnOptions = {
    cwd: REPO_ROOT,
    stdio: report ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    ...(report ? { env: { ...process.env, [REPORT_FD_ENV]: String(REPORT_FD) } } : {}),
  };
  const child = o.cpu !== undefined ? spawn('taskset', ['-c', o.cpu, process.execPath, ...nodeArgv], how) : spawn(process.execPath, nodeArgv, how);
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** How long a timed-out child gets to answer SIGUSR2 with its status before it is killed. */
const STATUS_GRACE_MS = 2000;

/**
 * A benchmark child (bench/child.ts): resolves `ready` with its port, `result` with its report.
 * Reports arrive on the child's report pipe (fd 3), apart from its stdout, where V8's traces go.
 * A child that does not report within `timeoutMs` is asked for its status (SIGUSR2: bytes so far,
 * its connection's counters), which goes into the error, and then killed.
 */
export class BenchChild {
  readonly ready: Promise<{ port: number }>;
  readonly result: Promise<unknown>;
  private readonly child: ChildProcess;
  private readonly timer: NodeJS.Timeout;
  private stderrTail = '';
  /** Waiting for the child's next status answer: every caller of status() since the last one. */
  private readonly statusWaiters: ((status: unknown) => void)[] = [];
  /** The child said it answers SIGUSR2 (its 'listening' report); before that the signal would end it. */
  private listening = false;

  constructor(spec: ChildSpec, o: BenchChildOptions) {
    const { script, tsx } = benchChildScript(o.script);
    this.child = spawnNode(script, [JSON.stringify(spec)], { ...o, report: true, tsx });
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
    // stdout carries only what the child (or V8) prints: read it so that the pipe never fills.
    this.child.stdout?.resume();
    const reports = this.child.stdio[REPORT_FD] as NodeJS.ReadableStream | null | undefined;
    createInterface({ input: reports! }).on('line', (line) => {
      const msg: ChildMessage | null = parseChildLine(line);
      if (msg === null) {
        if (isReportLine(line)) failBoth(new Error(`${o.label}: garbled report line: ${line.slice(0, 300)}`));
        return;
      }
      if (msg.type === 'ready') onReady({ port: msg.port });
      else if (msg.type === 'result') onResult(msg.result);
      else if (msg.type === 'listening') this.listening = true;
      else if (msg.type === 'status') for (const w of this.statusWaiters.splice(0)) w(msg.status);
      else if (msg.type === 'skip') failBoth(new SkipError(msg.reason));
      else failBoth(new Error(`${o.label}: ${msg.message}`));
    });
    // 'close', not 'exit': a report written just before exiting is read first.
    this.child.on('close', (code, signal) => {
      clearTimeout(this.timer);
      failBoth(new Error(`${o.label}: exited (${signal ?? code}) before reporting. ${this.stderrTail.trim()}`));
    });
    this.timer = setTimeout(() => {
      void this.status().then((status) => {
        const none = this.listening ? 'no answer' : 'not asked (still starting: not yet answering SIGUSR2)';
        failBoth(new Error(`${o.label}: timed out after ${o.timeoutMs} ms; its status: ${status === null ? none : JSON.stringify(status)}`));
        this.child.kill('SIGKILL');
      });
    }, o.timeoutMs);
  }

  /** The child's process id (for renice and the like). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * The child's status (SIGUSR2, answered by bench/child.ts), or null without an answer in time,
   * or at once while the child does not answer SIGUSR2 yet (the signal would end it). Calls that
   * overlap each get the next answer (one list of waiters, not one slot the last call overwrites).
   */
  status(): Promise<unknown> {
    if (!this.listening) return Promise.resolve(null);
    return new Promise((resolve) => {
      let done = false;
      const waiter = (status: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(grace);
        resolve(status);
      };
      const grace = setTimeout(() => {
        const i = this.statusWaiters.indexOf(waiter);
        if (i >= 0) this.statusWaiters.splice(i, 1);
        waiter(null);
      }, STATUS_GRACE_MS);
      this.statusWaiters.push(waiter);
      if (!this.child.kill('SIGUSR2')) waiter(null);
    });
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
