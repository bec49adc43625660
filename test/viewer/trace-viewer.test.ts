import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TraceRecorder } from '../../src/testing/trace-recorder.js';
import { analyze, formatSummary } from '../../src/viewer/analyze.js';
import { parseQlog, QlogParseError } from '../../src/viewer/parse.js';
import { Pair } from '../helpers/pair.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rd-viewer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 1 MiB over a 4 Mbit/s, 5 % loss path, traced; returns the dumped client file and the stats. */
function tracedTransfer(): { file: string; pair: Pair } {
  const rec = new TraceRecorder();
  const pair = new Pair({
    seed: 5,
    link: { delay: 15, loss: 0.05, rate: 4_000_000 / 8, queue: 32 * 1024 },
    config: { idleTimeout: 0, keepAliveInterval: 0 },
    trace: rec,
  });
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 16; i++) pair.a.send(chunk);
  pair.runUntil(() => pair.sides[1].deliveredBytes >= 1024 * 1024, 600_000);
  pair.a.close(pair.now);
  pair.runUntil(() => pair.a.state === 'closed' && pair.b.state === 'closed', 600_000);
  const [clientFile] = rec.dump(dir, 'viewer');
  return { file: clientFile!, pair };
}

describe('reliable-dgram-trace (the viewer)', () => {
  const { file, pair } = tracedTransfer();

  it('summarises path-MTU discovery from connectivity:mtu_updated (a 1,400-byte link)', () => {
    const rec = new TraceRecorder();
    const p = new Pair({ seed: 3, link: { delay: 10, mtu: 1400 }, config: { idleTimeout: 0, keepAliveInterval: 0, maxDatagramSize: 1452 }, trace: rec });
    p.a.send(new Uint8Array(2_000_000));
    p.runUntil(() => p.sides[1].deliveredBytes >= 2_000_000, 600_000);
    const [f] = rec.dump(dir, 'viewer-mtu');
    const { summary } = analyze(parseQlog(readFileSync(f!, 'utf8')));
    const s = p.a.stats();
    expect(summary.pathMtu).toEqual({ last: s.pathMtu, changes: s.pathMtuChanges, blackHoles: 0 });
    expect(formatSummary(summary)).toMatch(new RegExp(`path MTU +${s.pathMtu} B at the end, ${s.pathMtuChanges} change`));
    // Without mtu_updated events, no line.
    expect(formatSummary({ ...summary, pathMtu: null })).not.toMatch(/path MTU/);
  });

  it('the summary of a trace agrees with the sender’s stats()', () => {
    const s = pair.a.stats();
    const { summary, timeSequence, window, rtt } = analyze(parseQlog(readFileSync(file, 'utf8')));
    expect(summary.vantagePoint).toBe('client');
    expect(summary.packetsSent).toBe(s.packetsSent);
    expect(summary.packetsLost).toBe(s.packetsLost);
    expect(summary.packetsReceived).toBe(s.packetsReceived);
    expect(summary.dataBytesRetransmitted).toBe(s.bytesRetransmitted);
    expect(summary.dataBytesSent).toBe(1024 * 1024);
    expect(summary.dataBytesAcked).toBe(1024 * 1024);
    expect(summary.goodput).toBeGreaterThan(0);
    expect(summary.goodput).toBeLessThanOrEqual(4_000_000 / 8);
    expect(summary.timeBlocked).toEqual({
      congestion_window: s.timeBlockedByCongestion,
      pacing: s.timeBlockedByPacing,
      flow_control: s.timeBlockedByFlowControl,
      application: s.timeAppLimited,
    });
    expect(summary.finalState).toBe('closed');
    for (const series of ['sent', 'acknowledged', 'retransmitted', 'lost']) {
      expect(timeSequence.some((p) => p.series === series), series).toBe(true);
    }
    // Cumulative series never go down, and the last acknowledged point is the whole transfer.
    const acked = timeSequence.filter((p) => p.series === 'acknowledged');
    for (let i = 1; i < acked.length; i++) expect(acked[i]!.value).toBeGreaterThanOrEqual(acked[i - 1]!.value);
    expect(acked.at(-1)!.value).toBeCloseTo((1024 * 1024) / 1e6, 6);
    expect(window.some((p) => p.series === 'congestion window')).toBe(true);
    expect(rtt.some((p) => p.series === 'latest (sample)')).toBe(true);
    expect(formatSummary(summary)).toMatch(/goodput .*\nloss .*\nretransmissions|goodput/);
  });

  it('the CLI prints the summary and writes the three SVG charts', async () => {
    const out = join(dir, 'charts');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/bin/trace.ts', file, '--out', out], { timeout: 60_000 });
    expect(stdout).toMatch(/^goodput /m);
    expect(stdout).toMatch(/^loss +\d+ packets lost/m);
    expect(stdout).toMatch(/^time blocked +congestion window/m);
    const svgs = readdirSync(out).sort();
    const name = basename(file, '.sqlog');
    expect(svgs).toEqual([`${name}.congestion.svg`, `${name}.rtt.svg`, `${name}.time-sequence.svg`]);
    for (const f of svgs) {
      const svg = readFileSync(join(out, f), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toContain('<path'); // something was drawn
    }
  }, 60_000);

  it('--json prints the summary as JSON; a file that is not qlog is refused with exit code 1', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/bin/trace.ts', file, '--no-charts', '--json'], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ vantagePoint: 'client', packetsLost: pair.a.stats().packetsLost });
    const bad = join(dir, 'bad.qlog');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'hello'));
    await expect(run(process.execPath, ['--import', 'tsx', 'src/bin/trace.ts', bad], { timeout: 60_000 })).rejects.toMatchObject({ code: 1 });
    expect(() => parseQlog('hello')).toThrow(QlogParseError);
  }, 60_000);

  it('reads the qlog JSON form too (other stacks), and skips a truncated last JSON-SEQ record', () => {
    const json = JSON.stringify({
      qlog_version: '0.3',
      traces: [{ vantage_point: { type: 'server' }, events: [{ time: 1, name: 'transport:packet_sent', data: { header: { packet_number: 0 }, raw: { length: 1200 } } }] }],
    });
    const t = parseQlog(json);
    expect(t.vantagePoint).toBe('server');
    expect(analyze(t).summary.packetsSent).toBe(1);
    const text = readFileSync(file, 'utf8');
    const cut = text.slice(0, text.length - 20);
    expect(parseQlog(cut).events.length).toBe(parseQlog(text).events.length - 1);
  });
});
