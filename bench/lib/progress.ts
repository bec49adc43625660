/**
 * The progress line, on stderr so stdout keeps the table and the final JSON line. On a terminal
 * it rewrites one line; in CI (no TTY) it prints one line per step.
 */
const tty = process.stderr.isTTY === true;
let shown = false;
const startedAt = Date.now();

export function progress(text: string): void {
  const line = `[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)}s] ${text}`;
  if (tty) {
    process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    shown = true;
  } else {
    process.stderr.write(line + '\n');
  }
}

/** Clears the progress line before anything else is printed. */
export function clearProgress(): void {
  if (tty && shown) process.stderr.write('\r\x1b[K');
  shown = false;
}

/** A message that must stay visible (a skipped contender, a missing tool). */
export function notice(text: string): void {
  clearProgress();
  process.stderr.write(text + '\n');
}
