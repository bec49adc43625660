/**
 * Child → parent messages: single lines `@@bench {json}`.
 *
 * They travel on their own pipe, file descriptor 3 (`REPORT_FD`), when the parent opened one and
 * said so in `BENCH_REPORT_FD` (bench/lib/spawn.ts does, and bench/warmup-bulk.ts), never on
 * stdout: V8's tracing flags (`--trace-opt`, `--trace-deopt-verbose`, ...) write to the same stdout
 * through their own C buffers, which flush at any byte, so a report written there can land glued
 * to the end of half a V8 line (the parent then never sees a line that starts with the prefix:
 * the stop 25 "stalled" bulk run was a receiver whose result line read
 * `... [top +  24] <- 0x13020d000d39@@bench {"type":"result",...}`). And Node's stdout on a pipe is
 * non-blocking: a report that does not fit in the pipe at that moment is queued, and the
 * `process.exit()` that follows a sender's report drops it. Fd 3 is a blocking pipe nobody else
 * writes to: `writeSync` returns once the whole line is in it.
 *
 * Run by hand (no `BENCH_REPORT_FD`), a child writes its lines to stdout, each after a newline so
 * that it starts a line of its own; `parseChildLine` finds the prefix anywhere in a line.
 */
import { writeSync } from 'node:fs';
import type { Role } from '../contenders/types.js';

export const LINE_PREFIX = '@@bench ';

/** The report pipe's file descriptor in the child, and the variable that says it is open. */
export const REPORT_FD = 3;
export const REPORT_FD_ENV = 'BENCH_REPORT_FD';

export interface ChildSpec {
  contender: string;
  role: Role;
  options: Record<string, unknown>;
}

export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'result'; result: unknown }
  /**
   * The child answers SIGUSR2 from now on (`answerStatusRequests`). Until this line a parent
   * must not send it: SIGUSR2's default action ends the process, and a child spends its first
   * second or more (longer on a loaded machine) loading tsx and its modules before any handler.
   */
  | { type: 'listening' }
  /** The answer to SIGUSR2 (a parent that gave up waiting): what the role has done so far. */
  | { type: 'status'; status: unknown }
  | { type: 'skip'; reason: string }
  | { type: 'error'; message: string };

/** The report descriptor this process was given, or null (stdout then). */
function reportFd(): number | null {
  const v = process.env[REPORT_FD_ENV];
  return v === undefined || v === '' ? null : Number(v);
}

/** Writes all of `text` to a blocking descriptor (writeSync may write less than asked). */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
}

export function emitToParent(msg: ChildMessage): void {
  const line = LINE_PREFIX + JSON.stringify(msg) + '\n';
  const fd = reportFd();
  if (fd !== null) writeAll(fd, line);
  else process.stdout.write('\n' + line);
}

/**
 * A message from one line: the prefix may follow other output on the same line (a child's
 * stdout mixed with V8's traces); the JSON runs to the end of the line.
 */
export function parseChildLine(line: string): ChildMessage | null {
  const at = line.indexOf(LINE_PREFIX);
  if (at < 0) return null;
  try {
    return JSON.parse(line.slice(at + LINE_PREFIX.length)) as ChildMessage;
  } catch {
    return null;
  }
}

/** Whether a line carries the prefix (a report), parsable or not: a garbled report is an error, not noise. */
export function isReportLine(line: string): boolean {
  return line.includes(LINE_PREFIX);
}

/**
 * Answer SIGUSR2 with `read()`'s status from now on, and tell the parent so (a 'listening'
 * report): a parent asks only after that line (before it the signal would end this process).
 */
export function answerStatusRequests(read: () => unknown): void {
  process.on('SIGUSR2', () => emitToParent({ type: 'status', status: read() }));
  emitToParent({ type: 'listening' });
}
