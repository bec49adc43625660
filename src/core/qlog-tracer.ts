import type { DataPacketReader } from '../wire/data-packet-reader.js';
import type { AckFrame, Frame } from '../wire/types.js';
import { expand32 } from '../wire/packet-number.js';
import {
  hex,
  METRIC_CWND,
  METRIC_IN_FLIGHT,
  METRIC_LATEST_RTT,
  METRIC_MIN_RTT,
  METRIC_PACING,
  METRIC_RTT_VAR,
  METRIC_SRTT,
  Tracer,
  traceReader,
  type QlogRecordSink,
  type RecoveryView,
  type TraceDestination,
  type TraceEvent,
  type TracedFragment,
} from './trace.js';

/**
 * The qlog writer's fast path: a {@link Tracer} that writes each event as qlog JSON-SEQ bytes
 * straight into the writer's chunk (a {@link QlogRecordSink}: `buf` from `pos`), with no event
 * object, no string and no `JSON.stringify` for the events a bulk transfer is made of
 * (packet_sent, packet_received, packet_lost, metrics_updated, congestion_state_updated: one
 * to three per packet). Every other event goes the general way (the event object of
 * {@link Tracer}, serialised by {@link qlogEventText}, then encoded), so an event added to
 * `Tracer` is written correctly without anything here.
 *
 * The bytes are exactly the UTF-8 of what `JSON.stringify` makes of the event objects `Tracer`
 * builds (same keys, same order, same numbers; test/core/qlog-tracer.test.ts compares the two
 * on recorded transfers): integers are written digit by digit, times, RTTs and ACK delays as
 * whole microseconds (`123.456`, trailing zeros dropped, as `String` does; Tracer rounds the
 * RTTs to microseconds too), other numbers through `String(n)` as
 * JSON.stringify does (non-finite ones become `null`), and the only text from outside (a RESET
 * frame's reason) goes through `JSON.stringify` for its escaping. A received packet's frames
 * are skimmed from the connection's own reader (no second read of the datagram).
 */

const RS = '\x1e';

/** Event time relative to `origin`, at microsecond resolution (plenty, and small files). */
export function relativeTime(time: number, origin: number): number {
  return Math.round((time - origin) * 1000) / 1000;
}

/** An event object as one JSON-SEQ record, its time relative to `origin` (the general path). */
export function qlogEventText(event: TraceEvent, origin: number): string {
  return RS + '{"time":' + relativeTime(event.time, origin) + ',"name":"' + event.name + '","data":' + JSON.stringify(event.data) + '}\n';
}

// ------------------------------------------------------------------ writing bytes

/** Room every single write below asks for at most (numbers, literals), bytes. */
const NUMBER_ROOM = 32;

/** An ASCII literal, encoded once. */
function lit(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function put(o: QlogRecordSink, bytes: Uint8Array): void {
  const n = bytes.length;
  if (o.pos + n > o.buf.length) o.reserve(n);
  // TypedArray.set is a memcpy: several times faster than a loop for these 10–100 bytes.
  o.buf.set(bytes, o.pos);
  o.pos += n;
}

/** ASCII text (a number's String()). */
function putAscii(o: QlogRecordSink, s: string): void {
  const n = s.length;
  if (o.pos + n > o.buf.length) o.reserve(n);
  const b = o.buf;
  let p = o.pos;
  for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
  o.pos = p;
}

const encoder = new TextEncoder();

/** Any text, as UTF-8 (the general path's records, escaped strings). */
export function putText(o: QlogRecordSink, s: string): void {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8.
  const max = s.length * 3;
  if (o.pos + max > o.buf.length) o.reserve(max);
  o.pos += encoder.encodeInto(s, o.buf.subarray(o.pos)).written;
}

/** '00'…'99' as pairs of ASCII digits: two digits per division. */
const PAIRS = (() => {
  const t = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    t[2 * i] = 48 + Math.floor(i / 10);
    t[2 * i + 1] = 48 + (i % 10);
  }
  return t;
})();

/** Decimal digits of a non-negative integer below 2^53. */
function digitCount(n: number): number {
  if (n < 1e5) return n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : 5;
  let len = 6;
  for (let p = 1e6; p <= n; p *= 10) len++;
  return len;
}

