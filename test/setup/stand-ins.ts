import { readFileSync } from 'node:fs';
import { afterEach, expect } from 'vitest';

/**
 * After every test of the suite: the shared stand-ins a dormant connection's stage fields point
 * at (src/core/stages.ts, dormant.ts) are still as built. Every input must wake a dormant
 * connection first; one that does not writes into the stand-ins (shared by every dormant
 * connection, so silently into all of them): this makes such a test fail, naming the field.
 *
 * The engine is imported after the test, not at load: a file that checks V8's view of compiled
 * code (test/helpers/v8-natives.ts) is left alone altogether, as loading the engine into its
 * process first changes the type feedback it measures.
 */
const natives = new Map<string, boolean>();

afterEach(async () => {
  const file = expect.getState().testPath;
  if (file === undefined) return;
  let skip = natives.get(file);
  if (skip === undefined) natives.set(file, (skip = readFileSync(file, 'utf8').includes('v8-natives')));
  if (skip) return;
  const { standInsChanged } = await import('../../src/core/stages.js');
  expect(standInsChanged(), 'a dormant connection was used without waking it: the shared stand-ins changed').toBeNull();
});
