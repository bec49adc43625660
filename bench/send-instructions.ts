/**
 * The bulk sender's instructions per datagram through the whole stack (the engine, the Node shell,
 * node:dgram's send, V8), counted rather than timed (issue 11): bench/recv-instructions.ts's pair
 * the other way round — the sender under `valgrind --tool=callgrind` with `--perf-basic-prof`
 * (`--single-threaded`: compile jobs and GC on the main thread, where valgrind sees them), the
 * receiver beside it at full speed. Two sizes; per datagram = (count at B MB − count at A MB) ÷
 * (datagrams sent at B − at A), split by class (our JIT code by function, node's JavaScript,
 * V8 builtins and the interpreter, TurboFan, GC, CRC-32, the rest of C/C++), with the top
 * functions by self cost.
 *
 *   node --import tsx bench/send-instructions.ts [--a 10] [--b 30] [--root DIR] [--top 40] [--keep] [--side receiver]
 *
 * `--side receiver` measures the receiver instead (under callgrind, the sender at full speed): per
 * datagram received, the same classes ("the other way" is then the ACKs it sent per datagram).
 *
 * `--root DIR` bundles another checkout's src (a copy of main, for a before/after pair; this
 * file's bench/recv-instructions.ts is used as the entry either way). JIT addresses are named from
 * the perf map (the newest entry covering the address: V8 reuses code space; the sender copies its
 * map through V8's open descriptor before it exits). Not timed, not part
 * of `npm run bench`: ACK counts depend on timing, so repeats differ by ~1 % in all, less per
 * function.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, stringOption } from './lib/script-options.js';

const args = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const root = stringOption(args, 'root', join(here, '..'));
const sizes = [numberOption(args, 'a', 10), numberOption(args, 'b', 30)];
const top = numberOption(args, 'top', 40);
const keep = args.includes('--keep');
/** `--side receiver`: the receiver under callgrind instead, the sender at full speed (per datagram received). */
const side = stringOption(args, 'side', 'sender');
const dir = mkdtempSync(join(tmpdir(), 'send-instructions-'));

/** One perf-map entry: [start, end) and the name V8 gave the code. */
interface MapEntry { start: number; end: number; name: string; order: number }

function bundle(): string {
  const entry = join(root, 'bench', '.send-instructions-entry.ts');
  copyFileSync(join(here, 'recv-instructions.ts'), entry);
  const out = join(dir, 'ri.mjs');
  try {
    execFileSync(join(here, '..', 'node_modules', '.bin', 'esbuild'),
      [entry, '--bundle', '--platform=node', '--format=esm', `--outfile=${out}`, '--log-level=warning'], { stdio: 'inherit' });
  } finally {
    rmSync(entry, { force: true });
  }
  return out;
}

