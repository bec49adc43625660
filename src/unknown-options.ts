import { InvalidArgTypeError, UnknownOptionError } from './errors.js';

/**
 * Misspelled options must not pass silently (`{ idleTimout: 5 }` would otherwise mean "default
 * idle timeout"). Every options object the public API takes is checked against its list of known
 * names; an unknown one throws a TypeError with code ERR_INVALID_ARG_VALUE that names it and the
 * closest known name.
 */
export function rejectUnknownOptions(options: object, known: readonly string[], label = 'options'): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const suggestion = closestName(key, known);
    throw new UnknownOptionError(
      `${label}.${key} is not a known option${suggestion === undefined ? '' : `; did you mean ${label}.${suggestion}?`}`,
      key,
      suggestion,
    );
  }
}

/** `options` must be undefined or a plain object; returns it (or an empty object). */
export function optionsObject<T extends object>(options: T | undefined, label = 'options'): T | Record<string, never> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError(`${label} must be an object`);
  return options;
}

/**
 * The known name nearest to `name` (case-insensitive edit distance), if it is near enough to be
 * a plausible typo: at most a third of the name's length in edits, and at least one.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}
