import { defineConfig } from 'vitest/config';

// The harness's own unit tests (pure functions only: no processes, no timing).
//   npx vitest run --config bench/vitest.config.ts
export default defineConfig({
  test: {
    include: ['bench/test/**/*.test.ts'],
    root: new URL('..', import.meta.url).pathname,
  },
});