async function run(bundled: string, mb: number): Promise<{ cg: string; map: string; sent: number; received: number }> {
  const portFile = join(dir, `port.${mb}`);
  const cg = join(dir, `cg.${mb}`);
  const map = join(dir, `perf.${mb}.map`);
  const valgrind = ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${cg}`, '--log-file=/dev/null',
    'node', '--single-threaded', '--perf-basic-prof'];
  if (side === 'receiver') {
    const receiver = spawn('valgrind', [...valgrind, bundled, 'receiver', portFile, String(mb)],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir, env: { ...process.env, SEND_INSTRUCTIONS_MAP: map } });
    let out = '';
    receiver.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((resolve) => receiver.on('exit', () => resolve()));
    for (let i = 0; i < 600 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    const sender = spawn('node', [bundled, 'sender', readFileSync(portFile, 'utf8'), String(mb)], { stdio: ['ignore', 'ignore', 'inherit'] });
    await exited;
    sender.kill();
    const report = JSON.parse(out.trim().split('\n').pop()!) as { packetsSent: number; packetsReceived: number };
    rmSync(`/tmp/perf-${receiver.pid}.map`, { force: true });
    // Named as the sender's side: "sent" is the measured side's datagrams (here received), "received" the other way.
    return { cg, map, sent: report.packetsReceived, received: report.packetsSent };
  }
  const receiver = spawn('node', [bundled, 'receiver', portFile, String(mb), '5000'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const received = new Promise<void>((resolve) => receiver.on('exit', () => resolve()));
  for (let i = 0; i < 300 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 100));
  const sender = spawn('valgrind', [...valgrind, bundled, 'sender', readFileSync(portFile, 'utf8'), String(mb)],
  { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir, env: { ...process.env, SEND_INSTRUCTIONS_MAP: map } });
  let out = '';
  sender.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((resolve) => sender.on('exit', () => resolve()));
  receiver.kill();
  await received;
  const report = JSON.parse(out.trim().split('\n').pop()!) as { packetsSent: number; packetsReceived: number };
  rmSync(`/tmp/perf-${sender.pid}.map`, { force: true });
  return { cg, map, sent: report.packetsSent, received: report.packetsReceived };
}

function readMap(path: string): MapEntry[] {
  const entries: MapEntry[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, order) => {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) entries.push({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]!, order });
  });
  return entries.sort((a, b) => a.start - b.start || a.order - b.order);
}

/** The newest map entry covering `addr` (entries sorted by start). */
function lookup(map: MapEntry[], addr: number): string | null {
  let lo = 0, hi = map.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (map[mid]!.start <= addr) lo = mid + 1; else hi = mid; }
  let best: MapEntry | null = null;
  for (let i = lo - 1; i >= 0 && i >= lo - 64; i--) {
    const e = map[i]!;
    if (addr < e.end && (best === null || e.order > best.order)) best = e;
  }
  return best?.name ?? null;
}

/** Self cost per function name from a callgrind file (`calls=` lines' next line is inclusive: skipped). */
function selfCosts(path: string, map: MapEntry[]): Map<string, number> {
  const names = new Map<string, string>();
  const costs = new Map<string, number>();
  let fn = '';
  let skip = false;
  const define = (kind: string, ref: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(ref);
    if (!m) return ref;
    const key = `${kind}${m[1]}`;
    if (m[2] !== undefined) names.set(key, m[2]);
    return names.get(key) ?? ref;
  };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) {
      const name = define('fn', line.slice(3));
      const addr = /^0x([0-9a-f]+)$/.exec(name);
      fn = addr ? lookup(map, parseInt(addr[1]!, 16)) ?? 'JIT ???' : name;
    } else if (line.startsWith('cfn=')) define('fn', line.slice(4));
    else if (line.startsWith('calls=')) skip = true;
    else if (/^[0-9+\-*]/.test(line)) {
      if (skip) { skip = false; continue; }
      const parts = line.split(' ');
      if (parts.length >= 2) costs.set(fn, (costs.get(fn) ?? 0) + Number(parts[1]));
    }
  }
  return costs;
}

const CLASSES: [string, (f: string) => boolean][] = [
  ['our JIT code (TurboFan)', (f) => f.startsWith('JS:*') && f.includes('ri.mjs')],
  ['our code, baseline/interpreted', (f) => /^JS:[~^+]/.test(f) && f.includes('ri.mjs')],
  ['node:dgram JS (compiled)', (f) => f.startsWith('JS:') && /node:dgram|node:internal\/dgram|async_hooks/.test(f)],
  ['node JS other', (f) => f.startsWith('JS:')],
  ['builtins', (f) => f.startsWith('Builtin:') || f.startsWith('Builtins_')],
  ['interpreter', (f) => f.startsWith('BytecodeHandler:')],
  ['TurboFan', (f) => f.includes('v8::internal::compiler::')],
  ['GC', (f) => /v8::internal::(heap::|.*Scaveng|Heap::|Heap[A-Z]|.*MarkCompact|.*Marking|.*Sweep|.*Evacuat|.*Visitor|.*Space|GCTracer|MemoryChunk|MinorMC|.*Remembered|SlotSet|Page)/.test(f)],
  ['CRC-32', (f) => /crc32/i.test(f)],
  ['UDP send/receive (node, libuv, libc)', (f) => /UDPWrap|uv_udp|uv__udp|sendmsg|recvmsg|recvmmsg|SendWrap|uv__io|epoll/.test(f)],
  ['C/C++ other', () => true],
];

const bundled = bundle();
const runs = [];
for (const mb of sizes) runs.push(await run(bundled, mb));
const [c1, c2] = runs.map((r) => selfCosts(r.cg, readMap(r.map)));
const n = runs[1]!.sent - runs[0]!.sent;
const perFn = new Map<string, number>();
for (const [f, c] of c2!) perFn.set(f, c - (c1!.get(f) ?? 0));
for (const [f, c] of c1!) if (!c2!.has(f)) perFn.set(f, -c);
const perClass = new Map<string, number>();
let all = 0;
for (const [f, c] of perFn) {
  all += c;
  const cls = CLASSES.find(([, test]) => test(f))![0];
  perClass.set(cls, (perClass.get(cls) ?? 0) + c);
}
// Per-ACK work counts per datagram in proportion to this (valgrind's slow sender gets more ACKs per datagram than a real run's ~1 in 30).
const acksPer = (runs[1]!.received - runs[0]!.received) / n;
console.log(`${side}: datagrams ${side === 'receiver' ? 'received' : 'sent'} ${runs[0]!.sent} at ${sizes[0]} MB, ${runs[1]!.sent} at ${sizes[1]} MB (${acksPer.toFixed(3)} the other way per datagram); per datagram ${(all / n).toFixed(0)} instructions in all`);
for (const [cls] of CLASSES) console.log(`  ${cls.padEnd(32)} ${((perClass.get(cls) ?? 0) / n).toFixed(0).padStart(7)}`);
console.log(`top ${top} functions, self instructions per datagram:`);
[...perFn].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([f, c]) => console.log(`  ${(c / n).toFixed(1).padStart(8)}  ${f.slice(0, 110)}`));
console.log(JSON.stringify({ sent: runs.map((r) => r.sent), receivedPerSent: acksPer, all: all / n, classes: Object.fromEntries([...perClass].map(([k, v]) => [k, Math.round(v / n)])) }));
if (keep) console.log(`kept: ${dir}`);
else rmSync(dir, { recursive: true, force: true });
