import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEndpoint, type Connection, type ConnectionStatsWithAddress } from '../../src/index.js';
import { Rng, SimNetwork } from '../../src/testing/index.js';
import { simPair } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rd-qlog-'));
  dirs.push(d);
  return d;
}

/** Parse a JSON-SEQ file: records start with RS (0x1E) and end with LF (RFC 7464). */
function parseJsonSeq(text: string): Record<string, unknown>[] {
  expect(text.startsWith('\x1e')).toBe(true);
  return text
    .split('\x1e')
    .slice(1)
    .map((r) => {
      expect(r.endsWith('\n')).toBe(true);
      return JSON.parse(r) as Record<string, unknown>;
    });
}

interface QlogEvent {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

async function lossyTransfer(qlogDir: string, bytes: number): Promise<{ client: ConnectionStatsWithAddress; server: ConnectionStatsWithAddress }> {
  const net = new SimNetwork({ seed: 516, impairment: { loss: 0.05, delay: 10, rate: 4_000_000 / 8, queue: 64 * 1024 } });
  const rng = new Rng(516);
  const random = (n: number): Uint8Array => rng.bytes(n);
  const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes: random, qlogDir });
  const client = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock, randomBytes: random, qlogDir });
  let received = 0;
  let serverConn: Connection | undefined;
  server.on('connection', (c: Connection) => {
    serverConn = c;
    c.on('message', (m: Buffer) => (received += m.length));
  });
  let conn: Connection | undefined;
  void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
  expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
  const chunk = Buffer.alloc(32 * 1024, 1);
  for (let sent = 0; sent < bytes; sent += chunk.length) conn!.send(chunk);
  expect(await net.runUntilAsync(() => received >= bytes, 600_000)).toBe(true);
  const closing = Promise.all([client.close(), server.close()]);
  expect(await net.runUntilAsync(() => client.closed && server.closed, 120_000)).toBe(true);
  await closing; // resolves once the qlog files are complete on disk
  return { client: conn!.stats(), server: serverConn!.stats() };
}

