import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { putText, qlogEventText } from '../../src/core/qlog-tracer.js';
import type { TraceDestination, TraceEvent, TraceSink, TracedConnection } from '../../src/core/trace.js';
import { TraceOutput } from '../../src/node/qlog.js';

const dir = mkdtempSync(join(tmpdir(), 'rd-qlog-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info = (cid: bigint): TracedConnection => ({ id: 1, role: 'client', localCid: cid, remoteCid: 2n, address: '10.0.0.2', port: 4433, now: 1000 });
const event = (time: number, i: number): TraceEvent => ({ time, name: 'transport:packet_sent', data: { header: { packet_number: i }, raw: { length: 1200 } } });

function records(path: string): { time?: number; name?: string; data?: Record<string, unknown> }[] {
  return readFileSync(path, 'utf8')
    .split('\x1e')
    .slice(1)
    .map((r) => JSON.parse(r) as { time?: number; name?: string; data?: Record<string, unknown> });
}

/** Feed event objects to a destination as the engine would: records to a file, objects to a callback. */
function sinkOf(destination: TraceDestination): TraceSink {
  if (typeof destination === 'function') return destination;
  return (e) => {
    if (destination.open()) putText(destination, qlogEventText(e, destination.origin));
    if (e.name === 'connectivity:connection_state_updated' && e.data['new'] === 'closed') destination.end(e.time);
  };
}

describe('TraceOutput (the qlogDir writer)', () => {
  it('writes the header, then every event with its time relative to the connection’s start, and finishes on close', async () => {
    const out = new TraceOutput(dir, undefined);
    const sink = sinkOf(out.connection(info(0xabcn))!);
    for (let i = 0; i < 1000; i++) sink(event(1000 + i * 0.5, i));
    sink({ time: 1600, name: 'connectivity:connection_state_updated', data: { old: 'draining', new: 'closed' } });
    await out.end();
    const [header, ...events] = records(join(dir, 'client-0000000000000abc.sqlog'));
    expect(header).toMatchObject({ qlog_version: '0.3', qlog_format: 'JSON-SEQ', trace: { vantage_point: { type: 'client' } } });
    expect(events).toHaveLength(1001);
    expect(events[0]).toEqual({ time: 0, name: 'transport:packet_sent', data: { header: { packet_number: 0 }, raw: { length: 1200 } } });
    expect(events[999]!.time).toBe(499.5);
    expect(out.openFiles).toEqual([]);
  });

  it('bounds its memory: a file too far behind the disk drops events and says how many in its last record', async () => {
    const out = new TraceOutput(dir, undefined, 1); // at most 1 byte may wait for the disk
    const sink = sinkOf(out.connection(info(0xdefn))!);
    const n = 5000; // ~0.4 MB of records: the first chunk goes to the stream, the rest must wait
    for (let i = 0; i < n; i++) sink(event(1000 + i, i));
    await out.end();
    const all = records(join(dir, 'client-0000000000000def.sqlog'));
    const last = all.at(-1)!;
    expect(last.name).toBe('reliable_dgram:trace_dropped');
    const written = all.length - 2; // header and the drop note
    expect(written).toBeGreaterThan(0);
    expect(written + (last.data!['events'] as number)).toBe(n);
  });

  it('hands events to the trace callback with their connection, and survives a callback that throws', () => {
    const seen: string[] = [];
    const out = new TraceOutput(undefined, (e, c) => {
      seen.push(`${c?.role}:${e.name}`);
      throw new Error('user bug');
    });
    const sink = sinkOf(out.connection(info(1n))!);
    expect(() => sink(event(1000, 0))).not.toThrow();
    out.endpoint!({ time: 0, name: 'transport:packet_dropped', data: { trigger: 'unknown-cid' } });
    expect(seen).toEqual(['client:transport:packet_sent', 'undefined:transport:packet_dropped']);
  });
});
