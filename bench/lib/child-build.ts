/**
 * The benchmark children run as plain `node <bundle>`, not under tsx: users run the published
 * build (dist/, one esbuild bundle) in plain node, and a child under tsx carries tsx's loader, its
 * source maps and its transformed modules in the very heap whose GCs the bulk workload counts
 * (bench/analysis.md, stop 32, wt/recv). So bench/child.ts, the contenders and the library from
 * src/ are bundled here with esbuild, once per process, from the current sources (never stale).
 *
 * - Every contender runs from the same bundle alike.
 * - npm packages stay external (udx-native, @hyperswarm/secret-stream, sodium-native load from
 *   node_modules exactly as users load them); the bundle lives under bench/.build/, inside the
 *   repository, so that `createRequire(import.meta.url)` still finds node_modules.
 * - Code splitting keeps the lazy contender imports lazy: a child loads only its own contender,
 *   and the library is its own chunk with top-level module code, as in dist/.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { BENCH_DIR, CHILD_SCRIPT } from './paths.js';

/** Where the bundles go (git-ignored); one folder per building process. */
export const BUILD_DIR = path.join(BENCH_DIR, '.build');

/** The entry point built for each script (this process builds each once). */
const built = new Map<string, string>();
/** Keep the bundle after exit (until the next build): CPU profiles point into it. */
let keep = false;

export function keepChildBundle(): void {
  keep = true;
}

/** Whether a process id is still running (a folder of a process that has gone may be removed). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Folders left behind by runs that were killed before their exit handler ran. */
function removeStale(buildDir: string): void {
  if (!existsSync(buildDir)) return;
  for (const name of readdirSync(buildDir)) {
    const m = /^child-(\d+)$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(path.join(buildDir, name), { recursive: true, force: true });
  }
}

/**
 * Builds bench/child.ts, or `script` (first call in this process only; ~100–200 ms), and returns the path of its
 * entry point. The folder is removed when this process exits (unless keepChildBundle() was called;
 * then the next build removes it).
 */
export function childBundle(script: string = CHILD_SCRIPT): string {
  const done = built.get(script);
  if (done !== undefined) return done;
  // Another checkout's bench/child.ts (warmup-bulk.ts --root) is built into its own bench/.build/.
  const buildDir = path.join(path.dirname(script), '.build');
  removeStale(buildDir);
  const outdir = path.join(buildDir, `child-${process.pid}`);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  buildSync({
    entryPoints: { child: script },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    // As tsup.config.ts builds dist/.
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  process.on('exit', () => {
    if (!keep) rmSync(outdir, { recursive: true, force: true });
  });
  const entry = path.join(outdir, 'child.mjs');
  built.set(script, entry);
  return entry;
}
