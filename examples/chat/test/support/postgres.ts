/**
 * A real PostgreSQL server for the tests that need one (scripts/temp-postgres.ts: initdb +
 * pg_ctl in a temporary directory, stopped at the end). When none can be started, those tests
 * are skipped on a developer's machine with a loud note, but FAIL in CI (CI=true): `.ci/run`
 * installs PostgreSQL, so a missing server there is a broken setup, never a silent pass.
 */
import { afterAll, beforeAll } from 'vitest';
import { startTempPostgres, type TempPostgres } from '../../scripts/temp-postgres.js';

export type { TempPostgres } from '../../scripts/temp-postgres.js';

export const IN_CI = process.env['CI'] === 'true' || process.env['CI'] === '1';

/** The server, or null (off CI only) when PostgreSQL is not installed or will not start. */
export async function postgresForTests(): Promise<TempPostgres | null> {
  try {
    return await startTempPostgres();
  } catch (err) {
    if (IN_CI) throw new Error(`CI=true but PostgreSQL cannot be started, so the PostgreSQL tests cannot run: ${(err as Error).message}`);
    process.stderr.write(`\n*** PostgreSQL tests SKIPPED: ${(err as Error).message}\n\n`);
    return null;
  }
}

let counter = 0;
/** A fresh, empty database on `pg` (one per test keeps tests independent). */
export function freshDatabase(pg: TempPostgres): Promise<string> {
  return pg.createDatabase(`chat_${process.pid}_${++counter}`);
}

/**
 * One server for the whole test file: started before its first test, stopped after its last.
 * `database(ctx)` is a fresh database on it, or skips the test (off CI) when there is none.
 */
export function usePostgres(): { readonly server: TempPostgres | null; database(ctx: { skip(): void }): Promise<string> } {
  let server: TempPostgres | null = null;
  beforeAll(async () => {
    server = await postgresForTests();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      return server;
    },
    async database(ctx) {
      if (server === null) {
        ctx.skip();
        throw new Error('skipped: no PostgreSQL');
      }
      return freshDatabase(server);
    },
  };
}
