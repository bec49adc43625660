/**
 * `--name value` options of the diagnostic scripts in bench/ (alloc, tail, warmup, impair-sim,
 * connected-send, mass-close): each reads a few of its own. bench/run.ts has its full parser (args.ts).
 */

/** The value after `--name` in `argv`, or `dflt` when the option (or its value) is absent. */
export function stringOption(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
}

/** {@link stringOption} as a number: a value that is not a finite number is a RangeError. */
export function numberOption(argv: readonly string[], name: string, dflt: number): number {
  const value = stringOption(argv, name, String(dflt));
  const n = Number(value);
  if (!Number.isFinite(n)) throw new RangeError(`--${name}: expected a number, got '${value}'`);
  return n;
}
