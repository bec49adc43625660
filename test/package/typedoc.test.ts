// Issue 15, point 9: the API reference. `npm run docs` (typedoc.json) must pass with zero
// warnings (treatWarningsAsErrors, validation.notDocumented), name its modules after the package
// entry points instead of "index", show examples and an events table on the main classes, and
// turn README links to the docs into pages of the reference rather than raw .md files.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const typedoc = join(repoRoot, 'node_modules', 'typedoc', 'bin', 'typedoc');

describe('typedoc reference', () => {
  const out = mkdtempSync(join(tmpdir(), 'reliable-dgram-typedoc-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const page = (path: string) => readFileSync(join(out, path), 'utf8');

  it('builds with no warning at all (warnings are errors)', async () => {
    const config = JSON.parse(readFileSync(join(repoRoot, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
    expect(config['treatWarningsAsErrors']).toBe(true);
    expect((config['validation'] as Record<string, boolean>)['notDocumented']).toBe(true);
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, [typedoc, '--out', out], { cwd: repoRoot, timeout: 120_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: stdout + stderr }),
      );
    });
    expect(result.output).not.toMatch(/warning/i);
    expect(result.code).toBe(0);
  });

  it('names the modules after the entry points, not "index"', () => {
    const modules = page('modules.html');
    for (const name of ['reliable-dgram', 'reliable-dgram/testing', 'reliable-dgram/wire']) expect(modules).toContain(`>${name}<`);
    expect(existsSync(join(out, 'modules', 'index.html'))).toBe(false);
  });

  it('Connection, Endpoint and createEndpoint have examples; the classes list their events', () => {
    const connection = page('classes/reliable-dgram.Connection.html');
    const endpoint = page('classes/reliable-dgram.Endpoint.html');
    const create = page('functions/reliable-dgram.createEndpoint.html');
    for (const html of [connection, endpoint, create]) expect(html).toMatch(/<pre><code class="ts"/);
    for (const event of ['message', 'drain', 'end', 'error', 'close']) expect(connection).toContain(`<td><code>'${event}'</code></td>`);
    for (const event of ['connection', 'error', 'close']) expect(endpoint).toContain(`<td><code>'${event}'</code></td>`);
    expect(connection).toContain('remoteAddress');
  });

  it('README links to the docs open pages of the reference, not raw markdown', () => {
    const index = page('index.html');
    for (const doc of ['errors', 'testing', 'protocol', 'stats']) expect(index).toContain(`href="documents/${doc}.html"`);
    expect(index).not.toMatch(/href="[^"]*docs\/\w+\.md"/);
  });
});
