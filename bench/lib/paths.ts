/** Absolute paths the harness needs, independent of the current directory. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_ROOT = path.dirname(BENCH_DIR);
export const CHILD_SCRIPT = path.join(BENCH_DIR, 'child.ts');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const DOCS_DIR = path.join(REPO_ROOT, 'docs');
export const CHARTS_DIR = path.join(DOCS_DIR, 'perf');
/** The impairment proxy's CLI; BENCH_IMPAIR_BIN points elsewhere (e.g. to try another build). */
export const IMPAIR_BIN = process.env.BENCH_IMPAIR_BIN ?? path.join(REPO_ROOT, 'src', 'bin', 'impair.ts');
