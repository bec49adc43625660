#!/usr/bin/env node
// Pack smoke test: does the tarball `npm publish` would upload work for a user?
//
// 1. `npm run build`, then `npm pack` into a temporary directory outside the repository.
// 2. The tarball holds only what users need: dist/, the user docs (docs/*.md and the charts
//    docs/performance.md shows), README.md, LICENSE, package.json (checked with `tar tzf`, the
//    same listing a user's npm sees). Every relative link of the packed README.md and docs/*.md
//    resolves to a file in the tarball. The declarations hold no @internal member.
// 3. A throw-away project installs the tarball (the package has no runtime dependencies).
// 4. `import()` and `require()` both load `reliable-dgram`, `reliable-dgram/testing` and
//    `reliable-dgram/wire` and expose the same named exports.
//    README.md's quick start runs against the installed package, as ESM and as CommonJS.
// 5. TypeScript (the repository's own tsc) resolves the types under `moduleResolution: nodenext`
//    (from an ES module and from a CommonJS module) and under `bundler`.
//
// Usage: node scripts/pack-smoke.mjs [--skip-build] [--keep]
//   --skip-build  pack the dist/ that is already there (for trying the script out)
//   --keep        leave the temporary directory behind and print where it is
// Runs every check, prints ok/FAIL for each, and exits non-zero if any failed (a command that
// fails outright, such as the build, ends the run at once).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const skipBuild = args.has('--skip-build');
const keep = args.has('--keep');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
// npm reads stdin in a few corner cases (e.g. `npm init` without -y); never let it wait for input.
const quiet = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' };

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

// A hung registry or build must fail the job, not stall it: every command gets a time limit.
const COMMAND_TIMEOUT_MS = 5 * 60_000;

