/** What every workload gets from bench/run.ts. */
import type { ContenderName } from '../contenders/index.js';
import { notice } from '../lib/progress.js';

export const HOST = '127.0.0.1';

export interface BenchContext {
  quick: boolean;
  contenders: readonly ContenderName[];
  /** Contenders found unavailable (with the reason), so later workloads skip them quietly. */
  unavailable: Map<string, string>;
  /** Remarks that belong beside the numbers (skips, missing tools, failures). */
  notes: string[];
  /** When the current workload must stop starting runs (epoch ms); quick mode budgets each workload. */
  deadlineAt: number;
}

/** A run may overrun its workload's budget by this much before it is stopped. */
const GRACE_MS = 3000;
/** No run starts with less than this left: it could only be cut short. */
const MIN_RUN_MS = 2000;

/** A run's timeout: its own limit, cut to what is left of the workload's budget (plus grace). */
export function runTimeout(ctx: BenchContext, limitMs: number): number {
  return Math.min(limitMs, ctx.deadlineAt + GRACE_MS - Date.now());
}

/** False (and a note, once per workload) when the workload's time budget is spent. */
export function withinBudget(ctx: BenchContext, workload: string): boolean {
  if (Date.now() < ctx.deadlineAt - MIN_RUN_MS) return true;
  const text = `${workload}: time budget spent, remaining runs skipped`;
  if (!ctx.notes.includes(text)) note(ctx, text);
  return false;
}

/** Contenders in a different order each run, so none always goes first on a warm or cold machine. */
export function rotation<T>(items: readonly T[], run: number): T[] {
  const k = items.length === 0 ? 0 : run % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function markUnavailable(ctx: BenchContext, name: string, reason: string): void {
  if (ctx.unavailable.has(name)) return;
  ctx.unavailable.set(name, reason);
  const line = `${name}: ${reason}`;
  ctx.notes.push(line);
  notice(`  skipped ${line}`);
}

export function note(ctx: BenchContext, text: string): void {
  ctx.notes.push(text);
  notice(`  note: ${text}`);
}
