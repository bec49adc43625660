import type { QlogEvent, QlogTrace } from './parse.js';

/**
 * What a trace says about the transfer its vantage point sent: cumulative bytes over time (sent
 * for the first time, retransmitted, acknowledged, lost: a time-sequence graph), the congestion
 * controller's window, bytes in flight and pacing rate, RTT samples, and a summary. Plain
 * computation over parsed events (src/viewer/parse.ts); the charts are drawn in charts.ts.
 *
 * Works on traces of reliable-dgram (DATA frames with TSNs) and, for the packet-level series,
 * on any qlog 0.3 QUIC trace (packet_sent sizes, ACK ranges, packet_lost, metrics_updated).
 */

export interface Point {
  /** Seconds since the trace's reference time. */
  t: number;
  series: string;
  value: number;
}

export interface Summary {
  vantagePoint: string;
  /** Seconds from the first to the last event. */
  duration: number;
  packetsSent: number;
  /** Ack-eliciting packets sent (what loss is a fraction of). */
  ackElicitingSent: number;
  packetsReceived: number;
  packetsLost: number;
  /** packetsLost / ackElicitingSent. */
  lossRate: number;
  /** Data bytes sent for the first time / sent again. */
  dataBytesSent: number;
  dataBytesRetransmitted: number;
  /** Distinct data bytes the peer acknowledged. */
  dataBytesAcked: number;
  /** dataBytesAcked over the time from the first data sent to the last data acknowledged, bytes/s. */
  goodput: number;
  minRtt: number | null;
  smoothedRtt: number | null;
  maxCwnd: number | null;
  /** From the engine's reliable_dgram:time_blocked event, ms per cause (null: not in the trace). */
  timeBlocked: { congestion_window: number; pacing: number; flow_control: number; application: number } | null;
  /** The connection's last state and why (error code), if the trace says. */
  finalState: string | null;
  /**
   * Path-MTU discovery, from connectivity:mtu_updated (null: no such event): the last size,
   * the changes (old ≠ new) and how many of them were black holes.
   */
  pathMtu: { last: number; changes: number; blackHoles: number } | null;
}

export interface Analysis {
  summary: Summary;
  /** Cumulative MB: 'sent', 'retransmitted', 'acknowledged', 'lost'. */
  timeSequence: Point[];
  /** KB: 'congestion window', 'bytes in flight'. */
  window: Point[];
  /** Mbit/s: 'pacing rate'. */
  pacing: Point[];
  /** ms: 'latest (sample)', 'smoothed', 'min'. */
  rtt: Point[];
}

interface SentRecord {
  pn: number;
  size: number;
  /** Data frames: [tsn, length] pairs, flattened. */
  data: number[];
  acked: boolean;
}

interface Frame {
  frame_type?: string;
  tsn?: number;
  length?: number;
  acked_ranges?: [number, number][];
}

const MB = 1e6;