describe('qlogDir: one qlog file per connection', () => {
  it('a lossy simulated transfer writes qlog files with the schema fields, whose packet counts equal stats()', async () => {
    const dir = tempDir();
    const stats = await lossyTransfer(dir, 1024 * 1024);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^client-[0-9a-f]{16}\.sqlog$/);
    expect(files[1]).toMatch(/^server-[0-9a-f]{16}\.sqlog$/);
    for (const file of files) {
      const role = file.startsWith('client') ? 'client' : 'server';
      const [header, ...records] = parseJsonSeq(readFileSync(join(dir, file), 'utf8'));
      // The main schema's file header (qlog 0.3 JSON-SEQ).
      expect(header).toMatchObject({ qlog_version: '0.3', qlog_format: 'JSON-SEQ' });
      const trace = header!['trace'] as Record<string, Record<string, unknown>>;
      expect(trace['vantage_point']).toMatchObject({ type: role });
      expect(typeof trace['common_fields']!['reference_time']).toBe('number');
      expect(trace['common_fields']!['time_format']).toBe('relative');
      const events = records as unknown as QlogEvent[];
      let last = 0;
      for (const e of events) {
        expect(Object.keys(e).sort()).toEqual(['data', 'name', 'time']);
        expect(e.name).toMatch(/^(transport|recovery|connectivity|reliable_dgram):[a-z_]+$/);
        expect(e.time).toBeGreaterThanOrEqual(last);
        last = e.time;
      }
      const s = stats[role];
      const n = (name: string): number => events.filter((e) => e.name === name).length;
      expect(n('transport:packet_sent')).toBe(s.packetsSent);
      expect(n('transport:packet_received')).toBe(s.packetsReceived);
      expect(n('recovery:packet_lost')).toBe(s.packetsLost);
      expect(events.at(-1)).toMatchObject({ name: 'connectivity:connection_state_updated', data: { new: 'closed' } });
    }
    expect(stats.client.packetsLost).toBeGreaterThan(10);
  });

  it('real sockets on 127.0.0.1: both endpoints write their files, complete once close() resolved', async () => {
    const dir = tempDir();
    const server = await createEndpoint({ host: '127.0.0.1', qlogDir: dir });
    const client = await createEndpoint({ host: '127.0.0.1', qlogDir: join(dir, 'nested', 'client') });
    let got = 0;
    const done = new Promise<void>((resolve) => {
      server.on('connection', (c: Connection) =>
        c.on('message', (m: Buffer) => {
          got += m.length;
          if (got >= 200_000) resolve();
        }),
      );
    });
    const conn = await client.connect(server.address().port, '127.0.0.1');
    conn.send(Buffer.alloc(200_000, 3));
    await done;
    const sent = conn.stats().packetsSent;
    await Promise.all([client.close(), server.close()]);
    const clientFiles = readdirSync(join(dir, 'nested', 'client'));
    expect(clientFiles).toHaveLength(1);
    const events = parseJsonSeq(readFileSync(join(dir, 'nested', 'client', clientFiles[0]!), 'utf8')).slice(1) as unknown as QlogEvent[];
    expect(events.filter((e) => e.name === 'transport:packet_sent').length).toBeGreaterThanOrEqual(sent);
    expect(events.at(-1)).toMatchObject({ name: 'connectivity:connection_state_updated', data: { new: 'closed' } });
    expect(readdirSync(dir).filter((f) => f.startsWith('server-'))).toHaveLength(1);
  });

  it('an aborted connection: its file lists every packet it sent, the RESET sent after it closed included', async () => {
    const dir = tempDir();
    const { net, server, client, conn, peer: serverConn } = await simPair(12, { impairment: { delay: 5 }, client: { qlogDir: dir } });
    conn.send(Buffer.alloc(20_000, 1));
    await net.runUntilAsync(() => false, 100);
    conn.destroy(undefined, { reason: 'bye' });
    let peerClosed = false;
    serverConn.once('close', () => (peerClosed = true));
    serverConn.on('error', () => {}); // ERR_CONNECTION_RESET
    // The peer heard the RESET.
    expect(await net.runUntilAsync(() => peerClosed, 10_000)).toBe(true);
    const sent = conn.stats().packetsSent;
    // The file is finished a turn after the connection closed, or when the endpoint closes.
    await Promise.all([client.close(), server.close()]).catch(() => {});
    const [file] = readdirSync(dir);
    const events = parseJsonSeq(readFileSync(join(dir, file!), 'utf8')).slice(1) as unknown as QlogEvent[];
    const packets = events.filter((e) => e.name === 'transport:packet_sent');
    expect(packets).toHaveLength(sent);
    const closedAt = events.findIndex((e) => e.name === 'connectivity:connection_state_updated' && e.data['new'] === 'closed');
    const last = packets.at(-1)!;
    expect(events.indexOf(last)).toBeGreaterThan(closedAt);
    expect(last.data['frames']).toEqual([{ frame_type: 'connection_close' }]);
  });

  it('the trace option hands every event to a callback, with the connection it belongs to', async () => {
    const net = new SimNetwork({ seed: 9, impairment: { delay: 5 } });
    const rng = new Rng(9);
    const random = (n: number): Uint8Array => rng.bytes(n);
    const seen: string[] = [];
    const endpointEvents: string[] = [];
    const server = await createEndpoint({ socket: net.socket('10.0.0.2', 4433), clock: net.clock, randomBytes: random });
    server.on('connection', () => {}); // an endpoint accepts only while someone listens (issue 15)
    const client = await createEndpoint({
      socket: net.socket('10.0.0.1'),
      clock: net.clock,
      randomBytes: random,
      trace: (event, connection) => {
        if (connection) seen.push(`${connection.role}:${event.name}`);
        else endpointEvents.push(String(event.data['trigger']));
      },
    });
    let conn: Connection | undefined;
    void client.connect(4433, '10.0.0.2').then((c) => (conn = c));
    expect(await net.runUntilAsync(() => conn !== undefined, 10_000)).toBe(true);
    conn!.send('hello');
    await net.runUntilAsync(() => false, 200);
    expect(seen).toContain('client:transport:packet_sent');
    expect(seen).toContain('client:recovery:metrics_updated');
    expect(seen.every((s) => s.startsWith('client:'))).toBe(true);
    // A datagram for no connection, dropped by the endpoint itself, is traced without one.
    const stray = net.socket('10.0.0.3');
    stray.send(new Uint8Array([0x42, 1, 2, 3]), client.address().port, '10.0.0.1');
    await net.runUntilAsync(() => endpointEvents.length > 0, 1000);
    expect(endpointEvents.length).toBe(client.stats().droppedTotal);
    client.destroy();
    server.destroy();
  });

  it('endpoint stats report the kernel socket buffer sizes as granted (real socket), 0 for a simulated one', async () => {
    const real = await createEndpoint({ host: '127.0.0.1', recvBufferSize: 256 * 1024, sendBufferSize: 128 * 1024 });
    const s = real.stats();
    expect(s.recvBufferSize).toBeGreaterThan(0);
    expect(s.sendBufferSize).toBeGreaterThan(0);
    await real.close();
    const net = new SimNetwork({ seed: 1 });
    const sim = await createEndpoint({ socket: net.socket('10.0.0.1'), clock: net.clock });
    expect(sim.stats()).toMatchObject({ recvBufferSize: 0, sendBufferSize: 0 });
    sim.destroy();
  });

  it('rejects a qlogDir that is not a string', () => {
    expect(() => createEndpoint({ qlogDir: 42 as unknown as string })).toThrow(TypeError);
    expect(() => createEndpoint({ trace: 'no' as unknown as () => void })).toThrow(TypeError);
  });
});
