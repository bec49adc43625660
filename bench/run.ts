/**
 * The benchmark harness (issue 6): reliable-dgram beside raw node:dgram, TCP and udx-native.
 *
 *   node --import tsx bench/run.ts [--quick] [--only bulk,pingpong,impair,many,chat] [--contenders ...]
 *
 * Prints a progress line (stderr) while running, then the tables; writes
 * bench/results/latest.json; on a full run also docs/performance.md and its charts in docs/perf/.
 * The last line on stdout is one JSON object with every headline figure and ratio.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, USAGE, type Args } from './lib/args.js';
import { describeMachine } from './lib/machine.js';
import { clearProgress, progress } from './lib/progress.js';
import { addNodeArgsForChildren, benchChildScript, childCommand, killAllChildren, setChildRuntime } from './lib/spawn.js';
import { keepChildBundle } from './lib/child-build.js';
import { CHARTS_DIR, DOCS_DIR, RESULTS_DIR, REPO_ROOT } from './lib/paths.js';
import { buildHeadline } from './lib/headline.js';
import { buildTables } from './lib/tables.js';
import { textTable } from './lib/format.js';
import { renderCharts } from './lib/charts.js';
import { renderPerformanceMd } from './lib/report.js';
import type { BenchResults } from './lib/results.js';
import type { BenchContext } from './workloads/context.js';
import { runBulk } from './workloads/bulk.js';
import { runPingPong } from './workloads/pingpong.js';
import { runImpair } from './workloads/impair.js';
import { runMany } from './workloads/many.js';
import { runChat } from './workloads/chat.js';

process.on('SIGINT', () => {
  killAllChildren();
  clearProgress();
  process.stderr.write('interrupted\n');
  process.exit(130);
});
process.on('exit', killAllChildren);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.cpuProf) {
    const dir = path.join(RESULTS_DIR, 'profiles');
    mkdirSync(dir, { recursive: true });
    addNodeArgsForChildren(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    // The profiles' lines point into the children's bundle: keep it until the next run.
    keepChildBundle();
  }
  const results = args.from === undefined ? await runAll(args) : (JSON.parse(readFileSync(args.from, 'utf8')) as BenchResults);
  if (args.from !== undefined) results.headline = buildHeadline(results);
  await publish(results, args);
}

async function runAll(args: Args): Promise<BenchResults> {
  const started = new Date();
  const machine = describeMachine();
  // Every child of this run, every contender alike, runs from one bundle of the current sources
  // (bench/lib/child-build.ts), built now: a build error ends the run before any workload.
  setChildRuntime(args.children);
  const buildStarted = Date.now();
  benchChildScript();
  const ctx: BenchContext = { quick: args.quick, contenders: args.contenders, unavailable: new Map(), notes: [], deadlineAt: 0 };
  const flags = process.argv.slice(2).join(' ');
  const results: BenchResults = {
    schema: 1,
    startedAt: started.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    quick: args.quick,
    command: `node --import tsx bench/run.ts${flags ? ' ' + flags : ''}`,
    children: childCommand(args.children),
    machine,
    contenders: {},
    notes: ctx.notes,
    workloads: {},
    headline: {},
  };
  progress(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}${args.quick ? ', quick mode' : ''}`);
  if (args.children === 'bundle') progress(`children: node <bundle of bench/child.ts> (built in ${Date.now() - buildStarted} ms)`);
  if (machine.cores <= 2) {
    ctx.notes.push(`${machine.cores} logical CPUs shared by up to 3 benchmark processes and anything else running: expect noise`);
  }

  // Quick mode must end within 2 minutes on 2 cores (CI): each workload gets a time budget after
  // which it starts no new run. Full runs get generous ones, only to stop a hung contender.
  const budget = (quickSeconds: number, fullMinutes: number): number =>
    Date.now() + (args.quick ? quickSeconds * 1000 : fullMinutes * 60_000);
  const w = results.workloads;
  if (args.only.includes('bulk')) w.bulk = await runBulk({ ...ctx, deadlineAt: budget(18, 10) });
  if (args.only.includes('pingpong')) w.pingpong = await runPingPong({ ...ctx, deadlineAt: budget(26, 10) });
  if (args.only.includes('impair')) w.impair = await runImpair({ ...ctx, deadlineAt: budget(22, 20) });
  if (args.only.includes('many')) w.many = await runMany({ ...ctx, deadlineAt: budget(12, 10) });
  // The chat load test is one vitest run (start-up, a PostgreSQL server, 2 s of load, teardown):
  // 17 s was too short on a busy 2-core machine, where it printed its figures and was killed in
  // its teardown (stop 32). 24 s keeps the quick total under 2 minutes (18 + 26 + 22 + 12 + 24).
  if (args.only.includes('chat')) w.chat = await runChat({ ...ctx, deadlineAt: budget(24, 10) });

  for (const name of args.contenders) {
    const reason = ctx.unavailable.get(name);
    results.contenders[name] = reason === undefined ? { available: true } : { available: false, reason };
  }
  const finished = new Date();
  results.finishedAt = finished.toISOString();
  results.durationSeconds = (finished.getTime() - started.getTime()) / 1000;
  results.headline = buildHeadline(results);

  return results;
}

async function publish(results: BenchResults, args: Args): Promise<void> {
  progress('rendering charts');
  const tables = buildTables(results);
  const charts = await renderCharts(results);
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (args.from === undefined) writeFileSync(path.join(RESULTS_DIR, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  // Charts of runs that do not update the docs stay beside the results (CI still renders them).
  const chartDir = args.docs ? CHARTS_DIR : RESULTS_DIR;
  mkdirSync(chartDir, { recursive: true });
  for (const [file, svg] of charts) writeFileSync(path.join(chartDir, file), svg);
  if (args.docs) {
    writeFileSync(path.join(CHARTS_DIR, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    writeFileSync(path.join(DOCS_DIR, 'performance.md'), renderPerformanceMd(results, tables, [...charts.keys()]));
  }
  clearProgress();

  const out: string[] = [''];
  for (const t of tables) out.push(textTable(t.title, t.header, t.rows), '');
  const targets = Object.entries(results.headline).filter(([k]) => k.startsWith('target.'));
  out.push(textTable('Targets (issues 11 and 13)', ['target', 'verdict'], targets.map(([k, v]) => [k.slice(7), String(v)])), '');
  if (results.notes.length > 0) out.push('Notes:', ...results.notes.map((n) => `  - ${n.replace(/\s+/g, ' ').slice(0, 300)}`), '');
  const rel = (p: string): string => path.relative(REPO_ROOT, p);
  out.push(`Results: ${rel(path.join(RESULTS_DIR, 'latest.json'))}; charts: ${rel(chartDir)}/*.svg${args.docs ? `; docs: ${rel(path.join(DOCS_DIR, 'performance.md'))}` : ''}`);
  out.push(args.from === undefined ? `Took ${Math.round(results.durationSeconds)} s.` : `Re-rendered from ${args.from}.`);
  console.log(out.join('\n'));
  // The last line: one JSON object with every headline figure and ratio.
  console.log(JSON.stringify(results.headline));
}

main().catch((err: unknown) => {
  killAllChildren();
  clearProgress();
  const message = err instanceof Error ? err.message : String(err);
  console.error(message);
  // Even a failed run ends with one JSON line, so a script reading the last line learns why.
  console.log(JSON.stringify({ error: message.split('\n')[0] }));
  process.exit(1);
});
