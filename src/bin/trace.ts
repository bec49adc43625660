#!/usr/bin/env node
/**
 * reliable-dgram-trace: draw a qlog trace (from `qlogDir`, the test kit, or another QUIC stack's
 * qlog 0.3 file) as SVG charts and print a short summary. See `--help` and docs/testing.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { analyze, formatSummary } from '../viewer/analyze.js';
import { congestionSpec, loadRenderer, MissingRendererError, rttSpec, timeSequenceSpec } from '../viewer/charts.js';
import { parseQlog, QlogParseError } from '../viewer/parse.js';

const USAGE = `usage: reliable-dgram-trace <file.sqlog|file.qlog> [--out dir] [--no-charts] [--json]

Reads a qlog trace (JSON-SEQ as written by createEndpoint({ qlogDir }), or qlog JSON),
prints a summary (goodput, loss, retransmissions, time blocked per cause) and writes
three SVG charts next to the file (or into --out dir):
  <name>.time-sequence.svg  bytes sent, acknowledged, retransmitted, lost over time
  <name>.congestion.svg     congestion window, bytes in flight, pacing rate over time
  <name>.rtt.svg            RTT samples, smoothed and min RTT over time
Charts need the optional peer dependencies vega and vega-lite.
The same files open in qvis (https://qvis.quictools.info).

  --out dir     directory for the SVG files (created if missing)
  --no-charts   only print the summary
  --json        print the summary as JSON
`;

interface Args {
  file: string;
  out: string | undefined;
  charts: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Args | 'help' {
  let file: string | undefined;
  let out: string | undefined;
  let charts = true;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--out') {
      out = argv[++i];
      if (out === undefined) throw new Error('--out needs a directory');
    } else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--no-charts') charts = false;
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new Error(`one trace file at a time (got ${file} and ${a})`);
  }
  if (file === undefined) throw new Error('no trace file given');
  return { file, out, charts, json };
}

async function main(): Promise<void> {
  let args: Args | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`reliable-dgram-trace: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  let text: string;
  try {
    text = await readFile(args.file, 'utf8');
  } catch (err) {
    process.stderr.write(`reliable-dgram-trace: cannot read ${args.file}: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  let analysis;
  try {
    analysis = analyze(parseQlog(text));
  } catch (err) {
    if (!(err instanceof QlogParseError)) throw err;
    process.stderr.write(`reliable-dgram-trace: ${args.file} is not a qlog file: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(args.json ? JSON.stringify(analysis.summary, null, 2) + '\n' : formatSummary(analysis.summary));
  if (!args.charts) return;

  let render;
  try {
    render = await loadRenderer();
  } catch (err) {
    if (!(err instanceof MissingRendererError)) throw err;
    process.stderr.write(`reliable-dgram-trace: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  const out = args.out ?? dirname(args.file);
  await mkdir(out, { recursive: true });
  const name = basename(args.file).replace(/\.(sqlog|qlog|json)$/, '');
  const title = `${name} (${analysis.summary.vantagePoint})`;
  const charts = [
    ['time-sequence', timeSequenceSpec(analysis, title)],
    ['congestion', congestionSpec(analysis, title)],
    ['rtt', rttSpec(analysis, title)],
  ] as const;
  for (const [kind, spec] of charts) {
    if (spec === null) continue;
    const path = join(out, `${name}.${kind}.svg`);
    await writeFile(path, await render(spec));
    process.stderr.write(`wrote ${path}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`reliable-dgram-trace: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
