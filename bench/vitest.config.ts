import { defineConfig } from 'vitest/config';

// The harness's own tests (pure functions, and child-report.test.ts: the child processes' report pipe).
//   npx vitest run --config bench/vitest.config.ts
export default defineConfig({
  test: {
    include: ['bench/test/**/*.test.ts'],
    root: new URL('..', import.meta.url).pathname,
  },
});
