import { DataPacketReader } from '../wire/data-packet-reader.js';
import { expand32 } from '../wire/packet-number.js';
import type { AckFrame, Frame, TransportParams } from '../wire/types.js';
import type { BlockedTimes } from './blocked-time.js';
import type { CongestionController, RttView } from './types.js';

/**
 * The trace layer of the sans-IO core: the events a connection (and the endpoint) can report
 * as they happen, named and shaped after qlog (draft-ietf-quic-qlog-main-schema and
 * draft-ietf-quic-qlog-quic-events, the 0.3 JSON-SEQ generation that qvis reads), so that the
 * Node shell's qlog writer (src/node/qlog.ts) only has to serialise them.
 *
 * Zero cost when off: every module that traces holds `trace: Tracer | null` and guards each
 * point with `if (this.trace !== null)`; no event object is built when it is null. The
 * `Tracer` methods build the event data, so that each traced point is one line in its module.
 *
 * Times are the core's own `now` (ms, monotonic). Packet numbers and TSNs are the full
 * (expanded) numbers the engine uses internally, not their 32-bit wire truncations.
 */

/** One trace event: qlog's (time, name, data) triple. */
export interface TraceEvent {
  /** The engine's `now` when it happened, ms. */
  time: number;
  /** qlog event name, `category:event` (e.g. `transport:packet_sent`). */
  name: string;
  data: Record<string, unknown>;
}

/** Receives trace events, synchronously, as the engine produces them. Must not throw. */
export type TraceSink = (event: TraceEvent) => void;

/**
 * Receives a connection's events as qlog JSON-SEQ bytes, with no event object built: the
 * qlog writer's fast path (src/core/qlog-tracer.ts writes the records, src/node/qlog.ts is a
 * sink). The tracer writes each record into `buf` from `pos` on and moves `pos`; a record may
 * straddle two chunks (the file is their concatenation).
 */
export interface QlogRecordSink {
  /** The engine's `now` the record times are relative to (the connection's creation). */
  readonly origin: number;
  /** The chunk being filled. */
  buf: Uint8Array;
  /** Where the next byte goes in `buf`. */
  pos: number;
  /** A record starts: false drops it (the writer is too far behind the disk, or has ended). */
  open(): boolean;
  /** Make room for at least `n` more bytes: hands the filled part of `buf` on, replaces `buf` and `pos`. */
  reserve(n: number): void;
  /** The connection is closed (its last record has been written); `time` is the engine's now. */
  end(time: number): void;
}

/** Where a connection's events go: event objects to a sink, or qlog text to a record sink. */
export type TraceDestination = TraceSink | QlogRecordSink;

/** What a traced connection is, for whoever opens its trace (the qlog writer names files by it). */
export interface TracedConnection {
  /** The endpoint's id of the connection (the attempt id on the client side). */
  id: number;
  role: 'client' | 'server';
  localCid: bigint;
  remoteCid: bigint;
  address: string;
  port: number;
  /** The engine's `now` when the connection was created, ms. */
  now: number;
}

/** Where an endpoint sends trace events: one sink per connection, and its own (optional). */
export interface TraceTarget {
  /** Where a new connection's events go, or null to leave this connection untraced. */
  connection(info: TracedConnection): TraceDestination | null;
  /** Endpoint-level events (datagrams dropped before reaching any connection), or null. */
  readonly endpoint: TraceSink | null;
}

/** A data fragment a packet carried: its TSN and payload length. */
export interface TracedFragment {
  tsn: number;
  length: number;
}

/** The part of loss recovery a `metrics_updated` event reads. */
export interface RecoveryView {
  readonly rtt: RttView;
  readonly cc: CongestionController;
  readonly bytesInFlight: number;
  pacingRate(): number;
}

/** Bits of {@link Tracer.changedMetrics}: one per metric of recovery:metrics_updated. */
export const METRIC_CWND = 1;
export const METRIC_IN_FLIGHT = 2;
export const METRIC_SRTT = 4;
export const METRIC_MIN_RTT = 8;
export const METRIC_LATEST_RTT = 16;
export const METRIC_RTT_VAR = 32;
export const METRIC_PACING = 64;

const PACKET_TYPE = '1RTT';