/** A non-negative integer below 2^53, two digits at a time from the end. */
function putUint(o: QlogRecordSink, n: number): void {
  const len = digitCount(n);
  if (o.pos + len > o.buf.length) o.reserve(NUMBER_ROOM);
  const b = o.buf;
  let i = o.pos + len;
  o.pos = i;
  while (n >= 100) {
    const q = Math.floor(n / 100);
    const r = (n - q * 100) * 2;
    b[--i] = PAIRS[r + 1]!;
    b[--i] = PAIRS[r]!;
    n = q;
  }
  if (n >= 10) {
    b[--i] = PAIRS[n * 2 + 1]!;
    b[--i] = PAIRS[n * 2]!;
  } else {
    b[--i] = 48 + n;
  }
}

/** A number as JSON.stringify writes it. */
function putNumber(o: QlogRecordSink, n: number): void {
  if (Number.isSafeInteger(n) && n >= 0) putUint(o, n);
  else putAscii(o, Number.isFinite(n) ? String(n) : 'null');
}

/** A time (ms, relative) at microsecond resolution, as `String(relativeTime(...))` writes it. */
function putTime(o: QlogRecordSink, time: number, origin: number): void {
  putMicros(o, Math.round((time - origin) * 1000));
}

/**
 * `us / 1000` (ms) as JSON.stringify writes it, for `us` a whole number of microseconds (or
 * anything else: then through {@link putNumber}): digits, a point and up to three decimals,
 * trailing zeros dropped — the shortest text of that double, which is what `String` gives.
 */
function putMicros(o: QlogRecordSink, us: number): void {
  if (!(us >= 0 && us <= Number.MAX_SAFE_INTEGER)) {
    putNumber(o, us / 1000);
    return;
  }
  const ms = Math.floor(us / 1000);
  let frac = us - ms * 1000;
  putUint(o, ms);
  if (frac === 0) return;
  if (o.pos + 4 > o.buf.length) o.reserve(NUMBER_ROOM);
  const b = o.buf;
  let p = o.pos;
  b[p++] = 46; // '.'
  let digits = 3;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  for (let i = digits - 1; i >= 0; i--) {
    b[p + i] = 48 + (frac % 10);
    frac = Math.floor(frac / 10);
  }
  o.pos = p + digits;
}

// The literals, in the order they are written.
const TIME = lit(RS + '{"time":');
const END = lit('}}\n');
const NAME_SENT = lit(',"name":"transport:packet_sent","data":{"header":{"packet_type":"1RTT","packet_number":');
const NAME_RECEIVED = lit(',"name":"transport:packet_received","data":{"header":{"packet_type":"1RTT","packet_number":');
const NAME_LOST = lit(',"name":"recovery:packet_lost","data":{"header":{"packet_type":"1RTT","packet_number":');
const NAME_METRICS = lit(',"name":"recovery:metrics_updated","data":{');
const NAME_CC_STATE = lit(',"name":"recovery:congestion_state_updated","data":{"old":');
const RAW_LENGTH = lit('},"raw":{"length":');
const ACK_ELICITING = lit('},"is_ack_eliciting":true,"frames":[');
const NOT_ACK_ELICITING = lit('},"is_ack_eliciting":false,"frames":[');
const PROBE_FRAMES = lit('},"is_ack_eliciting":true,"is_mtu_probe_packet":true,"frames":[{"frame_type":"ping"},{"frame_type":"padding"}]}}\n');
const FRAMES = lit('},"frames":[');
const FRAMES_END = lit(']}}\n');
const ACK_FRAME = lit('{"frame_type":"ack"}');
const CLOSE_FRAME = lit('{"frame_type":"connection_close"}');
const DATA_TSN = lit('{"frame_type":"data","tsn":');
const LENGTH = lit(',"length":');
const DATA_LENGTH = lit('{"frame_type":"data","length":');
const DATAGRAM_LENGTH = lit('{"frame_type":"datagram","length":');
const ACK_DELAY = lit('{"frame_type":"ack","ack_delay":');
const ACKED_RANGES = lit(',"acked_ranges":[');
const RANGE_END = lit(']]}');
const RESET_CODE = lit('{"frame_type":"connection_close","error_code":');
const REASON = lit(',"reason":');
const FRAME_TYPE = lit('{"frame_type":"');
const PATH_DATA = lit('","data":"');
const QUOTE_BRACE = lit('"}');
const BY_TIME = lit('},"trigger":"time_threshold"}}\n');
const BY_REORDERING = lit('},"trigger":"reordering_threshold"}}\n');
const NEW = lit(',"new":');
const CWND = lit('"congestion_window":');
const IN_FLIGHT = lit('"bytes_in_flight":');
const SRTT = lit('"smoothed_rtt":');
const MIN_RTT = lit('"min_rtt":');
const LATEST_RTT = lit('"latest_rtt":');
const RTT_VAR = lit('"rtt_variance":');
const PACING = lit('"pacing_rate":');

