import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoint, type Connection } from '../../src/index.js';
import { dumpTraceOnFailure, Rng, SimNetwork, TraceRecorder } from '../../src/testing/index.js';
import { Pair } from '../helpers/pair.js';

let dir = '';
let saved: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rd-dump-'));
  saved = process.env['RD_QLOG_DIR'];
  process.env['RD_QLOG_DIR'] = dir;
});
afterAll(() => {
  if (saved === undefined) delete process.env['RD_QLOG_DIR'];
  else process.env['RD_QLOG_DIR'] = saved;
  rmSync(dir, { recursive: true, force: true });
});

/** A seeded run whose check fails: a stand-in for a property test that found a bug. */
function failingRun(trace: TraceRecorder | null): void {
  const pair = new Pair({ seed: 77, link: { delay: 10, loss: 0.1 }, config: { idleTimeout: 0, keepAliveInterval: 0 }, trace });
  pair.a.send(new Uint8Array(50_000));
  pair.runUntil(() => pair.sides[1].deliveredBytes >= 50_000, 60_000);
  expect(pair.a.stats().packetsLost, 'a deliberately wrong expectation').toBe(-1);
}

describe('dumpTraceOnFailure', () => {
  it('replays a failing seeded run with a recorder and writes its qlog files, named in the error', () => {
    let runs = 0;
    let message = '';
    try {
      dumpTraceOnFailure('demo', (trace) => {
        runs++;
        failingRun(trace);
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(runs).toBe(2); // once untraced, once traced
    expect(message).toContain('a deliberately wrong expectation');
    const paths = /qlog of the failing run: (.*)$/m.exec(message)![1]!.split(', ');
    expect(paths).toHaveLength(2);
    for (const p of paths) {
      expect(p.startsWith(dir)).toBe(true);
      const text = readFileSync(p, 'utf8');
      expect(text).toContain('"qlog_version":"0.3"');
      expect(text).toContain('transport:packet_sent');
    }
    // The sender's trace shows the losses the run went through.
    expect(readFileSync(paths.find((p) => p.includes('demo-client-'))!, 'utf8')).toContain('recovery:packet_lost');
  });

  it('records endpoints in a SimNetwork through the trace option (both sides, one trace per connection)', async () => {
    const recorder = new TraceRecorder();
    const net = new SimNetwork({ seed: 3, impairment: { delay: 5, loss: 0.1 } });
    const rng = new Rng(3);
    const randomBytes = (n: number): Uint8Array => rng.bytes(n);
    const trace = recorder.endpointTrace;
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes, trace });
    const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes, trace });
    let got = 0;
    server.on('connection', (c: Connection) => c.on('message', () => got++));
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
    for (let i = 0; i < 20; i++) conn!.send(`m${i}`);
    expect(await net.runUntilAsync(() => got === 20, 30_000)).toBe(true);
    expect(recorder.traces.map((t) => t.info.role).sort()).toEqual(['client', 'server']);
    expect(recorder.count('transport:packet_sent')).toBe(conn!.stats().packetsSent + server.connections[0]!.stats().packetsSent);
    const paths = recorder.dump(join(dir, 'endpoints'), 'sim');
    expect(paths.map((p) => p.replace(/.*\//, '').replace(/-[0-9a-f]{16}/, ''))).toEqual(
      recorder.traces.map((t) => `sim-${t.info.role}.sqlog`),
    );
    client.destroy();
    server.destroy();
  });

  it('runs once, untraced, when nothing fails; async runs are handled too', async () => {
    const seen: (TraceRecorder | null)[] = [];
    expect(dumpTraceOnFailure('ok', (t) => (seen.push(t), 42))).toBe(42);
    expect(seen).toEqual([null]);
    await expect(
      dumpTraceOnFailure('async', async (t) => {
        seen.push(t);
        failingRun(t);
      }),
    ).rejects.toThrow(/qlog of the failing run: .*async-client-/);
    expect(seen.slice(1).map((t) => t !== null)).toEqual([false, true]);
  });
});
