import { describe, expect, it } from 'vitest';
import type { ConnectionCore } from '../../src/core/connection.js';
import { decodePacket } from '../../src/wire/packet.js';
import type { DataPacket } from '../../src/wire/types.js';
import { makeCores } from '../helpers/pair.js';

function frames(d: Uint8Array): DataPacket['frames'] {
  const r = decodePacket(d);
  if (!r.ok || r.value.type !== 'data') throw new Error('not a DATA packet');
  return r.value.frames;
}

function drain(core: ConnectionCore, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = core.pollTransmit(now); d !== null; d = core.pollTransmit(now)) out.push(d);
  return out;
}

/** Read every event (the application takes its messages at once, so no ACK waits for a reply). */
function consume(core: ConnectionCore): void {
  for (let e = core.pollEvent(); e !== null; e = core.pollEvent()) {
    if (e.type === 'message' && e.credit > 0) core.release(e.credit);
  }
}

/** A sender with neither window nor pacer in the way: `n` full packets of one message, at once. */
function burst(seed: number, n: number): { b: ConnectionCore; packets: Uint8Array[] } {
  const [a, b] = makeCores(seed, { config: { congestion: 'none', pacing: false } });
  a.send(new Uint8Array(n * 1200));
  const packets = drain(a, 0);
  expect(packets.length).toBeGreaterThanOrEqual(n);
  return { b, packets };
}

/** Deliver `packets` to `b` one by one; for each, whether `b` answered with an ACK at once. */
function acksFor(b: ConnectionCore, packets: Uint8Array[], now: number): boolean[] {
  return packets.map((p) => {
    b.handleDatagram(now, p);
    consume(b);
    const out = drain(b, now);
    for (const d of out) expect(frames(d).map((f) => f.type)).toEqual(['ack']);
    return out.length > 0;
  });
}

const count = (xs: boolean[]): number => xs.filter(Boolean).length;

describe('ACK decimation (docs/protocol.md §13)', () => {
  it('acknowledges every second packet for the first 100, then every tenth', () => {
    const { b, packets } = burst(41, 300);
    const acked = acksFor(b, packets.slice(0, 300), 1);
    expect(count(acked.slice(0, 100))).toBeGreaterThanOrEqual(50);
    // From then on about one ACK-only datagram per 10 packets (the old policy sent 100 here);
    // the numbers the sender skips (RFC 9000 §21.4, every 64 to 128 packets this early) look
    // like gaps and add about a dozen each.
    const later = count(acked.slice(100, 300));
    expect(later).toBeGreaterThanOrEqual(20);
    expect(later).toBeLessThanOrEqual(50);
    // In a run of 60 packets with no skipped number in it: exactly every tenth.
    const pns = packets.map((d) => (decodePacket(d) as { value: DataPacket }).value.packetNumber);
    let start = -1;
    for (let i = 130; i + 60 < 300 && start < 0; i++) {
      if (pns.slice(i - 25, i + 60).every((pn, k, all) => k === 0 || pn === all[k - 1]! + 1)) start = i;
    }
    expect(start).toBeGreaterThan(0);
    const run = acked.slice(start, start + 60);
    expect(count(run)).toBe(6);
  });

  it('after a loss: the 4 packets above the gap are acknowledged one by one, then every second until 20 in a row arrived', () => {
    const { b, packets } = burst(42, 300);
    acksFor(b, packets.slice(0, 150), 1);
    // Packet 150 is lost.
    const after = acksFor(b, packets.slice(151, 200), 2);
    expect(after.slice(0, 4)).toEqual([true, true, true, true]);
    // Every second packet while the run since the gap is short ...
    expect(count(after.slice(4, 19))).toBeGreaterThanOrEqual(7);
    // ... then decimated again.
    expect(count(after.slice(29, 49))).toBe(2);
  });

  it('the delayed ACK waits at most maxAckDelay after the first unacknowledged packet', () => {
    const { b, packets } = burst(43, 130);
    acksFor(b, packets.slice(0, 121), 1);
    b.handleDatagram(3, packets[121]!);
    consume(b);
    expect(drain(b, 3)).toHaveLength(0);
    // No RTT sample on a pure receiver: maxAckDelay (5 ms) from the first packet left unacknowledged.
    expect(b.pollTimeout()).toBe(1 + 5);
    expect(drain(b, 6)).toHaveLength(1);
  });

  it('a sender puts a PING in the packet that fills a small congestion window', () => {
    // NewReno starts with a window of 10 packets: smaller than two ACK intervals of 10.
    const [a] = makeCores(44, { config: { congestion: 'newreno', pacing: false } });
    a.send(new Uint8Array(100_000));
    const sent = drain(a, 0);
    expect(sent.length).toBeGreaterThan(1);
    const pings = sent.map((d) => frames(d).some((f) => f.type === 'ping'));
    // Only the last packet the window allows asks for an immediate ACK.
    expect(pings.slice(0, -1).every((p) => !p)).toBe(true);
    expect(pings[pings.length - 1]).toBe(true);
  });
});

describe('the PING byte kept for a small window', () => {
  it('never keeps a full-size retransmission out of a window-filling packet (a 2-packet window losing every 7th datagram completes)', () => {
    // A window of two packets: every packet sent while one is in flight fills it.
    const twoPackets = () => ({
      name: 'fixed',
      window: 2 * 1200,
      pacingRate: Infinity,
      onPacketSent() {},
      onAck() {},
      onCongestionEvent() {},
    });
    const [a, b] = makeCores(46, { config: { congestion: twoPackets, pacing: false } });
    const total = 60_000;
    a.send(new Uint8Array(total));
    let delivered = 0;
    let sent = 0;
    let now = 0;
    for (let step = 0; step < 5000 && delivered < total; step++) {
      now += 1;
      for (const d of drain(a, now)) {
        if (++sent % 7 === 1) continue; // every 7th datagram is lost, retransmissions included
        b.handleDatagram(now, d);
      }
      for (let e = b.pollEvent(); e !== null; e = b.pollEvent()) {
        if (e.type === 'message') {
          delivered += e.data.length;
          if (e.credit > 0) b.release(e.credit);
        }
      }
      for (const d of drain(b, now)) a.handleDatagram(now, d);
      for (const core of [a, b]) {
        const t = core.pollTimeout();
        if (t !== null && t <= now) core.handleTimeout(now);
      }
    }
    expect(delivered).toBe(total);
    expect(a.stats().packetsRetransmitted).toBeGreaterThanOrEqual(1);
  });
});
