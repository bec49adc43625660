import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every test: nothing wrote into the dormant connections' shared stand-ins (a missing wake).
    setupFiles: ['test/setup/stand-ins.ts'],
  },
});