/**
 * Reads the frames of a received packet for the trace, in place: its own reader, because the
 * connection's is in the middle of the same datagram. The connection has already checked the
 * datagram (CRC or packet protection), so the trace does not check the CRC again.
 */
export const traceReader = new DataPacketReader();

/** Builds the events of one connection (or endpoint) and hands them to a sink. */
export class Tracer {
  // The last metrics reported (RTTs in whole microseconds, pacing in bits/s): metrics_updated
  // carries only what changed (qlog's convention).
  protected cwnd = -1;
  protected inFlight = -1;
  protected srttUs = -1;
  protected minRttUs = -1;
  protected latestRttUs = -1;
  protected rttVarUs = -1;
  protected pacing = -1;
  protected ccState: string | undefined = undefined;

  constructor(readonly sink: TraceSink) {}

  private emit(time: number, name: string, data: Record<string, unknown>): void {
    try {
      this.sink({ time, name, data });
    } catch {
      // A failing sink must not break the engine (it is told not to throw; be safe anyway).
    }
  }

  /** transport:packet_sent. `ack`: the packet carries an ACK frame. */
  packetSent(
    now: number,
    pn: number,
    size: number,
    ack: boolean,
    fragments: readonly TracedFragment[] | null,
    close: boolean,
    ackEliciting: boolean,
  ): void {
    const frames: Record<string, unknown>[] = [];
    if (ack) frames.push({ frame_type: 'ack' });
    if (fragments !== null) {
      for (const f of fragments) frames.push({ frame_type: 'data', tsn: f.tsn, length: f.length });
    }
    if (close) frames.push({ frame_type: 'connection_close' });
    this.emit(now, 'transport:packet_sent', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: size },
      is_ack_eliciting: ackEliciting,
      frames,
    });
  }

  /** transport:packet_sent of a path-MTU probe: a PING padded to `size` bytes. */
  mtuProbeSent(now: number, pn: number, size: number): void {
    this.emit(now, 'transport:packet_sent', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: size },
      is_ack_eliciting: true,
      is_mtu_probe_packet: true,
      frames: [{ frame_type: 'ping' }, { frame_type: 'padding' }],
    });
  }

  /**
   * transport:packet_received of a DATA datagram the connection accepted (its frames are read
   * from `datagram` again); ACK ranges are expanded against `largestSent` (ours). `packet`: the
   * connection's reader, opened on `datagram` and before its first frame (the qlog writer skims
   * the frames from it and rewinds it, rather than reading the datagram a second time); this
   * object path, the reference the qlog bytes are tested against, reads the datagram itself.
   */
  packetReceived(now: number, pn: number, datagram: Uint8Array, largestSent: number, packet?: DataPacketReader): void {
    const frames: Record<string, unknown>[] = [];
    const r = traceReader;
    if (r.open(datagram, true) === 'ok') for (let f = r.next(); f !== null; f = r.next()) frames.push(receivedFrame(f, largestSent));
    this.emit(now, 'transport:packet_received', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: datagram.length },
      frames,
    });
  }

  /**
   * transport:packet_dropped. `trigger` uses qlog's names where one fits, else ours (the
   * endpoint's drop reasons, docs/errors.md). `size` < 0: unknown (not reported).
   */
  packetDropped(now: number, size: number, trigger: string, pn?: number): void {
    const data: Record<string, unknown> = size >= 0 ? { raw: { length: size }, trigger } : { trigger };
    if (pn !== undefined) data['header'] = { packet_type: PACKET_TYPE, packet_number: pn };
    this.emit(now, 'transport:packet_dropped', data);
  }

  /** recovery:packet_lost. */
  packetLost(now: number, pn: number, size: number, byTime: boolean): void {
    this.emit(now, 'recovery:packet_lost', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: size },
      trigger: byTime ? 'time_threshold' : 'reordering_threshold',
    });
  }

  /** recovery:loss_timer_updated for a PTO that fired. */
  ptoFired(now: number, ptoCount: number): void {
    this.emit(now, 'recovery:loss_timer_updated', { event_type: 'expired', timer_type: 'pto', pto_count: ptoCount });
  }

  /**
   * Which metrics moved since the last call (bits of `METRIC_*`), remembering the new values
   * (whether or not a record is written). RTTs at microsecond resolution, as the event times
   * (the Node shell's clock has more digits than meaning: 0.8734523000001 ms is 0.873 ms).
   */
  protected changedMetrics(r: RecoveryView): number {
    const rtt = r.rtt;
    const srtt = Math.round(rtt.smoothed * 1000);
    const min = rtt.min === Infinity ? 0 : Math.round(rtt.min * 1000);
    const latest = Math.round(rtt.latest * 1000);
    const variance = Math.round(rtt.variance * 1000);
    // bytes/ms → bits/s, as qlog reports pacing_rate.
    const pacing = Math.round(r.pacingRate() * 8000);
    const window = r.cc.window;
    let changed = 0;
    if (window !== this.cwnd) (changed |= METRIC_CWND), (this.cwnd = window);
    if (r.bytesInFlight !== this.inFlight) (changed |= METRIC_IN_FLIGHT), (this.inFlight = r.bytesInFlight);
    if (srtt !== this.srttUs) (changed |= METRIC_SRTT), (this.srttUs = srtt);
    if (min !== this.minRttUs) (changed |= METRIC_MIN_RTT), (this.minRttUs = min);
    if (latest !== this.latestRttUs) (changed |= METRIC_LATEST_RTT), (this.latestRttUs = latest);
    if (variance !== this.rttVarUs) (changed |= METRIC_RTT_VAR), (this.rttVarUs = variance);
    if (pacing !== this.pacing) (changed |= METRIC_PACING), (this.pacing = pacing);
    return changed;
  }

  /**
   * recovery:metrics_updated with the values that changed since the last one, and
   * recovery:congestion_state_updated when the controller's state moved.
   */
  metrics(now: number, r: RecoveryView): void {
    const state = r.cc.state;
    if (state !== this.ccState) {
      this.emit(now, 'recovery:congestion_state_updated', { old: this.ccState ?? 'none', new: state ?? 'none' });
      this.ccState = state;
    }
    const changed = this.changedMetrics(r);
    if (changed === 0) return;
    const data: Record<string, unknown> = {};
    if (changed & METRIC_CWND) data['congestion_window'] = this.cwnd;
    if (changed & METRIC_IN_FLIGHT) data['bytes_in_flight'] = this.inFlight;
    if (changed & METRIC_SRTT) data['smoothed_rtt'] = this.srttUs / 1000;
    if (changed & METRIC_MIN_RTT) data['min_rtt'] = this.minRttUs / 1000;
    if (changed & METRIC_LATEST_RTT) data['latest_rtt'] = this.latestRttUs / 1000;
    if (changed & METRIC_RTT_VAR) data['rtt_variance'] = this.rttVarUs / 1000;
    if (changed & METRIC_PACING) data['pacing_rate'] = this.pacing;
    this.emit(now, 'recovery:metrics_updated', data);
  }

  /** connectivity:connection_state_updated, with the engine's own state names. */
  connectionState(now: number, from: string, to: string, trigger?: string): void {
    const data: Record<string, unknown> = { old: from, new: to };
    if (trigger !== undefined) data['trigger'] = trigger;
    this.emit(now, 'connectivity:connection_state_updated', data);
  }

  /**
   * A new connection: transport:parameters_set for both sides' announced parameters, the
   * state it starts in, and the starting metrics.
   */
  connectionStarted(now: number, local: TransportParams, remote: TransportParams, r: RecoveryView): void {
    for (const [owner, p] of [['local', local], ['remote', remote]] as const) {
      this.emit(now, 'transport:parameters_set', {
        owner,
        max_udp_payload_size: p.maxDatagramSize,
        max_idle_timeout: p.idleTimeout,
        initial_window_fragments: p.initialWindow,
        ...(owner === 'local' ? { congestion_controller: r.cc.name } : {}),
      });
    }
    this.connectionState(now, 'none', 'open');
    this.metrics(now, r);
  }

  /**
   * reliable_dgram:time_blocked (our own event, qlog allows extensions): once, when the sender
   * is done, the totals `stats()` reports, so that a trace alone explains a slow transfer.
   */
  timeBlocked(now: number, t: BlockedTimes): void {
    this.emit(now, 'reliable_dgram:time_blocked', {
      congestion_window: t.timeBlockedByCongestion,
      pacing: t.timeBlockedByPacing,
      flow_control: t.timeBlockedByFlowControl,
      application: t.timeAppLimited,
    });
  }

  // ---------------------------------------------------------------- path validation and migration
  // (path-validation.ts; qlog's migration_state_updated, draft-ietf-quic-qlog-quic-events, under
  // the 0.3 generation's connectivity category, with the draft's state names)

  /** A packet from a new address: validating it (PATH_CHALLENGE to it and to the current path). */
  pathProbing(now: number, address: string, port: number): void {
    this.emit(now, 'connectivity:migration_state_updated', { migration_state: 'probing_started', new_path: { ip: address, port } });
  }

  /** A PATH_CHALLENGE or PATH_RESPONSE left (transport:packet_sent with the frame). */
  pathFrameSent(now: number, pn: number, size: number, frame: 'path-challenge' | 'path-response', toCandidate: boolean): void {
    this.emit(now, 'transport:packet_sent', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: size },
      is_ack_eliciting: false,
      frames: [{ frame_type: frame === 'path-challenge' ? 'path_challenge' : 'path_response' }],
      path: toCandidate ? 'new' : 'current',
    });
  }

  /** The new address answered: the connection moved there. */
  pathChanged(now: number, fromAddress: string, fromPort: number, address: string, port: number): void {
    this.emit(now, 'connectivity:migration_state_updated', {
      migration_state: 'migration_complete',
      old_path: { ip: fromAddress, port: fromPort },
      new_path: { ip: address, port },
    });
  }

  /** The new address was given up (`reason`: 'timeout' or 'peer-on-current-path'). */
  pathAbandoned(now: number, reason: string): void {
    this.emit(now, 'connectivity:migration_state_updated', { migration_state: 'probing_abandoned', trigger: reason });
  }

  /** This side moved to a new local address (migrate()). */
  pathMigrated(now: number): void {
    this.emit(now, 'connectivity:migration_state_updated', { migration_state: 'migration_started' });
  }

  // --- path MTU (path-mtu.ts) ------------------------------------------------------------

  /**
   * connectivity:mtu_updated (qlog 0.3: `old`, `new`, `done`): the path MTU discovery changed
   * the datagram size from `from` to `to` (bytes, checksum included), or finished a search
   * without changing it (`from === to`). `done`: the search is over (another starts after the
   * raise timer, or after the hold-off of a black hole). `trigger` is ours (qlog allows extra
   * fields): 'probe' (a probe was acknowledged, or the last size tried was given up on) or
   * 'black-hole' (large packets stopped getting through: back to the base size).
   */
  mtuUpdated(now: number, from: number, to: number, done: boolean, trigger: 'probe' | 'black-hole'): void {
    this.emit(now, 'connectivity:mtu_updated', { old: from, new: to, done, trigger });
  }
}

