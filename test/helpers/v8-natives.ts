import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

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
/** Throw away `f`'s optimised code (it runs unoptimised until compiled again). */
const deoptimize = new Function('f', '%DeoptimizeFunction(f)') as (f: unknown) => void;
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
 *
 * List `fs` callee first (a function before the functions that call it), and include every
 * function on the way from `first` to each of them that V8 may optimise. A function's own code
 * is made on a call that enters it; a caller optimised first may inline it, and then no call
 * enters it (it stays "marked for optimisation" forever). Which one V8 optimises first during the
 * warm-up depends on how fast its background compiles run, so on a loaded machine the check
 * failed now and then ("not optimised: the test proves nothing", CI at stop 28). So after the
 * warm-up every one of `fs` drops its code, and they are compiled again one at a time, callees
 * first, each on a call through `first` while its callers still run unoptimised code that enters
 * it. A copy a caller inlines afterwards is covered by the caller's own check.
 */
export function deoptimizedBy(fs: Record<string, unknown>, first: () => void, later: () => void): string[] {
  neverOptimize(first);
  neverOptimize(later);
  for (let i = 0; i < 1000; i++) first();
  finishConcurrentJobs();
  for (const f of Object.values(fs)) deoptimize(f);
  for (const [name, f] of Object.entries(fs)) {
    optimizeOnNextCall(f);
    first();
    finishConcurrentJobs();
    if ((status(f) & OPTIMIZED) === 0) throw new Error(`${name} not optimised (status ${status(f).toString(2)}): the test proves nothing`);
  }
  for (const [name, f] of Object.entries(fs)) {
    if ((status(f) & OPTIMIZED) === 0) throw new Error(`${name} lost its code during the warm-up (status ${status(f).toString(2)}): the test proves nothing`);
  }
  later();
  return Object.entries(fs).filter(([, f]) => (status(f) & OPTIMIZED) === 0).map(([name]) => name);
}

/** Bytes in use in V8's young generation (what new objects are cut from, in order). */
function youngBytes(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  throw new Error('no new_space in v8.getHeapSpaceStatistics()');
}

/**
 * Bytes `f` allocates per call once optimised, as V8's young generation counts them: compile `f`
 * after `n` calls through `call(i)` (i = 0 … n − 1: the driver should pass values made beforehand,
 * e.g. numbers read from an array of objects, so that the calls themselves allocate nothing),
 * then run the same calls again and read the young generation's size before and after. A count,
 * not a timing; a run that a scavenge interrupted (the size went down) is not counted, the
 * smallest of five is taken, and the driver's own cost (an empty call) is subtracted. Throws if
 * `f` is not optimised before or after (the answer would then be the interpreter's).
 */
export function bytesPerCall(f: unknown, call: (i: number) => void, n = 10_000): number {
  neverOptimize(call);
  for (let i = 0; i < n; i++) call(i);
  finishConcurrentJobs();
  optimizeOnNextCall(f);
  call(0);
  finishConcurrentJobs();
  if ((status(f) & OPTIMIZED) === 0) throw new Error(`not optimised (status ${status(f).toString(2)}): the count proves nothing`);
  const measure = (g: (i: number) => void): number => {
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const before = youngBytes();
      for (let i = 0; i < n; i++) g(i);
      const d = youngBytes() - before;
      if (d >= 0) best = Math.min(best, d);
    }
    if (best === Infinity) throw new Error('every run was interrupted by a scavenge');
    return best;
  };
  const empty = (_i: number): void => undefined;
  neverOptimize(empty);
  const base = measure(empty);
  const bytes = measure(call);
  if ((status(f) & OPTIMIZED) === 0) throw new Error('deoptimised while counted: the count proves nothing');
  return Math.max(0, bytes - base) / n;
}
