// README.md's "Encryption" example must run as written: the first ```ts block of that section,
// its `from 'reliable-dgram'` pointed at src/index.ts, run in a child process that must print an
// encrypted echo and exit on its own.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const entry = join(repoRoot, 'src', 'index.ts');

describe('README.md encryption example', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Encryption\n');
  const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'reliable-dgram-readme-enc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as written: an encrypted echo, then exit', async () => {
    expect(start).toBeGreaterThan(0);
    expect(code).toContain('serverKey: keyPair.publicKey');
    const file = join(dir, 'encryption.mts');
    writeFileSync(file, code.replaceAll("from 'reliable-dgram'", `from ${JSON.stringify(entry)}`));
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
      child.stdin?.end();
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('encrypted: true');
    expect(result.stdout).toContain('echo: only the server can read this');
    expect(result.code).toBe(0);
  });
});