/**
 * One frame of a received packet as qlog lists it. ACK ranges are expanded against the
 * largest packet number we sent (`largestSent`), as `[smallest, largest]` pairs, highest first.
 */
export function receivedFrame(f: Frame, largestSent: number): Record<string, unknown> {
  switch (f.type) {
    case 'ack':
      return { frame_type: 'ack', ack_delay: f.ackDelay / 1000, acked_ranges: ackedRanges(f, largestSent) };
    case 'data':
      return { frame_type: 'data', length: f.payload.length };
    case 'unreliable':
      return { frame_type: 'datagram', length: f.payload.length };
    case 'close':
      return { frame_type: 'connection_close' };
    case 'reset':
      return { frame_type: 'connection_close', error_code: f.code, reason: f.reason };
    case 'path-challenge':
      return { frame_type: 'path_challenge', data: hex(f.data) };
    case 'path-response':
      return { frame_type: 'path_response', data: hex(f.data) };
    default:
      return { frame_type: f.type };
  }
}

/** The packet-number ranges an ACK frame acknowledges, `[smallest, largest]`, highest first. */
export function ackedRanges(f: AckFrame, largestSent: number): [number, number][] {
  const ranges: [number, number][] = [];
  let hi = expand32(f.largest, largestSent + 1);
  let lo = hi - f.firstRange;
  ranges.push([lo, hi]);
  for (let i = 0; i + 1 < f.ranges.length; i += 2) {
    hi = lo - f.ranges[i]! - 2;
    lo = hi - f.ranges[i + 1]!;
    ranges.push([lo, hi]);
  }
  return ranges;
}

/** Bytes as lowercase hex (path challenge data in traces). */
export function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, '0');
  return out;
}