function run(cmd, cmdArgs, cwd) {
  try {
    return execFileSync(cmd, cmdArgs, {
      ...quiet,
      cwd,
      timeout: COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' },
    });
  } catch (err) {
    // Show what the tool said: a bare "Command failed" is useless in a CI log.
    process.stderr.write(`\n$ ${cmd} ${cmdArgs.join(' ')}   (in ${cwd})\n${err.stdout ?? ''}${err.stderr ?? ''}\n`);
    throw new Error(`command failed: ${cmd} ${cmdArgs.join(' ')}`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'reliable-dgram-pack-'));
try {
  // --- 1. build and pack -------------------------------------------------------------------
  if (!skipBuild) run('npm', ['run', 'build'], repoRoot);
  // --ignore-scripts: the build just ran; a `prepare` script would only build again (and its
  // output would mix into npm's). The tarball is the one .tgz in the fresh directory.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], repoRoot);
  const tarballs = readdirSync(work).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack should write one .tgz, found: ${tarballs.join(', ') || 'none'}`);
  const tarball = join(work, tarballs[0]);
  console.log(`packed ${tarballs[0]} (${statSync(tarball).size} bytes)`);

  // --- 2. tarball contents -----------------------------------------------------------------
  // npm puts everything under package/; list it the way a user's npm will unpack it.
  const entries = run('tar', ['tzf', tarball], work)
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''));
  const allowed = (path) =>
    path.startsWith('dist/') ||
    /^docs\/[\w.-]+\.md$/.test(path) ||
    /^docs\/perf\/[\w.-]+\.(svg|json)$/.test(path) ||
    ['README.md', 'LICENSE', 'package.json'].includes(path);
  const unexpected = entries.filter((path) => !allowed(path));
  check(unexpected.length === 0, `tarball holds only dist/, docs/*.md (+ charts), README.md, LICENSE, package.json${unexpected.length ? `; unexpected: ${unexpected.join(', ')}` : ''}`);
  for (const required of ['package.json', 'README.md', 'LICENSE', 'docs/protocol.md', 'docs/errors.md', 'docs/testing.md', 'docs/stats.md']) {
    check(entries.includes(required), `tarball contains ${required}`);
  }
  // The docs work from npm: every relative link of a packed markdown file resolves in the tarball.
  run('tar', ['xzf', tarball, '-C', work], work);
  const unpacked = join(work, 'package');
  for (const doc of entries.filter((path) => path.endsWith('.md'))) {
    const text = readFileSync(join(unpacked, doc), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
    const broken = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1])
      .filter((link) => !link.startsWith('#') && !/^(https?|mailto):/.test(link))
      .filter((link) => !entries.includes(normalize(join(dirname(doc), decodeURI(link.split('#')[0])))));
    check(broken.length === 0, `links in the packed ${doc} resolve inside the tarball${broken.length ? `; broken: ${broken.join(', ')}` : ''}`);
  }
  // The declarations show the API only (tsup strips @internal members).
  for (const decl of entries.filter((path) => /\.d\.c?ts$/.test(path))) {
    const text = readFileSync(join(unpacked, decl), 'utf8');
    const leaked = ['handleCoreEvent', 'checkDrain', 'forceClose', 'readonly record'].filter((name) => text.includes(name));
    check(leaked.length === 0, `${decl} holds no @internal member${leaked.length ? `; found: ${leaked.join(', ')}` : ''}`);
  }
  // Every file the exports map, main/module/types and bin point at must be in the tarball.
  const targets = new Set([pkg.main, pkg.module, pkg.types].filter(Boolean));
  (function collect(node) {
    if (typeof node === 'string') targets.add(node);
    else if (node && typeof node === 'object') Object.values(node).forEach(collect);
  })(pkg.exports);
  const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
  for (const path of Object.values(bins)) targets.add(path);
  for (const target of targets) {
    const path = target.replace(/^\.\//, '');
    check(entries.includes(path), `tarball contains ${path} (referenced by package.json)`);
  }

  // --- 3. a throw-away consumer project ----------------------------------------------------
  const app = join(work, 'app');
  run('mkdir', ['-p', app], work);
  run('npm', ['init', '-y'], app);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  const installed = readdirSync(join(app, 'node_modules'));
  check(installed.includes('reliable-dgram'), 'tarball installs');
  check(pkg.dependencies === undefined || Object.keys(pkg.dependencies).length === 0, 'the package has no runtime dependencies');

  // --- 4. import and require agree ---------------------------------------------------------
  for (const specifier of ['reliable-dgram', 'reliable-dgram/testing', 'reliable-dgram/wire']) {
    const probe = `
      const cjs = require(${JSON.stringify(specifier)});
      import(${JSON.stringify(specifier)}).then((esm) => {
        const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();
        console.log(JSON.stringify({ esm: names(esm), cjs: names(cjs) }));
      });`;
    const { esm, cjs } = JSON.parse(run(process.execPath, ['-e', probe], app));
    check(JSON.stringify(esm) === JSON.stringify(cjs), `${specifier}: import() and require() expose the same named exports [${esm.join(', ')}]${JSON.stringify(esm) === JSON.stringify(cjs) ? '' : ` vs require: [${cjs.join(', ')}]`}`);
    if (specifier === 'reliable-dgram') {
      check(esm.includes('ReliableDgramError'), `${specifier}: exports ReliableDgramError`);
      check(!esm.includes('wire') && !esm.includes('Reader'), `${specifier}: does not export the codec (it is reliable-dgram/wire)`);
    }
    if (specifier === 'reliable-dgram/wire') {
      check(esm.includes('decodePacket') && esm.includes('encodePacket'), `${specifier}: exports the codec`);
    }
  }
  // The ESM and CommonJS builds each work on their own (not only their export lists).
  const behaviour = `
    const check = (lib, how) => {
      const err = new lib.ReliableDgramError('ERR_SOCKET', 'x');
      if (!(err instanceof Error) || err.code !== 'ERR_SOCKET') throw new Error(how + ': ReliableDgramError misbehaves');
    };
    check(require('reliable-dgram'), 'require');
    import('reliable-dgram').then((lib) => { check(lib, 'import'); console.log('ok'); });`;
  check(run(process.execPath, ['-e', behaviour], app).trim() === 'ok', 'the ESM and CommonJS builds both construct a ReliableDgramError');

  // The README's quick start, run against the installed tarball from an ES module and from a
  // CommonJS module (the code block must stay plain JavaScript for this). It must print its echo
  // and exit by itself: a handle left open by close() would hang it until the time limit.
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const quickStart = /\n## Quick start\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  check(quickStart !== undefined, 'README.md has a quick start code block');
  if (quickStart !== undefined) {
    const importLine = /^import \{([^}]*)\} from 'reliable-dgram';\n/m;
    const cjs = `const {${importLine.exec(quickStart)?.[1] ?? ''}} = require('reliable-dgram');\n(async () => {\n${quickStart.replace(importLine, '')}})();\n`;
    writeFileSync(join(app, 'quick-start.mjs'), quickStart);
    writeFileSync(join(app, 'quick-start.cjs'), cjs);
    for (const file of ['quick-start.mjs', 'quick-start.cjs']) {
      let output = '';
      try {
        output = run(process.execPath, [file], app);
      } catch {
        // run() has printed what node said.
      }
      check(output.includes('echo:'), `README quick start runs from the tarball as ${file.endsWith('.mjs') ? 'an ES module' : 'CommonJS'} and exits`);
    }
  }

  // --- 5. TypeScript resolves the types ----------------------------------------------------
  // `@ts-expect-error` proves the types are real: were they missing (any), the line would not be
  // an error, and tsc would fail with "Unused '@ts-expect-error' directive".
  const typeProbe = (importLine) => `${importLine}
const code: ErrorCode = 'ERR_CONNECTION_TIMEOUT';
const err: Error = new ReliableDgramError(code, 'probe');
// @ts-expect-error ErrorCode is a closed union
const wrong: ErrorCode = 'ERR_NOT_A_CODE';
export const probe = [err, wrong, testing] as const;
`;
  const esmImports = `import { ReliableDgramError, type ErrorCode } from 'reliable-dgram';\nimport * as testing from 'reliable-dgram/testing';`;
  const cjsImports = `import { ReliableDgramError, type ErrorCode } from 'reliable-dgram';\nimport testing = require('reliable-dgram/testing');`;
  writeFileSync(join(app, 'probe-esm.mts'), typeProbe(esmImports));
  writeFileSync(join(app, 'probe-cjs.cts'), typeProbe(cjsImports));
  writeFileSync(join(app, 'probe-bundler.ts'), typeProbe(esmImports));
  const common = ['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--types', 'node', '--typeRoots', join(repoRoot, 'node_modules', '@types')];
  const settings = [
    { name: 'nodenext (ESM importer)', flags: ['--module', 'nodenext', '--moduleResolution', 'nodenext'], file: 'probe-esm.mts' },
    { name: 'nodenext (CommonJS importer)', flags: ['--module', 'nodenext', '--moduleResolution', 'nodenext'], file: 'probe-cjs.cts' },
    { name: 'bundler', flags: ['--module', 'esnext', '--moduleResolution', 'bundler'], file: 'probe-bundler.ts' },
  ];
  for (const { name, flags, file } of settings) {
    let ok = true;
    try {
      run(process.execPath, [tsc, ...common, ...flags, file], app);
    } catch {
      ok = false;
    }
    check(ok, `types resolve under moduleResolution ${name}`);
  }
} catch (err) {
  console.error(`FAIL ${err instanceof Error ? err.message : String(err)}`);
  failures += 1;
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

if (failures > 0) {
  console.error(`pack smoke test: ${failures} check(s) failed`);
  process.exit(1);
}
console.log('pack smoke test: all checks passed');
