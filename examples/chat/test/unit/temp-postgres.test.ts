/**
 * A temp PostgreSQL (scripts/temp-postgres.ts) dies with the process that started it, however
 * that process ends: here it is SIGKILLed (what the benchmark harness does on a timeout), so
 * stop() never runs and only the watchdog can stop the server and delete its directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { IN_CI } from '../support/postgres.js';

const OWNER = fileURLToPath(new URL('../support/temp-postgres-owner.ts', import.meta.url));

/** Whether `pid` is still a process (a zombie nobody has reaped yet counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

test('a SIGKILLed owner leaves no PostgreSQL server and no directory behind', async (ctx) => {
  const child = spawn(process.execPath, ['--import', 'tsx', OWNER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  child.stdout.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line from the owner after 60 s: ${out}`)), 60_000);
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.slice(0, out.indexOf('\n')));
      }
    });
    child.once('exit', (code) => reject(new Error(`owner exited (${code}) before printing: ${out}`)));
  });
  const started = JSON.parse(line) as { dir: string; postmaster: number } | { error: string };
  if ('error' in started) {
    if (IN_CI) throw new Error(`CI=true but PostgreSQL cannot be started: ${started.error}`);
    process.stderr.write(`\n*** PostgreSQL test SKIPPED: ${started.error}\n\n`);
    await exited;
    ctx.skip();
    return;
  }
  expect(alive(started.postmaster)).toBe(true);
  expect(existsSync(started.dir)).toBe(true);

  child.kill('SIGKILL');
  await exited;
  // Bounded wait: the watchdog notices at once (a pipe closes), pg_ctl's immediate stop takes well under a second.
  const deadline = Date.now() + 10_000;
  while ((alive(started.postmaster) || existsSync(started.dir)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect({ postmasterAlive: alive(started.postmaster), dirExists: existsSync(started.dir) }).toEqual({ postmasterAlive: false, dirExists: false });
}, 90_000);