const RANGE_SEP = lit('],[');

/** `"name":value`, after a comma unless it is the first field. Returns true (the next is not the first). */
function putField(o: QlogRecordSink, name: Uint8Array, value: number, comma: boolean): boolean {
  if (comma) byte(o, 44);
  put(o, name);
  putNumber(o, value);
  return true;
}

/** `"name":ms` from whole microseconds, like {@link putField}. */
function putMsField(o: QlogRecordSink, name: Uint8Array, us: number, comma: boolean): boolean {
  if (comma) byte(o, 44);
  put(o, name);
  putMicros(o, us);
  return true;
}

function byte(o: QlogRecordSink, c: number): void {
  if (o.pos + 1 > o.buf.length) o.reserve(1);
  o.buf[o.pos++] = c;
}

/** Tracer writing qlog bytes into a {@link QlogRecordSink}. */
export class QlogTracer extends Tracer {
  constructor(private readonly out: QlogRecordSink) {
    const origin = out.origin;
    super((event) => {
      if (out.open()) putText(out, qlogEventText(event, origin));
    });
  }

  /** `RS{"time":T` — the start of a record. */
  private head(now: number): QlogRecordSink {
    const o = this.out;
    put(o, TIME);
    putTime(o, now, o.origin);
    return o;
  }

  /** The start every packet event shares: time, `name` (up to the packet number), number, raw length. */
  private packetHead(now: number, name: Uint8Array, pn: number, size: number): QlogRecordSink {
    const o = this.head(now);
    put(o, name);
    putUint(o, pn);
    put(o, RAW_LENGTH);
    putUint(o, size);
    return o;
  }

  override packetSent(
    now: number,
    pn: number,
    size: number,
    ack: boolean,
    fragments: readonly TracedFragment[] | null,
    close: boolean,
    ackEliciting: boolean,
  ): void {
    if (!this.out.open()) return;
    const o = this.packetHead(now, NAME_SENT, pn, size);
    put(o, ackEliciting ? ACK_ELICITING : NOT_ACK_ELICITING);
    let first = true;
    if (ack) {
      put(o, ACK_FRAME);
      first = false;
    }
    if (fragments !== null) {
      for (let i = 0; i < fragments.length; i++) {
        const f = fragments[i]!;
        if (!first) byte(o, 44); // ','
        first = false;
        put(o, DATA_TSN);
        putUint(o, f.tsn);
        put(o, LENGTH);
        putUint(o, f.length);
        byte(o, 125); // '}'
      }
    }
    if (close) {
      if (!first) byte(o, 44);
      put(o, CLOSE_FRAME);
    }
    put(o, FRAMES_END);
  }

  override mtuProbeSent(now: number, pn: number, size: number): void {
    if (!this.out.open()) return;
    const o = this.packetHead(now, NAME_SENT, pn, size);
    put(o, PROBE_FRAMES);
  }

  override packetReceived(now: number, pn: number, datagram: Uint8Array, largestSent: number, packet?: DataPacketReader): void {
    if (!this.out.open()) return;
    const o = this.packetHead(now, NAME_RECEIVED, pn, datagram.length);
    put(o, FRAMES);
    // The connection's own read of the datagram, skimmed (no second check of the datagram, no
    // payload views), unless the packet has path frames (their data is needed: read it again).
    if (packet !== undefined && packet.pathFrames === 0) {
      skimFrames(o, packet, largestSent);
      packet.rewind();
      put(o, FRAMES_END);
      return;
    }
    const r = traceReader;
    if (r.open(datagram, true) === 'ok') {
      let first = true;
      for (let f = r.next(); f !== null; f = r.next()) {
        if (!first) byte(o, 44);
        first = false;
        putFrame(o, f, f.type === 'data' || f.type === 'unreliable' ? f.payload.length : 0, largestSent);
      }
    }
    put(o, FRAMES_END);
  }

  override packetLost(now: number, pn: number, size: number, byTime: boolean): void {
    if (!this.out.open()) return;
    const o = this.packetHead(now, NAME_LOST, pn, size);
    put(o, byTime ? BY_TIME : BY_REORDERING);
  }

