/**
 * Writes docs/performance.md from a results object: machine, exact command, tables, charts,
 * targets, method and profiling instructions. The hand-written analysis lives in
 * bench/analysis.md and is included verbatim, so regenerating never loses it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchResults } from './results.js';
import type { Table } from './tables.js';
import { markdownTable } from './format.js';
import { BENCH_DIR, CHARTS_DIR } from './paths.js';

function machineSection(r: BenchResults): string {
  const m = r.machine;
  return [
    '## Machine',
    '',
    markdownTable(
      ['', ''],
      [
        ['CPU', m.cpuModel],
        ['Cores (logical)', String(m.cores)],
        ['Memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Node.js', `${m.node} (V8 ${m.v8})`],
        ['udx-native', m.udxNative ?? 'not installed'],
        ['net.core.rmem_max', m.rmemMaxBytes === null ? 'unknown' : `${m.rmemMaxBytes} B`],
        ['Load average at start (1/5/15 min)', m.loadAverage.join(' / ')],
        ['Commit measured', m.commit ?? 'not recorded'],
        ['Run', `${r.startedAt} → ${r.finishedAt} (${Math.round(r.durationSeconds)} s)${r.quick ? ', quick mode' : ''}`],
      ],
      'left',
    ),
  ].join('\n');
}

function targetsSection(r: BenchResults): string {
  const rows = Object.entries(r.headline)
    .filter(([k]) => k.startsWith('target.'))
    .map(([k, v]) => [k.slice('target.'.length), String(v)]);
  return ['## Targets (issues 11 and 13), judged on this run', '', markdownTable(['target', 'verdict'], rows, 'left')].join('\n');
}

function tableMarkdown(t: Table): string {
  return [`### ${t.title}`, '', markdownTable(t.header, t.rows)].join('\n');
}

/** How the children ran: results saved before \`children\` was recorded ran under tsx. */
function childrenText(r: BenchResults): string {
  if (r.children === undefined || r.children.includes('tsx')) return 'spawned as `node --import tsx bench/child.ts <spec>`';
  return (
    'spawned as plain `node <bundle> <spec>`: bench/child.ts, the contenders and the library from `src/` bundled by esbuild ' +
    'at the start of the run (as `dist/` is built; npm packages such as udx-native load from node_modules), so every ' +
    'contender runs in the process a user runs, not under tsx'
  );
}

