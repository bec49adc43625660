import { afterEach, expect } from 'vitest';
import { standInsChanged } from '../../src/core/connection.js';

/**
 * After every test of the suite: the shared stand-ins a dormant connection's stage fields point
 * at (src/core/connection.ts, dormant.ts) are still as built. Every input must wake a dormant
 * connection first; one that does not writes into the stand-ins (shared by every dormant
 * connection, so silently into all of them): this makes such a test fail, naming the field.
 */
afterEach(() => {
  expect(standInsChanged(), 'a dormant connection was used without waking it: the shared stand-ins changed').toBeNull();
});
