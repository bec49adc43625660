import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { BufferBudget } from '../../src/core/buffer-budget.js';
import { ConnectionCore } from '../../src/core/connection.js';
import { TraceRecorder } from '../../src/testing/trace-recorder.js';
import { encodePacket } from '../../src/wire/packet.js';
import { Pair } from '../helpers/pair.js';

/** The qlog event names the engine emits (docs/testing.md "Traces"). */
const NAMES = new Set([
  'transport:parameters_set',
  'transport:packet_sent',
  'transport:packet_received',
  'transport:packet_dropped',
  'recovery:packet_lost',
  'recovery:metrics_updated',
  'recovery:congestion_state_updated',
  'recovery:loss_timer_updated',
  'connectivity:connection_state_updated',
  'connectivity:mtu_updated',
  'reliable_dgram:time_blocked',
]);

function bulk(pair: Pair, bytes: number): void {
  const chunk = new Uint8Array(64 * 1024).fill(7);
  for (let left = bytes; left > 0; left -= chunk.length) pair.a.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
}

function lossyTransfer(trace: TraceRecorder | null, congestion: 'bbr' | 'newreno' = 'bbr'): Pair {
  const pair = new Pair({
    seed: 16,
    link: { delay: 10, loss: 0.05, rate: 2_000_000 / 8, queue: 64 * 1024 },
    config: { idleTimeout: 0, keepAliveInterval: 0, congestion },
    trace,
  });
  bulk(pair, 1024 * 1024);
  pair.runUntil(() => pair.sides[1].deliveredBytes >= 1024 * 1024, 600_000);
  pair.a.close(pair.now);
  pair.runUntil(() => pair.a.state === 'closed' && pair.b.state === 'closed', 600_000);
  return pair;
}

const count = (events: TraceEvent[], name: string): number => events.filter((e) => e.name === name).length;

