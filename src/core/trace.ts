import { expand32 } from '../wire/packet-number.js';
import type { Frame, TransportParams } from '../wire/types.js';
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
  /** A sink for a new connection's events, or null to leave this connection untraced. */
  connection(info: TracedConnection): TraceSink | null;
  /** Endpoint-level events (datagrams dropped before reaching any connection), or null. */
  readonly endpoint: TraceSink | null;
}

/** A data fragment a packet carried: its TSN and payload length. */
export interface TracedFragment {
  tsn: number;
  payload: { length: number };
}

/** The part of loss recovery a `metrics_updated` event reads. */
export interface RecoveryView {
  readonly rtt: RttView;
  readonly cc: CongestionController;
  readonly bytesInFlight: number;
  pacingRate(): number;
}

const PACKET_TYPE = '1RTT';

/** Builds the events of one connection (or endpoint) and hands them to a sink. */
export class Tracer {
  // The last metrics reported: metrics_updated carries only what changed (qlog's convention).
  private cwnd = -1;
  private inFlight = -1;
  private srtt = -1;
  private minRtt = -1;
  private latestRtt = -1;
  private rttVar = -1;
  private pacing = -1;
  private ccState: string | undefined = undefined;

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
      for (const f of fragments) frames.push({ frame_type: 'data', tsn: f.tsn, length: f.payload.length });
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

  /** transport:packet_received; ACK ranges are expanded against `largestSent` (ours). */
  packetReceived(now: number, pn: number, size: number, frames: readonly Frame[], largestSent: number): void {
    this.emit(now, 'transport:packet_received', {
      header: { packet_type: PACKET_TYPE, packet_number: pn },
      raw: { length: size },
      frames: receivedFrames(frames, largestSent),
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
   * recovery:metrics_updated with the values that changed since the last one, and
   * recovery:congestion_state_updated when the controller's state moved.
   */
  metrics(now: number, r: RecoveryView): void {
    const cc = r.cc;
    const state = cc.state;
    if (state !== this.ccState) {
      this.emit(now, 'recovery:congestion_state_updated', { old: this.ccState ?? 'none', new: state ?? 'none' });
      this.ccState = state;
    }
    const rtt = r.rtt;
    const min = rtt.min === Infinity ? 0 : rtt.min;
    // bytes/ms → bits/s, as qlog reports pacing_rate.
    const pacing = Math.round(r.pacingRate() * 8000);
    let data: Record<string, unknown> | null = null;
    if (cc.window !== this.cwnd) (data ??= {})['congestion_window'] = this.cwnd = cc.window;
    if (r.bytesInFlight !== this.inFlight) (data ??= {})['bytes_in_flight'] = this.inFlight = r.bytesInFlight;
    if (rtt.smoothed !== this.srtt) (data ??= {})['smoothed_rtt'] = this.srtt = rtt.smoothed;
    if (min !== this.minRtt) (data ??= {})['min_rtt'] = this.minRtt = min;
    if (rtt.latest !== this.latestRtt) (data ??= {})['latest_rtt'] = this.latestRtt = rtt.latest;
    if (rtt.variance !== this.rttVar) (data ??= {})['rtt_variance'] = this.rttVar = rtt.variance;
    if (pacing !== this.pacing) (data ??= {})['pacing_rate'] = this.pacing = pacing;
    if (data !== null) this.emit(now, 'recovery:metrics_updated', data);
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
}

/** Tracer for a sink, or null (no tracing): what the modules hold. */
export function tracerFor(sink: TraceSink | null | undefined): Tracer | null {
  return sink ? new Tracer(sink) : null;
}

/**
 * The frames of a received packet as qlog lists them. ACK ranges are expanded against the
 * largest packet number we sent (`largestSent`), as `[smallest, largest]` pairs, highest first.
 */
export function receivedFrames(frames: readonly Frame[], largestSent: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const f of frames) {
    switch (f.type) {
      case 'ack': {
        const ranges: [number, number][] = [];
        let hi = expand32(f.largest, largestSent + 1);
        let lo = hi - f.firstRange;
        ranges.push([lo, hi]);
        for (let i = 0; i + 1 < f.ranges.length; i += 2) {
          hi = lo - f.ranges[i]! - 2;
          lo = hi - f.ranges[i + 1]!;
          ranges.push([lo, hi]);
        }
        out.push({ frame_type: 'ack', ack_delay: f.ackDelay / 1000, acked_ranges: ranges });
        break;
      }
      case 'data':
        out.push({ frame_type: 'data', length: f.payload.length });
        break;
      case 'unreliable':
        out.push({ frame_type: 'datagram', length: f.payload.length });
        break;
      case 'close':
        out.push({ frame_type: 'connection_close' });
        break;
      case 'reset':
        out.push({ frame_type: 'connection_close', error_code: f.code, reason: f.reason });
        break;
      case 'path-challenge':
      case 'path-response':
        out.push({ frame_type: f.type === 'path-challenge' ? 'path_challenge' : 'path_response', data: hex(f.data) });
        break;
      default:
        out.push({ frame_type: f.type });
    }
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, '0');
  return out;
}
