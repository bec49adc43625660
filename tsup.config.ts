import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'wire/index': 'src/wire/public.ts',
    'bin/impair': 'src/bin/impair.ts',
    'bin/trace': 'src/bin/trace.ts',
  },
  format: ['esm', 'cjs'],
  // Declarations show the API only: members marked @internal (the endpoint's hooks into its
  // connections) are left out, so users neither see nor call them.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  treeshake: true,
});
