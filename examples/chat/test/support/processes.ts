/**
 * Runs the real `chat-server` and `chat-client` commands as child processes and talks to them
 * through stdin/stdout, the way a user or a shell script would. Every wait is bounded.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/', import.meta.url));
const DEFAULT_WAIT_MS = 15_000;

/** Test-only scrypt cost for spawned servers (the explicit, documented env var). */
export const TEST_SERVER_ENV = { CHAT_INSECURE_SCRYPT_LOG2N: '10' };

export class LineProcess {
  readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private partial = '';
  exited: Promise<number | null>;
  stderr = '';

  constructor(readonly name: string, readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const wake of [...this.waiters]) wake();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code) => {
      for (const wake of [...this.waiters]) wake();
      resolve(code);
    }));
  }

  write(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  /**
   * Waits for a line matching `pattern` at index >= `from` (default: anywhere not yet consumed
   * by an earlier wait with the same cursor). Returns the line's index.
   */
  async waitFor(pattern: RegExp | string, from = 0, timeoutMs = DEFAULT_WAIT_MS): Promise<number> {
    const match = (l: string): boolean => (typeof pattern === 'string' ? l === pattern : pattern.test(l));
    const started = Date.now();
    for (;;) {
      const index = this.lines.findIndex((l, i) => i >= from && match(l));
      if (index >= 0) return index;
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`${this.name}: no line matching ${String(pattern)} after ${timeoutMs} ms.\nOutput:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.waiters;
        waiters.add(done);
      });
    }
  }

  /** Sends a command and waits for its result line, searching only output after the command. */
  async command(line: string, expect: RegExp | string, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    const from = this.lines.length;
    this.write(line);
    const index = await this.waitFor(expect, from, timeoutMs);
    return this.lines[index] ?? '';
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A server process on `db` (a SQLite file or a postgres:// URL); `extraArgs` such as --key-file. */
export async function startServer(db: string, port = 0, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<{ proc: LineProcess; port: number; key: string }> {
  // CHAT_SERVER_NODE_ARGS: extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a load run.
  const nodeArgs = (process.env['CHAT_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN + 'chat-server.js', '--db', db, '--host', '127.0.0.1', '--port', String(port), ...extraArgs], {
    env: { ...process.env, ...TEST_SERVER_ENV, ...env },
  });
  const proc = new LineProcess('server', child);
  const index = await proc.waitFor(/ start .*listen=127\.0\.0\.1:\d+/);
  const line = proc.lines[index] ?? '';
  const bound = /listen=127\.0\.0\.1:(\d+)/.exec(line);
  const key = / key=([A-Za-z0-9_-]+)/.exec(line);
  return { proc, port: Number(bound?.[1]), key: key?.[1] ?? '' };
}

/**
 * A client process; it trusts the server's key on first use, remembered in its own temp file.
 * `port`: the server's port on 127.0.0.1, or a whole `--server` list (`127.0.0.1:1,127.0.0.1:2`).
 */
export async function startClient(name: string, port: number | string, extraArgs: string[] = []): Promise<LineProcess> {
  const proc = spawnClient(name, port, extraArgs);
  await proc.waitFor(/^\* connected to /);
  return proc;
}

/** Starts a client process without waiting for it to connect. */
export function spawnClient(name: string, port: number | string, extraArgs: string[] = []): LineProcess {
  const knownServers = join(tmpdir(), `chat-known-${process.pid}-${name}-${randomBytes(4).toString('hex')}.json`);
  const server = typeof port === 'number' ? `127.0.0.1:${port}` : port;
  const child = spawn(process.execPath, [BIN + 'chat-client.js', '--server', server, '--known-servers', knownServers, ...extraArgs], { env: process.env });
  const proc = new LineProcess(name, child);
  void proc.exited.then(() => rmSync(knownServers, { force: true }));
  return proc;
}

/** Strips ANSI escape sequences (what a terminal would interpret rather than show). */
export const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[=>]/g, '');

/**
 * A client on a real pseudo-terminal (util-linux `script` gives it one), for what only a
 * terminal shows: echo, the prompt, history recall. Keys are written as bytes; every wait is
 * for output, bounded.
 */
export class PtyProcess {
  raw = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.raw += chunk;
      for (const wake of [...this.waiters]) wake();
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => {
      for (const wake of [...this.waiters]) wake();
      resolve(code);
    }));
  }

  /** Everything shown so far, escape sequences removed. */
  get text(): string {
    return stripAnsi(this.raw);
  }

  keys(bytes: string): void {
    this.child.stdin.write(bytes);
  }

  /** Waits until the output after character `from` of `raw` matches; returns raw's length then. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = DEFAULT_WAIT_MS): Promise<number> {
    const started = Date.now();
    for (;;) {
      if (pattern.test(stripAnsi(this.raw.slice(from)))) return this.raw.length;
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0 || this.child.exitCode !== null) throw new Error(`pty: no output matching ${String(pattern)} after ${timeoutMs} ms. Output:\n${this.text}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  kill(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }
}

export function spawnPtyClient(port: number, env: Record<string, string> = {}): PtyProcess {
  const knownServers = join(tmpdir(), `chat-known-${process.pid}-pty-${randomBytes(4).toString('hex')}.json`);
  const command = [process.execPath, BIN + 'chat-client.js', '--server', `127.0.0.1:${port}`, '--known-servers', knownServers]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qfec', `stty cols 200 rows 50; exec ${command}`, '/dev/null'], { env: { ...process.env, TERM: 'xterm', ...env } });
  const proc = new PtyProcess(child);
  void proc.exited.then(() => rmSync(knownServers, { force: true }));
  return proc;
}
