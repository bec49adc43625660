// Every npm command README.md tells a reader to run must exist in package.json, and the two
// "Getting started" commands must do real work, not print a placeholder.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const scripts = (JSON.parse(read('package.json')) as { scripts?: Record<string, string> }).scripts ?? {};

/** Script names behind `npm start`, `npm test` and `npm run <name>` in a piece of text. */
function npmScripts(text: string): string[] {
  const names = [...text.matchAll(/\bnpm (start|test|run ([\w:.-]+))\b/g)].map((m) => m[2] ?? (m[1] as string));
  return [...new Set(names)];
}

function gettingStartedShell(): string {
  const start = readme.indexOf('\n## Getting started\n');
  const end = readme.indexOf('\n## ', start + 1);
  if (start < 0) throw new Error('README.md has no "## Getting started" section');
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

describe('README.md npm commands', () => {
  it('every npm script README.md mentions exists in package.json', () => {
    const mentioned = npmScripts(readme);
    expect(mentioned).toEqual(expect.arrayContaining(['start', 'test', 'chat', 'build', 'docs']));
    expect(mentioned.filter((name) => !(name in scripts))).toEqual([]);
  });

  it('the Getting started commands run real scripts, not "not yet" placeholders', () => {
    const commands = npmScripts(gettingStartedShell());
    expect(commands).toEqual(['start', 'chat', 'test']);
    for (const name of commands) expect(scripts[name], `npm script "${name}"`).not.toMatch(/not yet/);
  });

  it('`npm install` builds the library (README says the prepare script does)', () => {
    expect(readme).toContain('`prepare` script');
    expect(scripts['prepare']).toMatch(/\bbuild\b|\btsup\b/);
  });
});
