// Issue 15, point 8: the docs must work from npm. `npm pack --dry-run` lists exactly the files the
// tarball would hold; every relative link in the packed README.md and in the packed docs/*.md
// must resolve to one of them, and every other link to this repository must be absolute (on the
// `repository` URL of package.json). scripts/pack-smoke.mjs checks the same on a real tarball.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  repository?: { url?: string };
  homepage?: string;
  bugs?: { url?: string };
  files?: string[];
};

/** Paths of the files `npm pack` would put in the tarball (without the package/ prefix). */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  return report.files.map((f) => f.path);
}

/** Link targets of a markdown document: [text](target) and <img src="target">, code blocks skipped. */
export function markdownLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const links = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string);
  const images = [...prose.matchAll(/<img[^>]+src="([^"]+)"/g)].map((m) => m[1] as string);
  return [...links, ...images];
}

const repoBase = 'https://github.com/reliable-dgram/reliable-dgram';

describe('docs in the npm package', () => {
  const files = packedFiles();

  it('package.json names the repository, homepage and issue tracker', () => {
    expect(pkg.repository?.url).toBe(`git+${repoBase}.git`);
    expect(pkg.homepage).toMatch(new RegExp(`^${repoBase}`));
    expect(pkg.bugs?.url).toBe(`${repoBase}/issues`);
  });

  it('the tarball ships README.md and the user docs', () => {
    for (const doc of ['README.md', 'docs/protocol.md', 'docs/errors.md', 'docs/testing.md', 'docs/performance.md', 'docs/stats.md']) {
      expect(files).toContain(doc);
    }
  });

  for (const doc of ['README.md', 'docs/errors.md', 'docs/testing.md', 'docs/protocol.md', 'docs/stats.md', 'docs/performance.md']) {
    it(`every link in the packed ${doc} resolves inside the tarball or is absolute`, () => {
      const text = readFileSync(join(repoRoot, doc), 'utf8');
      const broken: string[] = [];
      for (const link of markdownLinks(text)) {
        if (link.startsWith('#') || /^(https?|mailto):/.test(link)) continue;
        const target = normalize(join(dirname(doc), decodeURI(link.split('#')[0] as string)));
        if (!files.includes(target)) broken.push(`${link} -> ${target}`);
      }
      expect(broken).toEqual([]);
    });
  }

  it('absolute links into this repository point at its GitHub URL', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const repoLinks = markdownLinks(readme).filter((l) => l.includes('github.com/reliable-dgram'));
    expect(repoLinks.length).toBeGreaterThan(0);
    for (const link of repoLinks) expect(link.startsWith(`${repoBase}/`)).toBe(true);
  });
});