describe('trace events of the sans-IO engine', () => {
  it('a lossy transfer traces every packet sent, received, lost and dropped: the counts equal stats()', () => {
    const rec = new TraceRecorder();
    const pair = lossyTransfer(rec);
    const [client, server] = rec.traces;
    const a = pair.a.stats();
    const b = pair.b.stats();
    expect(a.packetsLost).toBeGreaterThan(10);
    for (const t of [client!, server!]) {
      let last = -Infinity;
      for (const e of t.events) {
        expect(NAMES.has(e.name), e.name).toBe(true);
        expect(typeof e.time).toBe('number');
        expect(e.time).toBeGreaterThanOrEqual(last);
        expect(typeof e.data).toBe('object');
        last = e.time;
      }
    }
    const ce = client!.events;
    const se = server!.events;
    expect(count(ce, 'transport:packet_sent')).toBe(a.packetsSent);
    expect(count(ce, 'recovery:packet_lost')).toBe(a.packetsLost);
    expect(count(se, 'transport:packet_received')).toBe(b.packetsReceived);
    expect(count(se, 'transport:packet_sent')).toBe(b.packetsSent);
    const dropped = se.filter((e) => e.name === 'transport:packet_dropped');
    expect(dropped.filter((e) => e.data['trigger'] === 'duplicate').length).toBeLessThanOrEqual(b.duplicatesDropped);
    expect(dropped.filter((e) => e.data['trigger'] === 'checksum').length).toBe(b.checksumFailures);
    // Bytes of data retransmitted, as the trace shows them (a TSN sent again), equal the stats.
    const seen = new Set<number>();
    let retransmitted = 0;
    for (const e of ce) {
      if (e.name !== 'transport:packet_sent') continue;
      for (const f of e.data['frames'] as { frame_type: string; tsn?: number; length?: number }[]) {
        if (f.frame_type !== 'data') continue;
        if (seen.has(f.tsn!)) retransmitted += f.length!;
        seen.add(f.tsn!);
      }
    }
    expect(retransmitted).toBe(a.bytesRetransmitted);
    // The lifecycle, in order.
    const states = ce.filter((e) => e.name === 'connectivity:connection_state_updated').map((e) => e.data['new']);
    expect(states).toEqual(['open', 'closing', 'draining', 'closed']);
    // The sender's time blocked per cause, once, as stats() reports it.
    expect(ce.filter((e) => e.name === 'reliable_dgram:time_blocked').map((e) => e.data)).toEqual([
      {
        congestion_window: a.timeBlockedByCongestion,
        pacing: a.timeBlockedByPacing,
        flow_control: a.timeBlockedByFlowControl,
        application: a.timeAppLimited,
      },
    ]);
    // Metrics carry the qlog fields.
    const metrics = ce.filter((e) => e.name === 'recovery:metrics_updated');
    expect(metrics.some((e) => typeof e.data['smoothed_rtt'] === 'number' && typeof e.data['congestion_window'] === 'number')).toBe(true);
    expect(metrics.some((e) => typeof e.data['pacing_rate'] === 'number')).toBe(true);
    // ACK frames received are expanded to full packet-number ranges of packets we sent.
    const sentPns = new Set(ce.filter((e) => e.name === 'transport:packet_sent').map((e) => (e.data['header'] as { packet_number: number }).packet_number));
    const acked = ce
      .filter((e) => e.name === 'transport:packet_received')
      .flatMap((e) => (e.data['frames'] as { frame_type: string; acked_ranges?: [number, number][] }[]).filter((f) => f.frame_type === 'ack'))
      .flatMap((f) => f.acked_ranges!);
    expect(acked.length).toBeGreaterThan(0);
    for (const [lo, hi] of acked.slice(0, 50)) {
      expect(lo).toBeLessThanOrEqual(hi);
      expect(sentPns.has(hi)).toBe(true);
    }
  });

  it('a burst of sent packets gets one metrics_updated, after its last packet, with the bytes in flight then', () => {
    // A fast link without pacing: the sender sends its window in bursts, as on loopback.
    const rec = new TraceRecorder();
    const pair = new Pair({ seed: 3, link: { delay: 5 }, config: { pacing: false, idleTimeout: 0, keepAliveInterval: 0 }, trace: rec });
    bulk(pair, 2 * 1024 * 1024);
    pair.runUntil(() => pair.sides[1].deliveredBytes >= 2 * 1024 * 1024, 600_000);
    const events = rec.traces[0]!.events;
    const sent = count(events, 'transport:packet_sent');
    const metrics = count(events, 'recovery:metrics_updated');
    // One per packet sent before (and one per ACK): now one per burst and one per ACK.
    expect(sent).toBeGreaterThan(1000);
    expect(metrics).toBeLessThan(sent * 0.5);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      // Within a burst (packets sent at one time, nothing in between) no metrics_updated.
      if (e.name === 'transport:packet_sent' && events[i + 1]?.name === 'recovery:metrics_updated') {
        const next = events[i + 2];
        expect(next?.name === 'transport:packet_sent' && next.time === e.time && next.data['is_ack_eliciting'] === true).toBe(false);
        // The burst's packets are in flight: the event after it reports the new total.
        if (e.data['is_ack_eliciting'] === true) expect(events[i + 1]!.data).toHaveProperty('bytes_in_flight');
      }
    }
  });

  it('tracing changes nothing the engine does (same run, same stats, with and without)', () => {
    const off = lossyTransfer(null);
    const on = lossyTransfer(new TraceRecorder());
    expect(on.a.stats()).toEqual(off.a.stats());
    expect(on.b.stats()).toEqual(off.b.stats());
    expect(on.now).toBe(off.now);
  });

  it('over arbitrary lossy, reordering, duplicating, corrupting links the trace agrees with stats() (40 schedules)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.record({
          delay: fc.integer({ min: 1, max: 40 }),
          loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
          duplicate: fc.double({ min: 0, max: 0.1, noNaN: true }),
          reorder: fc.double({ min: 0, max: 0.2, noNaN: true }),
          corrupt: fc.double({ min: 0, max: 0.05, noNaN: true }),
        }),
        fc.integer({ min: 1, max: 200_000 }),
        (seed, link, bytes) => {
          const rec = new TraceRecorder();
          const pair = new Pair({ seed, link, config: { idleTimeout: 0, keepAliveInterval: 0 }, trace: rec });
          pair.a.send(new Uint8Array(bytes));
          pair.b.send(new Uint8Array(bytes >> 1));
          pair.runUntil(() => pair.sides[1].deliveredBytes >= bytes && pair.sides[0].deliveredBytes >= bytes >> 1, 600_000);
          for (const [i, core] of [pair.a, pair.b].entries()) {
            const s = core.stats();
            const ev = rec.traces[i]!.events;
            expect(count(ev, 'transport:packet_sent')).toBe(s.packetsSent);
            expect(count(ev, 'transport:packet_received')).toBe(s.packetsReceived);
            expect(count(ev, 'recovery:packet_lost')).toBe(s.packetsLost);
            expect(count(ev, 'recovery:loss_timer_updated')).toBe(s.ptoCount);
            const drops = ev.filter((e) => e.name === 'transport:packet_dropped');
            expect(drops.filter((e) => e.data['trigger'] === 'checksum').length).toBe(s.checksumFailures);
            expect(drops.filter((e) => ['header_parse_error', 'unexpected_packet', 'invalid'].includes(e.data['trigger'] as string)).length).toBe(s.malformedDropped);
          }
        },
      ),
      { seed: 1616, numRuns: 40 },
    );
  });

  it('reports the congestion controller state as it moves (NewReno: slow start → recovery → avoidance)', () => {
    const rec = new TraceRecorder();
    lossyTransfer(rec, 'newreno');
    const moves = rec.traces[0]!.events.filter((e) => e.name === 'recovery:congestion_state_updated').map((e) => e.data['new']);
    expect(moves[0]).toBe('slow_start');
    expect(moves).toContain('recovery');
    expect(moves).toContain('congestion_avoidance');
  });
});

