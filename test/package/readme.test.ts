// README.md's quick start must run as written (issue 4). This test takes the first ```ts block of
// the "Quick start" section, points its `from 'reliable-dgram'` at src/index.ts, type-checks it
// with the project's strict settings and runs it in a child process. The child must print the
// echo and then exit on its own: a socket or timer left open by close() would keep it alive, and
// the time limit turns that into a failure.
//
// Skipped until src/index.ts exports `createEndpoint` (the endpoint lands with issue 4).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as library from '../../src/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const entry = join(repoRoot, 'src', 'index.ts');
const hasEndpoint = 'createEndpoint' in library;

/** The first ```ts block after `## Quick start`, exactly as a reader sees it. */
export function quickStart(readme: string): string {
  const start = readme.indexOf('\n## Quick start\n');
  if (start < 0) throw new Error('README.md has no "## Quick start" section');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  if (block?.[1] === undefined) throw new Error('README.md "Quick start" has no ```ts block');
  return block[1];
}

function run(file: string, args: string[], timeout: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(file, args, { cwd: repoRoot, timeout, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

describe('README.md quick start', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const code = quickStart(readme);

  it('is a short program on the public API', () => {
    expect(code).toContain("from 'reliable-dgram'");
    expect(code.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
  });

  describe.skipIf(!hasEndpoint)('once createEndpoint exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reliable-dgram-readme-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    // Import the sources where a user imports the package (an absolute path: tsc and Node agree).
    const program = code.replaceAll("from 'reliable-dgram'", `from ${JSON.stringify(entry)}`);
    const file = join(dir, 'quick-start.mts');
    writeFileSync(file, program);

    it('type-checks under the project settings', async () => {
      const tsconfig = join(dir, 'tsconfig.json');
      writeFileSync(
        tsconfig,
        JSON.stringify({
          extends: join(repoRoot, 'tsconfig.json'),
          compilerOptions: { typeRoots: [join(repoRoot, 'node_modules', '@types')], allowImportingTsExtensions: true },
          files: [file],
          include: [],
        }),
      );
      const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', tsconfig], 50_000);
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    });

    it('runs as written: prints the echo and exits by itself', async () => {
      const result = await run(process.execPath, ['--import', 'tsx', file], 20_000);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('echo: hello over UDP');
      expect(result.code).toBe(0);
    });
  });
});
