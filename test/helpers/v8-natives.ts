import { setFlagsFromString } from 'node:v8';

/**
 * V8's own view of compiled code, for the tests that pin a deoptimisation away (varint priming,
 * double fields). Turns on `--allow-natives-syntax` for this process when imported.
 */
setFlagsFromString('--allow-natives-syntax');

const optimizeOnNextCall = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
/**
 * Wait for the compile jobs V8 has running on its background thread and install their code. A
 * function that tiered up by itself during the warm-up calls may have a job in flight, and
 * `%OptimizeFunctionOnNextCall` leaves such a function as it is: without this, whether it is
 * optimised when checked depends on the machine's load (status "optimising concurrently").
 */
const finishConcurrentJobs = new Function('%FinalizeOptimization()') as () => void;
/** V8's OptimizationStatus bit for "has optimised code". */
const OPTIMIZED = 1 << 4;

/** Keep `f` interpreted: each call reaches the functions it calls (not a copy inlined into it). */
export const neverOptimize = new Function('f', '%NeverOptimizeFunction(f)') as (f: unknown) => void;

/** Whether two objects share their hidden class (map). */
export const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: unknown, b: unknown) => boolean;

/**
 * Compile `f` after calls through `first` only, then call it through `later`: is it still
 * optimised (no deoptimisation at the new values)? Throws if `f` was not optimised to begin with,
 * since the answer would then prove nothing.
 */
export function staysOptimized(f: unknown, first: () => void, later: () => void): boolean {
  neverOptimize(first);
  neverOptimize(later);
  for (let i = 0; i < 1000; i++) first();
  finishConcurrentJobs();
  optimizeOnNextCall(f);
  first();
  finishConcurrentJobs();
  if ((status(f) & OPTIMIZED) === 0) throw new Error(`not optimised (status ${status(f).toString(2)}): the test proves nothing`);
  later();
  return (status(f) & OPTIMIZED) !== 0;
}

/**
 * {@link staysOptimized} for several functions at once: compile each of `fs` after calls through
 * `first` only, then call `later`; the names of those that lost their optimised code. Throws if
 * one was not optimised to begin with.
 */
export function deoptimizedBy(fs: Record<string, unknown>, first: () => void, later: () => void): string[] {
  neverOptimize(first);
  neverOptimize(later);
  for (let i = 0; i < 1000; i++) first();
  finishConcurrentJobs();
  for (const f of Object.values(fs)) optimizeOnNextCall(f);
  first();
  finishConcurrentJobs();
  for (const [name, f] of Object.entries(fs)) {
    if ((status(f) & OPTIMIZED) === 0) throw new Error(`${name} not optimised (status ${status(f).toString(2)}): the test proves nothing`);
  }
  later();
  return Object.entries(fs).filter(([, f]) => (status(f) & OPTIMIZED) === 0).map(([name]) => name);
}
