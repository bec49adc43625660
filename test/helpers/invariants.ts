import { expand32 } from '../../src/wire/packet-number.js';
import type { Flows } from './pair.js';
import type { ConnectionCore } from '../../src/core/connection.js';

/**
 * Invariants of the engine, checked after every step of a simulated run: windows and rates
 * finite and positive, the receiver never buffering beyond the window it advertised, nor
 * holding more bytes than its receive window (plus slack) and unreliable budget allow.
 */
export function checker(): (sim: Flows) => void {
  return (sim) => {
    for (const flow of sim.flows) {
      for (const side of flow.sides) checkCore(side.core);
    }
  };
}

/** The invariants of `checker` for one engine (any state, a dormant one included: inspect() only peeks). */
export function checkCore(core: Pick<ConnectionCore, 'inspect'>): void {
  const s = core.inspect();
  if (!Number.isFinite(s.cwnd) || s.cwnd <= 0) throw new Error(`cwnd ${s.cwnd}`);
  if (!(s.pacingRate > 0) || !Number.isFinite(s.pacingRate)) throw new Error(`pacing rate ${s.pacingRate}`);
  if (s.receiveBuffered > s.advertisedWindow) {
    throw new Error(`receiver buffers ${s.receiveBuffered} fragments beyond a window of ${s.advertisedWindow}`);
  }
  if (s.retainedBytes > s.retainedLimit) {
    throw new Error(`receiver holds ${s.retainedBytes} bytes, more than its limit of ${s.retainedLimit}`);
  }
  if (!(s.bytesInFlight >= 0) || !Number.isFinite(s.bytesInFlight)) throw new Error(`bytes in flight ${s.bytesInFlight}`);
}

/**
 * Wraps every core's pollTransmit to check, at each datagram sent, that a packet which adds to
 * bytes in flight is sent only when it fits the congestion window (PTO probes excepted, as
 * RFC 9002 §7.5 allows) and that packet numbers strictly increase (never reused).
 */
export function instrument(sim: Flows): void {
  for (const flow of sim.flows) {
    for (const side of flow.sides) {
      const core = side.core;
      const original = core.pollTransmit.bind(core);
      let lastPn = -1;
      core.pollTransmit = (now: number) => {
        const before = core.inspect();
        const d = original(now);
        if (d === null) return d;
        const after = core.inspect();
        if (after.bytesInFlight > before.bytesInFlight && before.probesDue === 0) {
          if (before.bytesInFlight + d.length > before.cwnd + before.maxDatagram) {
            throw new Error(`sent beyond cwnd: ${before.bytesInFlight} + ${d.length} > ${before.cwnd}`);
          }
        }
        const truncated = ((d[10]! << 24) | (d[11]! << 16) | (d[12]! << 8) | d[13]!) >>> 0;
        const pn = expand32(truncated, lastPn + 1);
        if (lastPn >= 0 && pn <= lastPn) throw new Error(`packet number ${pn} reused after ${lastPn}`);
        lastPn = pn;
        return d;
      };
    }
  }
}