const METHOD = `## Method

- Every benchmark runs sender and receiver (client and server) as **separate Node processes** on
  127.0.0.1, CHILDREN; the parent only orchestrates.
  At most three children run at once. Each run is bounded by a hard timeout and its processes are
  killed before the next run starts.
- Contenders alternate within each round (the starting contender rotates), so slow drifts in
  machine load hit all of them alike. Figures are the **median and min–max over the runs**; ratios
  are median ÷ median, **subject ÷ reference** (for goodput higher is better; for latency, CPU and
  memory lower is better).
- **Bulk**: raw \`node:dgram\` sends 1200-byte datagrams unpaced (bursts of 512 without callbacks,
  one burst per event-loop turn) to a receiver with 4 MiB socket buffers; its figure is the receiver's rate from first to
  last datagram, with the loss beside it: this is the ceiling for any UDP transport in Node. TCP,
  udx-native and reliable-dgram write 64 KiB chunks and honour backpressure (\`write()\`/\`send()\`
  returning false, then \`'drain'\`); goodput is payload bytes from the sender's first write to the
  receiver's last byte (wall clock shared by both processes). CPU is \`process.cpuUsage()\` (user +
  system) per MB of payload, each side; RSS is the peak (\`ru_maxrss\`). Processes are not pinned.
- **Ping-pong**: one 64-byte message in flight at a time; the client times each round trip with
  \`process.hrtime.bigint()\`. Run twice: both processes pinned to CPU 0
  (\`taskset -c 0\`) and client on CPU 1 / server on CPU 0. TCP has Nagle off. Each run makes
  1,000 warm-up trips, then 20,000 timed ones, reported as two windows for every contender alike:
  trips 1,001–11,000 (the first tables: what a new process sees, including the JavaScript
  transports' JIT warm-up, which native code does not pay) and trips 11,001–21,000 (the
  "steady state" tables: by then V8 has compiled the hot path; see the analysis for how long
  that takes).
- **Impairment**: \`src/bin/impair.ts\` sits between sender and receiver with a fixed one-way delay
  and seeded random loss in both directions; only the UDP transports that recover from loss take
  part. Retransmitted bytes come from each transport's own counters (reliable-dgram:
  \`stats().bytesRetransmitted\`; udx-native: \`retransmits\` × mean packet size).
- **Many connections**: one server process, two client processes each opening half of the
  connections (256 handshakes in flight per process), each connection exchanging one 64-byte
  message. "Time to establish" runs from the first attempt to the last echo; heap per idle
  connection is the server's \`heapUsed\` growth after a full GC (\`--expose-gc\`), divided by the
  connections held. udx-native has no handshake, so its clients trade stream ids with a one-datagram
  hello on the socket.
- **Chat fan-out**: the chat example's load test (\`examples/chat/test/e2e/load.test.ts\`): the real
  chat server in its own process and 200 clients in 20 groups in the test process, each client
  sending every 200 ms on average; latency is from \`send()\` on one client to the message event on
  another, through the server. It also checks that every message reached every member exactly once.
  The p99 covers the whole 3-second send phase; beside it, the p99 of the messages sent in its first
  second (both processes still run cold code then) and of those sent after it.
- Numbers from a shared 2-vCPU virtual machine are noisy, and other work was running during
  these runs (see the load average above). Compare ratios within one run, not absolute figures across
  machines. Latency tails (p99, p99.9) are the most affected.`;

const PROFILING = `## Profiling: where the time goes

Profile one side of a benchmark with V8's sampling profiler; open the \`.cpuprofile\` in Chrome
DevTools (Performance panel → Load profile) or in VS Code:

\`\`\`sh
# 1. The quickest way: profile every child process of a run (one .cpuprofile per process,
#    named CPU.<date>.<time>.<pid>...; the sender and the receiver are the two of each run)
node --import tsx bench/run.ts --only bulk --contenders reliable-dgram --cpu-prof --no-docs
# the functions with the most self time, per profile, labelled with the role (sender, receiver, ...)
node --import tsx bench/profile-top.ts bench/results/profiles/*.cpuprofile --top 20

# 2. Or one role by hand: start a receiver, then a sender aimed at the port it prints
node --import tsx bench/child.ts '{"contender":"reliable-dgram","role":"bulkReceiver","options":{"host":"127.0.0.1","bytes":100000000}}'
node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/child.ts \\
  '{"contender":"reliable-dgram","role":"bulkSender","options":{"host":"127.0.0.1","port":PORT,"bytes":100000000,"chunk":65536}}'
\`\`\`

The children run from a bundle (bench/.build/child-<pid>/, kept after a \`--cpu-prof\` run until
the next run): function names are the sources', lines are the bundle's; \`--children tsx\` gives
source lines (each process then also writes a small second profile for tsx's loader thread;
ignore it), but profiles the tsx process rather than the one users run. To try an
engine option in every reliable-dgram endpoint of a run, set \`BENCH_RD_OPTIONS\`, for example
\`BENCH_RD_OPTIONS='{"pacing":false}'\`.

Look for allocation per packet (Buffer.alloc / subarray / closures in the send and receive paths),
one timer per packet, copies between frames and datagrams, and JSON or string work on the hot path.
\`--cpu-prof-interval 100\` (µs) gives finer samples for short runs.

A ping-pong tail that fades over the first few thousand trips is the JIT compiling the hot path:
\`node --import tsx bench/warmup.ts\` counts TurboFan compiles, deoptimisations (with function and
reason) and slow trips per 1,000-trip bucket in both processes.`;