/** Keep at most ~4 points per bucket (first, min, max, last) so charts stay small. */
export function thin(points: Point[], buckets: number): Point[] {
  if (points.length <= buckets * 2) return points;
  const bySeries = new Map<string, Point[]>();
  for (const p of points) {
    let list = bySeries.get(p.series);
    if (!list) bySeries.set(p.series, (list = []));
    list.push(p);
  }
  const out: Point[] = [];
  for (const list of bySeries.values()) {
    const t0 = list[0]!.t;
    const span = Math.max(list[list.length - 1]!.t - t0, 1e-9);
    let bucket = -1;
    let group: Point[] = [];
    const flush = (): void => {
      if (group.length === 0) return;
      let min = group[0]!;
      let max = group[0]!;
      for (const p of group) {
        if (p.value < min.value) min = p;
        if (p.value > max.value) max = p;
      }
      const keep = new Set([group[0]!, min, max, group[group.length - 1]!]);
      for (const p of group) if (keep.has(p)) out.push(p);
      group = [];
    };
    for (const p of list) {
      const b = Math.min(buckets - 1, Math.floor(((p.t - t0) / span) * buckets));
      if (b !== bucket) {
        flush();
        bucket = b;
      }
      group.push(p);
    }
    flush();
  }
  return out;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function analyze(trace: QlogTrace, buckets = 600): Analysis {
  const events: QlogEvent[] = trace.events;
  const sent = new Map<number, SentRecord>();
  /** Sent packet numbers in order (they only grow), for walking ACK ranges. */
  const order: number[] = [];
  /** Every pn in order[0 .. ackedBelow) is acknowledged. */
  let ackedBelow = 0;
  const tsnsSent = new Set<number>();
  const tsnsAcked = new Set<number>();
  let sentNew = 0;
  let sentAgain = 0;
  let ackedBytes = 0;
  let lostBytes = 0;
  let packetsSent = 0;
  let ackEliciting = 0;
  let packetsReceived = 0;
  let packetsLost = 0;
  let firstDataAt: number | null = null;
  let lastAckAt: number | null = null;
  let minRtt: number | null = null;
  let srtt: number | null = null;
  let maxCwnd: number | null = null;
  let timeBlocked: Summary['timeBlocked'] = null;
  let finalState: string | null = null;
  let pathMtu: Summary['pathMtu'] = null;

  const timeSequence: Point[] = [];
  const window: Point[] = [];
  const pacing: Point[] = [];
  const rtt: Point[] = [];

  const ack = (t: number, pn: number): void => {
    const p = sent.get(pn);
    if (!p || p.acked) return;
    p.acked = true;
    for (let i = 0; i < p.data.length; i += 2) {
      const tsn = p.data[i]!;
      if (tsnsAcked.has(tsn)) continue;
      tsnsAcked.add(tsn);
      ackedBytes += p.data[i + 1]!;
      lastAckAt = t;
    }
  };

  for (const e of events) {
    const t = e.time / 1000;
    const d = e.data;
    switch (e.name) {
      case 'transport:packet_sent': {
        packetsSent++;
        const pn = num((d['header'] as { packet_number?: unknown } | undefined)?.packet_number);
        const size = num((d['raw'] as { length?: unknown } | undefined)?.length) ?? num(d['packet_size']) ?? 0;
        const frames = (Array.isArray(d['frames']) ? d['frames'] : []) as Frame[];
        const data: number[] = [];
        let fresh = 0;
        let again = 0;
        const flag = d['is_ack_eliciting'];
        const elicits = typeof flag === 'boolean' ? flag : frames.some((f) => f.frame_type !== 'ack' && f.frame_type !== 'padding');
        for (const f of frames) {
          if (f.frame_type === 'data' && typeof f.tsn === 'number' && typeof f.length === 'number') {
            data.push(f.tsn, f.length);
            if (tsnsSent.has(f.tsn)) again += f.length;
            else fresh += f.length;
            tsnsSent.add(f.tsn);
          }
        }
        if (elicits) ackEliciting++;
        if (data.length > 0 && firstDataAt === null) firstDataAt = t;
        if (pn !== null) {
          sent.set(pn, { pn, size, data, acked: false });
          order.push(pn);
        }
        if (fresh > 0) {
          sentNew += fresh;
          timeSequence.push({ t, series: 'sent', value: sentNew / MB });
        }
        if (again > 0) {
          sentAgain += again;
          timeSequence.push({ t, series: 'retransmitted', value: sentAgain / MB });
        }
        break;
      }
      case 'transport:packet_received': {
        packetsReceived++;
        const before = ackedBytes;
        for (const f of (Array.isArray(d['frames']) ? d['frames'] : []) as Frame[]) {
          if (f.frame_type !== 'ack' || !Array.isArray(f.acked_ranges)) continue;
          for (const range of f.acked_ranges) {
            const lo = range[0];
            const hi = range[1] ?? range[0];
            // Walk only what may be new: from the first unacknowledged packet in the range.
            let i = lowerBound(order, lo, ackedBelow);
            for (; i < order.length && order[i]! <= hi; i++) ack(t, order[i]!);
          }
          while (ackedBelow < order.length && sent.get(order[ackedBelow]!)!.acked) ackedBelow++;
        }
        if (ackedBytes !== before) timeSequence.push({ t, series: 'acknowledged', value: ackedBytes / MB });
        break;
      }
      case 'recovery:packet_lost': {
        packetsLost++;
        const pn = num((d['header'] as { packet_number?: unknown } | undefined)?.packet_number);
        const p = pn === null ? undefined : sent.get(pn);
        if (p) {
          let bytes = 0;
          for (let i = 1; i < p.data.length; i += 2) bytes += p.data[i]!;
          if (bytes > 0) {
            lostBytes += bytes;
            timeSequence.push({ t, series: 'lost', value: lostBytes / MB });
          }
        }
        break;
      }
      case 'recovery:metrics_updated': {
        const cwnd = num(d['congestion_window']);
        const inFlight = num(d['bytes_in_flight']);
        const rate = num(d['pacing_rate']);
        const latest = num(d['latest_rtt']);
        const smoothed = num(d['smoothed_rtt']);
        const min = num(d['min_rtt']);
        if (cwnd !== null) {
          window.push({ t, series: 'congestion window', value: cwnd / 1000 });
          maxCwnd = Math.max(maxCwnd ?? 0, cwnd);
        }
        if (inFlight !== null) window.push({ t, series: 'bytes in flight', value: inFlight / 1000 });
        if (rate !== null) pacing.push({ t, series: 'pacing rate', value: rate / 1e6 });
        if (latest !== null && latest > 0) rtt.push({ t, series: 'latest (sample)', value: latest });
        if (smoothed !== null) {
          srtt = smoothed;
          rtt.push({ t, series: 'smoothed', value: smoothed });
        }
        if (min !== null && min > 0) {
          minRtt = min;
          rtt.push({ t, series: 'min', value: min });
        }
        break;
      }
      case 'reliable_dgram:time_blocked':
        timeBlocked = {
          congestion_window: num(d['congestion_window']) ?? 0,
          pacing: num(d['pacing']) ?? 0,
          flow_control: num(d['flow_control']) ?? 0,
          application: num(d['application']) ?? 0,
        };
        break;
      case 'connectivity:connection_state_updated':
        finalState = String(d['new']) + (d['trigger'] !== undefined ? ` (${String(d['trigger'])})` : '');
        break;
      case 'connectivity:mtu_updated': {
        const to = num(d['new']);
        if (to === null) break;
        pathMtu ??= { last: to, changes: 0, blackHoles: 0 };
        if (num(d['old']) !== to) pathMtu.changes++;
        if (d['trigger'] === 'black-hole') pathMtu.blackHoles++;
        pathMtu.last = to;
        break;
      }
    }
  }

  const first = events[0]?.time ?? 0;
  const last = events[events.length - 1]?.time ?? 0;
  const transferTime = firstDataAt !== null && lastAckAt !== null ? lastAckAt - firstDataAt : 0;
  const summary: Summary = {
    vantagePoint: trace.vantagePoint,
    duration: (last - first) / 1000,
    packetsSent,
    ackElicitingSent: ackEliciting,
    packetsReceived,
    packetsLost,
    lossRate: ackEliciting > 0 ? packetsLost / ackEliciting : 0,
    dataBytesSent: sentNew,
    dataBytesRetransmitted: sentAgain,
    dataBytesAcked: ackedBytes,
    goodput: transferTime > 0 ? ackedBytes / transferTime : 0,
    minRtt,
    smoothedRtt: srtt,
    maxCwnd,
    timeBlocked,
    finalState,
    pathMtu,
  };
  return {
    summary,
    timeSequence: thin(timeSequence, buckets),
    window: thin(window, buckets),
    pacing: thin(pacing, buckets),
    rtt: thin(rtt, buckets),
  };
}

/** First index ≥ `from` whose value is ≥ `x` (`a` is sorted ascending). */
function lowerBound(a: number[], x: number, from: number): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** The short text summary the CLI prints. */
export function formatSummary(s: Summary): string {
  const lines = [
    `vantage point   ${s.vantagePoint}, ${s.duration.toFixed(3)} s of trace${s.finalState ? `, ended ${s.finalState}` : ''}`,
    `goodput         ${fmtBytes(s.goodput)}/s (${((s.goodput * 8) / 1e6).toFixed(2)} Mbit/s): ${fmtBytes(s.dataBytesAcked)} acknowledged`,
    `packets         ${s.packetsSent} sent (${s.ackElicitingSent} ack-eliciting), ${s.packetsReceived} received`,
    `loss            ${s.packetsLost} packets lost (${(s.lossRate * 100).toFixed(2)} % of ack-eliciting)`,
    `retransmissions ${fmtBytes(s.dataBytesRetransmitted)} of data sent again (${s.dataBytesSent > 0 ? ((s.dataBytesRetransmitted / s.dataBytesSent) * 100).toFixed(2) : '0.00'} % of ${fmtBytes(s.dataBytesSent)})`,
    `rtt             min ${s.minRtt?.toFixed(2) ?? '-'} ms, smoothed ${s.smoothedRtt?.toFixed(2) ?? '-'} ms; largest cwnd ${s.maxCwnd !== null ? fmtBytes(s.maxCwnd) : '-'}`,
  ];
  const tb = s.timeBlocked;
  if (tb) {
    const ms = (v: number): string => `${(v / 1000).toFixed(3)} s`;
    lines.push(
      `time blocked    congestion window ${ms(tb.congestion_window)}, pacing ${ms(tb.pacing)}, flow control ${ms(tb.flow_control)}, app-limited ${ms(tb.application)}`,
    );
  } else {
    lines.push('time blocked    (not in this trace: reliable-dgram writes it when the connection ends)');
  }
  const mtu = s.pathMtu;
  if (mtu) lines.push(`path MTU        ${mtu.last} B at the end, ${mtu.changes} change${mtu.changes === 1 ? '' : 's'}, ${mtu.blackHoles} black hole${mtu.blackHoles === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}
