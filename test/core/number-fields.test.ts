import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../src/core/rtt.js';

/**
 * The shape rule of src/core/mutable-fields.ts for number fields: a class field typed `number`
 * is declared with an initialiser. A declared-only field is defined as `undefined` first (ES2022
 * class fields), the number stored over it makes it a tagged field, and each fractional value
 * stored later allocates a HeapNumber.
 */
const ROOT = join(import.meta.dirname, '../..');
/** 32-bit identifiers, written once: as number fields each would keep a 16-byte box per connection. */
const IDENTIFIERS = new Set(['cidHi', 'cidLo', 'token0', 'token1', 'token2', 'token3', 'localCidHi', 'localCidLo', 'remoteCidHi', 'remoteCidLo']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `file:line Class.field` for every declared-only `number` field of a class under `dirs`. */
function declaredOnlyNumberFields(dirs: string[]): string[] {
  const found: string[] = [];
  for (const file of dirs.flatMap((d) => files(join(ROOT, d)))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isClassLike(node)) {
        for (const m of node.members) {
          if (!ts.isPropertyDeclaration(m) || m.initializer || m.type?.getText(sf) !== 'number') continue;
          if (ts.getModifiers(m)?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword || x.kind === ts.SyntaxKind.DeclareKeyword)) continue;
          const name = m.name.getText(sf);
          if (IDENTIFIERS.has(name)) continue;
          const line = sf.getLineAndCharacterOfPosition(m.getStart()).line + 1;
          found.push(`${relative(ROOT, file)}:${line} ${node.name?.getText(sf) ?? '(class)'}.${name}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

describe('number fields (shape rule)', () => {
  it('every number field of the engine, the shell and the wire code has an initialiser', () => {
    expect(declaredOnlyNumberFields(['src/core', 'src/node', 'src/wire'])).toEqual([]);
  });

  it('an RTT estimator starts and updates as RFC 9002 §5 says (the initialisers change no value)', () => {
    const r = new RttEstimator(100);
    expect([r.smoothed, r.variance, r.min, r.latest]).toEqual([100, 50, Infinity, 0]);
    r.update(10, 0);
    expect([r.smoothed, r.variance, r.min, r.latest]).toEqual([10, 5, 10, 10]);
    r.update(18, 2);
    // adjusted = 16: variance 0.75·5 + 0.25·|10 − 16| = 5.25, smoothed 0.875·10 + 0.125·16 = 10.75
    expect([r.smoothed, r.variance, r.min]).toEqual([10.75, 5.25, 10]);
  });
});
