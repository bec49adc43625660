/** The shape of bench/results/latest.json. */
import type { Machine } from './machine.js';
import type { BulkResult } from '../workloads/bulk.js';
import type { PingResult } from '../workloads/pingpong.js';
import type { ImpairResult } from '../workloads/impair.js';
import type { ManyResult } from '../workloads/many.js';
import type { ChatResult } from '../workloads/chat.js';

export const WORKLOADS = ['bulk', 'pingpong', 'impair', 'many', 'chat'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface BenchResults {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  quick: boolean;
  command: string;
  /** How every benchmark child ran (absent in results saved before it was recorded: tsx). */
  children?: string;
  machine: Machine;
  /** Contenders asked for, with the reason when one could not run. */
  contenders: Record<string, { available: boolean; reason?: string }>;
  notes: string[];
  workloads: {
    bulk?: BulkResult;
    pingpong?: PingResult;
    impair?: ImpairResult;
    many?: ManyResult;
    chat?: ChatResult;
  };
  /** Every headline figure and ratio, flat; also printed as the last line. */
  headline: Record<string, number | string | boolean | null>;
}
