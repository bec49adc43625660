/**
 * Where each process's CPU goes in a bulk transfer, first half against second half, from a
 * `perf` profile of bench/warmup-bulk.ts (issue 11, the warm-up): per process, main thread vs
 * V8's other threads, samples classed as TurboFan (the compiler's C++), GC, JIT code (TurboFan's
 * and Sparkplug's output), builtins (inline caches, calls: what cold code spends its time in),
 * the interpreter, parsing, other V8/Node C++, libc, kernel.
 *
 *   perf record -k CLOCK_MONOTONIC -F 1999 -o /tmp/p.data -- node --import tsx bench/warmup-bulk.ts --no-trace
 *   perf script -i /tmp/p.data -F pid,tid,time,ip,sym,dso > /tmp/p.txt
 *   node --import tsx bench/perf-split.ts /tmp/p.txt FROM HALF TO     # the "window" warmup-bulk.ts printed (s)
 *
 * Sample counts become ms at the sampling rate (`--hz`, 1999 by default). Diagnostic only.
 */
import { readFileSync } from 'node:fs';
import { numberOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const [file, fromText, halfText, toText] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--hz');
if (file === undefined || toText === undefined) throw new Error('usage: perf-split.ts <perf script output> FROM HALF TO [--hz 1999]');
const hz = numberOption(args, 'hz', 1999);
const [from, half, to] = [Number(fromText), Number(halfText), Number(toText)];

function classOf(sym: string, dso: string): string {
  if (dso.includes('kernel')) return 'kernel';
  if (dso.includes('perf-') || (sym === '[unknown]' && !dso.includes('node'))) return 'jit code';
  if (/compiler::|turboshaft|Pipeline|CompilationJob/.test(sym)) return 'turbofan';
  if (/Scaveng|Heap::|Mark|Sweep|Evacuat|MinorGC|GCTracer|Remembered|SlotSet|PagedSpace|NewSpace/.test(sym)) return 'gc';
  if (sym.startsWith('Builtins_') && /Handler|Interpreter/.test(sym)) return 'interpreter';
  if (sym.startsWith('Builtins_Baseline') || sym.includes('baseline::')) return 'sparkplug';
  if (sym.startsWith('Builtins_')) return 'builtins';
  if (/interpreter::|BytecodeArray|Parser|Scanner|Preparse|parsing::/.test(sym)) return 'parse/bytecode';
  if (dso.includes('libc') || dso.includes('libstdc')) return 'libc';
  if (dso.includes('node')) return 'v8/node c++';
  return 'other';
}

const line = /^\s*(\d+)\/(\d+)\s+([\d.]+):\s+[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/;
/** process → "main|other class" → [first half, second half] samples. */
const byProcess = new Map<string, Map<string, [number, number]>>();
for (const text of readFileSync(file, 'utf8').split('\n')) {
  const m = line.exec(text);
  if (m === null) continue;
  const [, pid, tid, time, sym, dso] = m as unknown as [string, string, string, string, string, string];
  const t = Number(time);
  if (t < from || t > to) continue;
  const key = `${tid === pid ? 'main' : 'other'} ${classOf(sym.trim(), dso)}`;
  const p = byProcess.get(pid) ?? new Map<string, [number, number]>();
  byProcess.set(pid, p);
  const e = p.get(key) ?? [0, 0];
  e[t < half ? 0 : 1]++;
  p.set(key, e);
}
const ms = (n: number): string => String(Math.round((n / hz) * 1000)).padStart(6);
for (const [pid, p] of byProcess) {
  const rows = [...p].sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]));
  let first = 0;
  let second = 0;
  for (const [, e] of rows) [first, second] = [first + e[0], second + e[1]];
  if (first + second < (hz * 50) / 1000) continue; // not one of the two transfer processes
  console.log(`process ${pid}: CPU ms, first half / second half: ${ms(first).trim()} / ${ms(second).trim()}`);
  for (const [key, e] of rows) console.log(`  ${key.padEnd(28)}${ms(e[0])}${ms(e[1])}`);
}
