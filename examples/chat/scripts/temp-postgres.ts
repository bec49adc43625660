/**
 * A throwaway PostgreSQL server in a temporary directory, for the tests and for trying several
 * chat nodes on one machine: `initdb` + `pg_ctl` from the Debian `postgresql` package (found in
 * /usr/lib/postgresql/<version>/bin, or on PATH, or in $PG_BIN), listening only on a Unix socket
 * inside that directory (no TCP port, nothing shared with other servers), stopped and deleted
 * at the end. PostgreSQL refuses to run as root: when we are root, the server runs as the
 * `postgres` user (the Debian package creates it) through `runuser`.
 *
 * The server dies with the process that started it, however that process ends: pg_ctl detaches
 * the postmaster, so without a watchdog a SIGKILLed owner (the benchmark's timeout, a Ctrl-C'd
 * run) would leave it running forever. See startWatchdog().
 *
 * From a shell (prints the DATABASE_URL, keeps running until Ctrl-C):
 *
 *   node --import tsx examples/chat/scripts/temp-postgres.ts
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TempPostgres {
  /** The directory holding the data, the socket and the log. */
  readonly dir: string;
  /** URL of a database (default `postgres`) for node-postgres. */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server at once and deletes its directory. */
  stop(): Promise<void>;
}

function findBinDir(): string {
  const fromEnv = process.env['PG_BIN'];
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir && existsSync(join(dir, 'initdb'))) return dir;
  throw new Error('PostgreSQL not found: install the Debian package (apt-get install -y postgresql) or set PG_BIN to the directory holding initdb and pg_ctl');
}

/**
 * Why this exists: stop() only runs when the owner (this process) ends politely; a SIGKILL, a
 * crash or a process.exit() skips it, and pg_ctl has detached the postmaster into its own
 * session. So a small `sh` is started, detached (its own session: a terminal's Ctrl-C does not
 * reach it) and unref()ed with its stdin a pipe whose only writer is this process. It blocks in
 * `read`; the kernel closes the pipe when this process ends, however it ends, and `read` returns:
 * then it stops the server (immediate mode) and deletes the directory. A pipe rather than polling
 * `kill -0 <pid>`: nothing to poll, no pid that can be reused, no EPERM between users. It runs as
 * the current user (root can runuser to postgres and delete the directory). stop() kills it.
 */
function startWatchdog(pgCtlStop: readonly string[], dir: string): ChildProcess {
  const script = 'read _ ; "$@" >/dev/null 2>&1 ; rm -rf -- "$0"';
  const child = spawn('sh', ['-c', script, dir, ...pgCtlStop], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => {}); // no sh: nothing to watch with, stop() still works
  child.stdin?.on('error', () => {}); // never written to: nothing to report
  // Neither the process nor the pipe keeps this process alive.
  child.unref();
  (child.stdin as Socket | null)?.unref();
  return child;
}

export async function startTempPostgres(options: { port?: number } = {}): Promise<TempPostgres> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'chat-pg-'));
  const asRoot = userInfo().uid === 0;
  let uid = -1;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error('running as root and there is no "postgres" user to run PostgreSQL as (the Debian postgresql package creates it)');
    });
    uid = Number(stdout.trim());
    chownSync(dir, uid, -1);
  }
  chmodSync(dir, 0o700);
  const exec = (file: string, args: string[]): Promise<{ stdout: string }> =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, file), ...args]) : run(join(bin, file), args);
  const data = join(dir, 'data');
  const pgCtl = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, 'pg_ctl')] : [join(bin, 'pg_ctl')];
  // Before initdb, so that an owner killed while the server starts leaves nothing either.
  const watchdog = startWatchdog([...pgCtl, '-D', data, '-m', 'immediate', '-w', 'stop'], dir);
  // With no TCP listener the port only names the socket file, which lives in our own directory.
  const port = options.port ?? 5432;
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // fsync off: a test server never outlives a crash of the machine, and tests go faster.
    const serverOptions = `-k ${dir} -c listen_addresses= -p ${port} -c fsync=off -c synchronous_commit=off -c max_connections=200`;
    await exec('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    watchdog.kill('SIGKILL');
    await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start PostgreSQL from ${bin}: ${(err as Error).message}`);
  }
  const url = (database = 'postgres'): string => `postgres://postgres@${encodeURIComponent(dir)}:${port}/${database}`;
  let stopped = false;
  return {
    dir,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      await exec('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-qAtc', `CREATE DATABASE ${name}`]);
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      // Stopped and deleted ourselves: the watchdog has nothing left to do.
      watchdog.kill('SIGKILL');
    },
  };
}

// Run directly: start one and keep it until Ctrl-C.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const pg = await startTempPostgres();
  const url = await pg.createDatabase('chat');
  process.stdout.write(`PostgreSQL is up in ${pg.dir} (Ctrl-C stops it and deletes everything)\nDATABASE_URL=${url}\n`);
  const stop = (): void => {
    pg.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => {}, 1 << 30);
}