describe('time blocked per cause (stats)', () => {
  it('a receiver that does not read blocks the sender on flow control', () => {
    const pair = new Pair({
      seed: 3,
      link: { delay: 5 },
      config: { idleTimeout: 0, keepAliveInterval: 0, receiveWindow: 64 * 1024 },
    });
    pair.sides[1].autoRelease = false;
    bulk(pair, 512 * 1024);
    const start = pair.now;
    pair.runUntil(() => pair.now >= start + 2000, 10_000);
    const s = pair.a.stats(pair.now);
    expect(s.timeBlockedByFlowControl).toBeGreaterThan(1500);
    expect(s.timeBlockedByCongestion + s.timeBlockedByPacing + s.timeBlockedByFlowControl + s.timeAppLimited).toBeLessThanOrEqual(pair.now + 1e-6);
  });

  it('a bulk sender on a slow link is held back by the window or the pacer, and an idle one is app-limited', () => {
    const pair = new Pair({
      seed: 4,
      link: { delay: 20, rate: 1_000_000 / 8, queue: 32 * 1024 },
      config: { idleTimeout: 0, keepAliveInterval: 0 },
    });
    bulk(pair, 512 * 1024);
    pair.runUntil(() => pair.sides[1].deliveredBytes >= 512 * 1024, 60_000);
    const busy = pair.a.stats(pair.now);
    expect(busy.timeBlockedByCongestion + busy.timeBlockedByPacing).toBeGreaterThan(0.5 * pair.now);
    expect(busy.timeBlockedByFlowControl).toBe(0);
    expect(busy.timeAppLimited).toBeLessThan(0.1 * pair.now);
    expect(busy.pacingRate).toBeGreaterThan(0);
    // Then nothing to send for 5 s (nothing happens meanwhile): all of it app-limited.
    const idle = pair.a.stats(pair.now + 5000);
    expect(idle.timeAppLimited - busy.timeAppLimited).toBeGreaterThan(4900);
    // The receiver never sent anything but ACKs: app-limited all along.
    const b = pair.b.stats(pair.now);
    expect(b.timeAppLimited).toBeCloseTo(pair.now, 0);
  });

  it('datagrams a connection drops as oversize, or defers for the endpoint budget, are traced as packet_dropped', () => {
    const rec = new TraceRecorder();
    const budget = new BufferBudget(100); // too small for any packet with data
    // Another connection, stuck mid-message, holds the one exemption (BufferBudget).
    expect(budget.admits(0, 150, {}, true, 1000)).toBe(true);
    const params = { maxDatagramSize: 1200, initialWindow: 100, idleTimeout: 0, initialPacketNumber: 10, initialTsn: 1, resetToken: new Uint8Array(16) };
    const b = new ConnectionCore({
      role: 'server',
      localCid: 2n,
      remoteCid: 1n,
      localParams: params,
      remoteParams: params,
      config: { idleTimeout: 0, keepAliveInterval: 0 },
      now: 0,
      budget,
      trace: rec.sink('server', { localCid: 2n }),
    });
    const data = (pn: number, size: number) =>
      encodePacket({ type: 'data', dcid: 2n, packetNumber: pn, frames: [{ type: 'data', tsn: 1, first: true, last: true, unordered: false, payload: new Uint8Array(size) }] });
    b.handleDatagram(1, data(10, 1300)); // larger than the 1,200 bytes announced
    b.handleDatagram(2, data(11, 100)); // over the budget: deferred
    const s = b.stats();
    expect(s.malformedDropped).toBe(1);
    expect(s.packetsDeferred).toBe(1);
    const drops = rec.traces[0]!.events.filter((e) => e.name === 'transport:packet_dropped');
    expect(drops.map((e) => e.data['trigger'])).toEqual(['invalid', 'deferred']);
  });
});
