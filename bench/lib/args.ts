/** Command-line options of bench/run.ts. */
import { CONTENDER_NAMES, type ContenderName } from '../contenders/index.js';
import { WORKLOADS, type WorkloadName } from './results.js';
import { CHILD_RUNTIMES, getChildRuntime, type ChildRuntime } from './spawn.js';

export interface Args {
  quick: boolean;
  only: WorkloadName[];
  contenders: ContenderName[];
  /** Write docs/performance.md and docs/perf/*: default for full, unfiltered runs. */
  docs: boolean;
  /** Re-render tables, charts and docs from a saved results file instead of running. */
  from: string | undefined;
  /** Write a V8 CPU profile of every child process into bench/results/profiles/. */
  cpuProf: boolean;
  /** How the benchmark children run: an esbuild bundle in plain node (default) or under tsx. */
  children: ChildRuntime;
  help: boolean;
}

export const USAGE = `usage: node --import tsx bench/run.ts [--quick] [--only ${WORKLOADS.join(',')}]
                                   [--contenders ${CONTENDER_NAMES.join(',')}] [--docs | --no-docs]
  --quick        CI size: 10 MB bulk, 1,000 trips, 2 MB impaired at 0/5/20 %, 500 connections (< 2 min)
  --only         run only these workloads (comma-separated)
  --contenders   run only these contenders (comma-separated)
  --docs         rewrite docs/performance.md and docs/perf/* (default only for a full run of everything)
  --no-docs      never touch docs/; results still go to bench/results/latest.json
  --cpu-prof     profile every child (node --cpu-prof) into bench/results/profiles/
  --children     bundle (default): every child is \`node <esbuild bundle of bench/child.ts>\`, built
                 fresh at the start of the run, as users run the published build; tsx: the old
                 \`node --import tsx bench/child.ts\` (for comparison: tsx's heap is not the user's)
  --from FILE    run nothing: re-render tables, charts and (with --docs) docs from a results JSON`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] {
  if (value === undefined) throw new RangeError(`${flag} needs a value\n${USAGE}`);
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new RangeError(`${flag}: unknown '${item}' (choose from ${allowed.join(', ')})`);
  }
  return items as T[];
}

function one<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T {
  if (value === undefined || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`${flag}: ${value === undefined ? 'needs a value' : `unknown '${value}'`} (choose one of ${allowed.join(', ')})`);
  }
  return value as T;
}

export function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let only: WorkloadName[] | undefined;
  let contenders: ContenderName[] | undefined;
  let docs: boolean | undefined;
  let help = false;
  let from: string | undefined;
  let cpuProf = false;
  let children: ChildRuntime | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--quick': quick = true; break;
      case '--only': only = list(value(), WORKLOADS, '--only'); break;
      case '--contenders': contenders = list(value(), CONTENDER_NAMES, '--contenders'); break;
      case '--docs': docs = true; break;
      case '--no-docs': docs = false; break;
      case '--from': from = value(); break;
      case '--cpu-prof': cpuProf = true; break;
      case '--children': children = one(value(), CHILD_RUNTIMES, '--children'); break;
      case '--help': case '-h': help = true; break;
      default: throw new RangeError(`unknown option '${argv[i]}'\n${USAGE}`);
    }
  }
  const everything = only === undefined && contenders === undefined;
  return {
    quick,
    only: only ?? [...WORKLOADS],
    contenders: contenders ?? [...CONTENDER_NAMES],
    docs: docs ?? (everything && !quick && from === undefined),
    from,
    cpuProf,
    children: children ?? getChildRuntime(),
    help,
  };
}
