/**
 * Fixture for test/unit/temp-postgres.test.ts: starts a temp PostgreSQL, prints one JSON line
 * ({ dir, postmaster } or { error }), then waits to be killed — never calls stop() itself.
 *
 *   node --import tsx examples/chat/test/support/temp-postgres-owner.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTempPostgres } from '../../scripts/temp-postgres.js';

try {
  const pg = await startTempPostgres();
  // postmaster.pid's first line is the postmaster's pid.
  const postmaster = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.stdout.write(JSON.stringify({ dir: pg.dir, postmaster }) + '\n');
  setInterval(() => {}, 1 << 30);
} catch (err) {
  process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n');
}