export function renderPerformanceMd(r: BenchResults, tables: Table[], charts: string[]): string {
  const analysisPath = path.join(BENCH_DIR, 'analysis.md');
  const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8').trim() : '';
  // The simulator benchmark (bench/sim.ts, `npm run bench:sim -- --docs`) writes its own tables here.
  const simPath = path.join(CHARTS_DIR, 'sim.md');
  const sim = existsSync(simPath) ? readFileSync(simPath, 'utf8').trim() : '';
  // The hand-written reading of the channel figures (issue 12), shown after the simulator's tables.
  const channelsPath = path.join(CHARTS_DIR, 'channels.md');
  const channels = existsSync(channelsPath) ? readFileSync(channelsPath, 'utf8').trim() : '';
  // The trace viewer's showcase and the tracing overhead (bench/trace-demo.ts --docs) likewise.
  const tracePath = path.join(CHARTS_DIR, 'trace.md');
  const trace = existsSync(tracePath) ? readFileSync(tracePath, 'utf8').trim() : '';
  const chart = (file: string, alt: string): string => (charts.includes(file) ? `\n![${alt}](perf/${file})\n` : '');
  const byTitle = (prefix: string): string =>
    tables
      .filter((t) => t.title.startsWith(prefix))
      .map(tableMarkdown)
      .join('\n\n');
  const unavailable = Object.entries(r.contenders).filter(([, c]) => !c.available);
  const parts = [
    '# Performance',
    '',
    '<!-- Generated by bench/run.ts from docs/perf/results.json. Do not edit by hand: edit bench/analysis.md or the harness, then rerun. -->',
    '',
    'reliable-dgram measured beside raw `node:dgram` (the physical limit), TCP via `node:net` (what a user would pick instead) and',
    '[udx-native](https://github.com/holepunchto/udx-native) (a native C transport over UDP), in the same run, on the machine below.',
    '',
    '**Command** (from the repository root; `npm run bench` runs the same, `npm run bench -- --quick` the CI-sized version):',
    '',
    '```sh',
    r.command,
    '```',
    '',
    machineSection(r),
    '',
    unavailable.length > 0
      ? `**Not measured in this run:** ${unavailable.map(([n, c]) => `${n} (${c.reason ?? 'unavailable'})`).join('; ')}.\n`
      : '',
    targetsSection(r),
    '',
    analysis ? `## Analysis\n\n${analysis.replace(/^# .*\n+/, '')}\n` : '',
    '## Bulk transfer',
    '',
    byTitle('Bulk'),
    chart('bulk-goodput.svg', 'Bulk goodput per contender'),
    '## Latency: ping-pong',
    '',
    byTitle('Ping-pong'),
    chart('latency-distribution.svg', 'Round-trip time distribution per contender and CPU placement'),
    '## Under impairment',
    '',
    r.workloads.impair?.available ? byTitle('Through the impairment proxy') : `Not run: ${r.workloads.impair?.reason ?? 'not selected'}.`,
    chart('goodput-vs-loss.svg', 'Goodput versus loss rate through the impairment proxy'),
    '',
    sim ? `## Congestion control in the simulator (virtual time)\n\n${sim}\n` : '',
    channels ? `${channels}\n` : '',
    trace ? `## Traces: what a lossy transfer looks like, and what tracing costs\n\n${trace}\n` : '',
    '## Many connections',
    '',
    r.workloads.many ? byTitle('Many connections') : 'Not run in this invocation.',
    '',
    '## Chat fan-out',
    '',
    r.workloads.chat?.available ? byTitle('Chat fan-out') : `Not run: ${r.workloads.chat?.reason ?? 'not selected'}.`,
    '',
    METHOD.replace('CHILDREN', childrenText(r)),
    '',
    PROFILING,
    '',
    r.notes.length > 0 ? `## Notes from this run\n\n${r.notes.map((n) => `- ${n.replace(/\s+/g, ' ').slice(0, 400)}`).join('\n')}\n` : '',
    `Raw results: [perf/results.json](perf/results.json).`,
    '',
  ];
  return parts.filter((p, i, all) => !(p === '' && all[i - 1] === '')).join('\n');
}
