// The error codes are a public contract (src/errors.ts). README.md and docs/errors.md must list
// exactly those codes, so that adding, renaming or removing one cannot go unnoticed in the docs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The string literals of the `ErrorCode` union, in declaration order. */
function declaredCodes(): string[] {
  const source = read('src/errors.ts');
  const union = /export type ErrorCode =([\s\S]*?);/.exec(source)?.[1];
  if (union === undefined) throw new Error('src/errors.ts: ErrorCode union not found');
  return [...union.matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1] as string);
}

/** The text of a `## heading` section of a markdown document, up to the next `## `. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`section "## ${heading}" not found`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

const sorted = (codes: string[]) => [...codes].sort();

describe('error code documentation', () => {
  const codes = declaredCodes();

  it('finds the codes declared in src/errors.ts', () => {
    expect(codes).toContain('ERR_CONNECTION_TIMEOUT');
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('README.md "Error codes" lists every code once, and nothing else', () => {
    const bullets = [...section(read('README.md'), 'Error codes').matchAll(/^- `([A-Z_]+)`:/gm)];
    expect(sorted(bullets.map((m) => m[1] as string))).toEqual(sorted(codes));
  });

  it('docs/errors.md has one table row per code, and nothing else', () => {
    const rows = [...read('docs/errors.md').matchAll(/^\| `([A-Z_]+)` \|/gm)];
    expect(sorted(rows.map((m) => m[1] as string))).toEqual(sorted(codes));
  });
});