  override metrics(now: number, r: RecoveryView): void {
    const state = r.cc.state;
    if (state !== this.ccState) {
      if (this.out.open()) {
        const o = this.head(now);
        put(o, NAME_CC_STATE);
        putText(o, JSON.stringify(this.ccState ?? 'none'));
        put(o, NEW);
        putText(o, JSON.stringify(state ?? 'none'));
        put(o, END);
      }
      this.ccState = state;
    }
    // The values are remembered whether or not the record is dropped, as Tracer does.
    const changed = this.changedMetrics(r);
    if (changed === 0 || !this.out.open()) return;
    const o = this.head(now);
    put(o, NAME_METRICS);
    // Fields after the first get a comma before them.
    let next = false;
    if (changed & METRIC_CWND) next = putField(o, CWND, this.cwnd, next);
    if (changed & METRIC_IN_FLIGHT) next = putField(o, IN_FLIGHT, this.inFlight, next);
    if (changed & METRIC_SRTT) next = putMsField(o, SRTT, this.srttUs, next);
    if (changed & METRIC_MIN_RTT) next = putMsField(o, MIN_RTT, this.minRttUs, next);
    if (changed & METRIC_LATEST_RTT) next = putMsField(o, LATEST_RTT, this.latestRttUs, next);
    if (changed & METRIC_RTT_VAR) next = putMsField(o, RTT_VAR, this.rttVarUs, next);
    if (changed & METRIC_PACING) putField(o, PACING, this.pacing, next);
    put(o, END);
  }

  override connectionState(now: number, from: string, to: string, trigger?: string): void {
    super.connectionState(now, from, to, trigger);
    if (to === 'closed') this.out.end(now);
  }
}

/** The frames of a packet without path frames, from the connection's reader (`skim`: no payload views). */
function skimFrames(o: QlogRecordSink, r: DataPacketReader, largestSent: number): void {
  let first = true;
  for (let f = r.skim(); f !== null; f = r.skim()) {
    if (!first) byte(o, 44);
    first = false;
    putFrame(o, f, r.skimmedLength, largestSent);
  }
}

/**
 * One received frame as trace.ts's receivedFrame lists it. `payloadLength`: of a DATA or
 * UNRELIABLE frame (a skimmed frame has no payload view; the reader says its length).
 */
function putFrame(o: QlogRecordSink, f: Frame, payloadLength: number, largestSent: number): void {
  switch (f.type) {
    case 'ack':
      put(o, ACK_DELAY);
      putMicros(o, f.ackDelay);
      put(o, ACKED_RANGES);
      putRanges(o, f, largestSent);
      put(o, RANGE_END);
      break;
    case 'data':
      put(o, DATA_LENGTH);
      putUint(o, payloadLength);
      byte(o, 125);
      break;
    case 'unreliable':
      put(o, DATAGRAM_LENGTH);
      putUint(o, payloadLength);
      byte(o, 125);
      break;
    case 'close':
      put(o, CLOSE_FRAME);
      break;
    case 'reset':
      put(o, RESET_CODE);
      putUint(o, f.code);
      put(o, REASON);
      putText(o, JSON.stringify(f.reason));
      byte(o, 125);
      break;
    case 'path-challenge':
    case 'path-response':
      // The qlog name and the 8 bytes in hex.
      put(o, FRAME_TYPE);
      putAscii(o, f.type === 'path-challenge' ? 'path_challenge' : 'path_response');
      put(o, PATH_DATA);
      putAscii(o, hex(f.data));
      put(o, QUOTE_BRACE);
      break;
    default:
      put(o, FRAME_TYPE);
      putAscii(o, f.type);
      put(o, QUOTE_BRACE);
  }
}

/** `[lo,hi],[lo,hi]...` of an ACK frame: the text of `ackedRanges` (trace.ts) without the arrays. */
function putRanges(o: QlogRecordSink, f: AckFrame, largestSent: number): void {
  let hi = expand32(f.largest, largestSent + 1);
  let lo = hi - f.firstRange;
  byte(o, 91); // '['
  putNumber(o, lo);
  byte(o, 44);
  putNumber(o, hi);
  const ranges = f.ranges;
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    hi = lo - ranges[i]! - 2;
    lo = hi - ranges[i + 1]!;
    put(o, RANGE_SEP);
    putNumber(o, lo);
    byte(o, 44);
    putNumber(o, hi);
  }
}

/**
 * The tracer for a destination, or null (no tracing): what the modules hold. A function gets
 * the event objects ({@link Tracer}); a {@link QlogRecordSink} gets qlog bytes ({@link QlogTracer}).
 */
export function tracerFor(destination: TraceDestination | null | undefined): Tracer | null {
  if (destination === null || destination === undefined) return null;
  return typeof destination === 'function' ? new Tracer(destination) : new QlogTracer(destination);
}
