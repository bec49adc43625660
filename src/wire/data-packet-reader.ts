import { MIN_DATAGRAM_SIZE, verifyChecksum } from './packet.js';
import { readResetBody } from './frames.js';
import { Reader } from './reader.js';
import {
  CHECKSUM_SIZE,
  DATA_FRAME_HEADER_SIZE,
  DATA_HEADER_SIZE,
  CHANNEL_FLAG,
  DataFlag,
  FrameType,
  PATH_DATA_SIZE,
  PROTOCOL_VERSION,
  PacketType,
  type AckFrame,
  type CloseFrame,
  type DataFrame,
  type DataPartFrame,
  type Frame,
  type PathChallengeFrame,
  type PathResponseFrame,
  type PingFrame,
  type UnreliableFrame,
} from './types.js';

const EMPTY = new Uint8Array(0);

/** The signed 32-bit big-endian integer at `o` of `d` (the caller checked the bounds). */
function be32(d: Uint8Array, o: number): number {
  return (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
}

/** Which payloads a frame read gets as views of the datagram. */
const enum Views {
  /** None (`open`'s walk, `skim`). */
  None,
  /** Every payload (`next`). */
  All,
  /** All but DATA frames' (`nextInPlace`). */
  NotData,
}
/** The one PING frame record: every PING read is this object (the prediction hands it on too). */
export const PING: PingFrame = { type: 'ping' };
const CLOSE: CloseFrame = { type: 'close' };

/**
 * Reads a DATA packet in place, for the engine's receive path: the same checks and the same
 * frames as `decodePacket` (docs/protocol.md "DATA"), without a packet object, a frame array or
 * an object per frame. One reader serves every datagram of a connection:
 *
 *   if (reader.open(datagram) === 'ok') for (let f = reader.next(); f !== null; f = reader.next()) ...
 *
 * `open` checks the CRC and the header, then walks every frame once without materializing it, so
 * a packet with any malformed frame is refused as a whole before any frame is acted on (as with
 * `decodePacket`). `next` then hands out the frames. PING and CLOSE are shared constants, and
 * ACK, DATA and UNRELIABLE frames are records reused from one call to the next: use a frame
 * before asking for the next one, keep only its `payload` (a view of the datagram).
 */
export class DataPacketReader {
  /** Destination connection ID of the packet opened, as two signed 32-bit halves (`cidHigh`, `cidLow` in packet.ts). */
  dcidHi = 0;
  dcidLo = 0;
  /** Low 32 bits of its packet number. */
  packetNumber = 0;
  /** DATA and UNRELIABLE frames in it (counted by `open`). */
  dataFrames = 0;
  /** PATH_CHALLENGE and PATH_RESPONSE frames in it (counted by `open`): path validation looks only when there are some. */
  pathFrames = 0;
  /** Frames in it, PADDING not counted (counted by `open`). */
  frames = 0;
  /** Payload length of the last DATA, DATA_PART or UNRELIABLE frame read without its payload view (`skim`). */
  skimmedLength = 0;
  /** After `predictAckData` gave a frame: whether an ACK frame came before it, a PING after it. */
  predictedAck = false;
  predictedPing = false;
  /**
   * The payload of the last DATA frame `nextInPlace` read: bytes `dataStart` to `dataStart +
   * dataLength` of `datagram` (the one opened), no view made.
   */
  dataStart = 0;
  dataLength = 0;
  /**
   * The datagram `predictAckData` last declined as one well-formed ACK frame filling it (its
   * frames walked, the CRC not checked): `open` of that same datagram, next, checks the CRC and
   * the header and skips its walk (the engine calls `open` right after a declined prediction;
   * datagrams are not changed in between). Cleared by either.
   */
  private ackOnly: Uint8Array | null = null;
  private readonly r = new Reader(EMPTY, 0, 0);
  private readonly ack: AckFrame = { type: 'ack', largest: 0, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [] };
  private readonly data: DataFrame = { type: 'data', channel: undefined, tsn: 0, first: false, last: false, unordered: false, payload: EMPTY };
  private readonly unreliable: UnreliableFrame = { type: 'unreliable', channel: undefined, messageId: 0, index: 0, count: 0, payload: EMPTY };
  private readonly pathChallenge: PathChallengeFrame = { type: 'path-challenge', data: EMPTY };
  private readonly pathResponse: PathResponseFrame = { type: 'path-response', data: EMPTY };
  private readonly dataPart: DataPartFrame = {
    type: 'data-part',
    channel: undefined,
    tsn: 0,
    first: false,
    last: false,
    unordered: false,
    length: 0,
    offset: 0,
    payload: EMPTY,
  };

  /**
   * Check `datagram` and get ready to read its frames. 'checksum': the CRC does not match;
   * 'not-data': a valid datagram of another type or version, or a malformed one.
   * `authenticated`: packet protection already opened it (its CRC field is neither computed nor checked).
   */
  open(datagram: Uint8Array, authenticated = false): 'ok' | 'checksum' | 'not-data' {
    const walked = this.ackOnly === datagram && !authenticated;
    this.ackOnly = null;
    if (datagram.length < MIN_DATAGRAM_SIZE) return 'not-data';
    if (!authenticated && !verifyChecksum(datagram)) return 'checksum';
    const end = datagram.length - CHECKSUM_SIZE;
    if (datagram[0] !== PROTOCOL_VERSION || datagram[1] !== PacketType.Data || end < DATA_HEADER_SIZE) return 'not-data';
    const r = this.r;
    r.reset(datagram, 2, end);
    this.dcidHi = r.u32() | 0;
    this.dcidLo = r.u32() | 0;
    this.packetNumber = r.u32();
    if (walked) {
      // Walked by predictAckData just now: one ACK, nothing else.
      this.dataFrames = 0;
      this.pathFrames = 0;
      this.frames = 1;
      r.reset(datagram, DATA_HEADER_SIZE, end);
      return 'ok';
    }
    // Walk every frame once: refuse the packet before any of it is acted on.
    let dataFrames = 0;
    let pathFrames = 0;
    let frames = 0;
    for (;;) {
      const f = this.frame(Views.None);
      if (f === undefined) return 'not-data';
      if (f === null) break;
      frames++;
      if (f.type === 'data' || f.type === 'data-part' || f.type === 'unreliable') dataFrames++;
      else if (f.type === 'path-challenge' || f.type === 'path-response') pathFrames++;
    }
    this.dataFrames = dataFrames;
    this.pathFrames = pathFrames;
    this.frames = frames;
    r.reset(datagram, DATA_HEADER_SIZE, end);
    return 'ok';
  }

  /**
   * Header prediction (Van Jacobson's for TCP): the packet a bulk receiver gets nearly always —
   * one DATA frame on channel 0 filling everything between the header and the CRC — recognised
   * at fixed offsets, before the CRC and without the generic walk. Returns that frame, with the
   * reader left exactly as `open` and then `nextInPlace` would leave it (header fields, counts,
   * the payload's `dataStart`/`dataLength`, no frame left to read); null: any other shape (then
   * nothing was changed; `open` reads it). **The CRC is not checked here**: the caller checks it
   * (`verifyChecksum`) before acting on anything, and falls back to `open` when it fails, which
   * counts it as `open` always does. Plaintext datagrams only (`open`'s `authenticated` false).
   */
  predictData(datagram: Uint8Array): DataFrame | null {
    const n = datagram.length;
    const end = n - CHECKSUM_SIZE;
    // Type byte at 14 (after the header): DATA, no CHANNEL flag (0x08–0x0f); TSN 15–18, length 19–20.
    if (end < DATA_HEADER_SIZE + DATA_FRAME_HEADER_SIZE || datagram[0] !== PROTOCOL_VERSION || datagram[1] !== PacketType.Data) return null;
    const type = datagram[DATA_HEADER_SIZE]!;
    // The length read before the type is checked (`end` covers a frame header): on a flow whose
    // packets nearly all begin with an ACK (a ping-pong, predictAckData's) these operations
    // would otherwise have no type feedback, and the first one beginning with DATA deoptimised
    // the compiled readPredicted they are inlined into (bench/warmup.ts --jobs).
    const length = (datagram[DATA_HEADER_SIZE + 5]! << 8) | datagram[DATA_HEADER_SIZE + 6]!;
    const start = DATA_HEADER_SIZE + DATA_FRAME_HEADER_SIZE;
    const fills = start + length === end;
    if ((type & 0xf8) !== FrameType.Data || !fills) return null;
    return this.predicted(datagram, DATA_HEADER_SIZE, type, start, length, end, 1);
  }

  /**
   * The second predicted shape, a request/response flow's packet: one ACK frame right after the
   * header (optional), then one DATA frame on channel 0, then optionally one PING byte (the last
   * packet of a burst asks for an immediate ACK), nothing else (no PADDING). Returns the DATA
   * frame; `predictedAck` and `predictedPing` say whether the ACK (its record: `ackFrame`) and the
   * PING are there, to be acted on in wire order. The reader is left as `open` and then the
   * `nextInPlace` calls would leave it. Null: any other shape (the reader's state is then
   * unspecified: the caller falls back to `open`, which sets all of it). The ACK body is read by
   * the same code as the general walk's (`body`). **The CRC is not checked here** (as
   * `predictData`). Plaintext datagrams only.
   */
  predictAckData(datagram: Uint8Array): DataFrame | null {
    this.ackOnly = null;
    const n = datagram.length;
    const end = n - CHECKSUM_SIZE;
    if (end < DATA_HEADER_SIZE + DATA_FRAME_HEADER_SIZE || datagram[0] !== PROTOCOL_VERSION || datagram[1] !== PacketType.Data) return null;
    const r = this.r;
    let at = DATA_HEADER_SIZE;
    const withAck = datagram[at] === FrameType.Ack;
    if (withAck) {
      r.reset(datagram, at + 1, end);
      if (this.ackBody() === null || !r.ok) return null;
      at = r.offset;
      if (at === end) {
        // One well-formed ACK filling the packet (a bulk sender's every packet): `open` need
        // not walk it again (`ackOnly`).
        this.ackOnly = datagram;
        return null;
      }
    }
    if (at + DATA_FRAME_HEADER_SIZE > end) return null;
    const type = datagram[at]!;
    if ((type & 0xf8) !== FrameType.Data) return null;
    const length = (datagram[at + 5]! << 8) | datagram[at + 6]!;
    const start = at + DATA_FRAME_HEADER_SIZE;
    // Nothing after the DATA frame, or one PING byte. Each comparison made on every call (the
    // PING is one packet in hundreds: a comparison only it reached had no type feedback, and
    // deoptimised readPredicted when the first one came).
    const rest = end - (start + length);
    const lastIsPing = datagram[end - 1] === FrameType.Ping;
    const oneMore = rest === 1;
    if (rest !== 0 && !(oneMore && lastIsPing)) return null;
    const withPing = rest !== 0;
    this.predictedAck = withAck;
    this.predictedPing = withPing;
    return this.predicted(datagram, at, type, start, length, end, (withAck ? 2 : 1) + (withPing ? 1 : 0));
  }

  /**
   * Both predictions' common end, once the shape is known to fit: the header as `open` reads it,
   * the DATA frame (type byte at `at`, payload at `start`) as one `nextInPlace` would, and the
   * reader left at `end` (nothing left to walk), `frames` frames counted.
   */
  private predicted(datagram: Uint8Array, at: number, type: number, start: number, length: number, end: number, frames: number): DataFrame {
    // Fixed offsets, all within `end` (the caller checked the shape): read straight, not
    // through the bounds-checked Reader (its reset and u32 were inlined here four times).
    this.dcidHi = be32(datagram, 2);
    this.dcidLo = be32(datagram, 6);
    this.packetNumber = be32(datagram, 10) >>> 0;
    const f = this.data;
    f.channel = undefined;
    f.tsn = be32(datagram, at + 1) >>> 0;
    f.payload = EMPTY;
    this.dataFrames = 1;
    this.pathFrames = 0;
    this.frames = frames;
    this.dataStart = start;
    this.dataLength = length;
    this.r.reset(datagram, end, end);
    f.first = (type & DataFlag.First) !== 0;
    f.last = (type & DataFlag.Last) !== 0;
    f.unordered = (type & DataFlag.Unordered) !== 0;
    return f;
  }

  /** The ACK frame `predictAckData` read (valid only after it returned a frame). */
  get ackFrame(): AckFrame {
    return this.ack;
  }

  /** The next frame of the packet opened, or null after the last. */
  next(): Frame | null {
    return this.frame(Views.All) ?? null;
  }

  /**
   * The next frame, as `next` gives it, except that a DATA frame's payload is left where it is:
   * its `payload` is empty, the bytes are `datagram` from `dataStart` for `dataLength`. For the
   * engine's receive path, which copies most DATA payloads into an assembly chunk and needs no
   * view of them (a view per received datagram was the largest object on the receive path).
   */
  nextInPlace(): Frame | null {
    return this.frame(Views.NotData) ?? null;
  }

  /** The datagram opened last. */
  get datagram(): Uint8Array {
    return this.r.buf;
  }

  /**
   * The next frame without its payload (for the qlog writer, src/core/qlog-tracer.ts): DATA,
   * DATA_PART and UNRELIABLE frames keep their old `payload`, the length is in `skimmedLength`;
   * PATH_CHALLENGE and PATH_RESPONSE keep their old `data`. Then `rewind` for the engine's `next`.
   */
  skim(): Frame | null {
    return this.frame(Views.None) ?? null;
  }

  /** Back to the first frame of the packet opened (after `skim`, or `next`). */
  rewind(): void {
    this.r.offset = DATA_HEADER_SIZE;
  }

  /** The next frame; null: no more; undefined: malformed. `views`: which payload views to make. */
  private frame(views: Views): Frame | null | undefined {
    const r = this.r;
    while (r.remaining > 0) {
      const type = r.u8();
      if (type === FrameType.Padding) continue;
      const f = this.body(type, views);
      if (f === null || !r.ok) return undefined;
      return f;
    }
    return r.ok ? null : undefined;
  }

  /**
   * An ACK frame's body (after its type byte), into the one ACK record; null: impossible range
   * count. Its own function, shared by the general walk (`body`) and `predictAckData`, and its
   * varints read through two call sites (the ACK delay; then the range count, the first range
   * and the ranges in one loop): the reader is inlined at each, and each copy is compiled
   * again (issue 11).
   */
  private ackBody(): AckFrame | null {
    const r = this.r;
    const f = this.ack;
    f.largest = r.u32();
    f.ackDelay = r.varint();
    f.maxTsn = r.u32();
    // Written in place: `length = 0` would drop the array's storage and the pushes
    // allocate it again, for every ACK (a steady flow's ACKs carry the same few ranges).
    const ranges = f.ranges;
    let n = 0;
    for (let i = -2; i < n; i++) {
      const v = r.varint();
      if (i >= 0) ranges[i] = v;
      else if (i === -2) n = 2 * v;
      else {
        f.firstRange = v;
        // Each further range needs at least two bytes: reject impossible counts before looping.
        if (n > r.remaining) return null;
      }
    }
    if (ranges.length !== n) ranges.length = n;
    return f;
  }

  private body(type: number, views: Views): Frame | null {
    const r = this.r;
    const materialize = views !== Views.None;
    // A channel other than 0: the CHANNEL flag and one channel byte after the type (§5.9).
    let channel: number | undefined;
    if ((type & CHANNEL_FLAG) !== 0 && ((type & 0xe8) === FrameType.Data || type === (FrameType.Unreliable | CHANNEL_FLAG) || type === (FrameType.DataPart | CHANNEL_FLAG))) {
      channel = r.u8();
      if (channel === 0) return null;
      type &= ~CHANNEL_FLAG;
    }
    if ((type & 0xf8) === FrameType.Data) {
      const f = this.data;
      f.channel = channel;
      f.tsn = r.u32();
      const length = r.u16();
      if (views === Views.All) f.payload = r.bytes(length);
      else {
        if (views === Views.NotData) {
          // Left in place (an empty payload, never the last frame's: nothing reads stale bytes).
          this.dataStart = r.offset;
          this.dataLength = length;
          f.payload = EMPTY;
        } else this.skimmedLength = length;
        r.skip(length);
      }
      f.first = (type & DataFlag.First) !== 0;
      f.last = (type & DataFlag.Last) !== 0;
      f.unordered = (type & DataFlag.Unordered) !== 0;
      return f;
    }
    switch (type) {
      case FrameType.Ping:
        return PING;
      case FrameType.Close:
        return CLOSE;
      case FrameType.Ack:
        return this.ackBody();
      case FrameType.Reset:
        return readResetBody(r);
      case FrameType.DataPart: {
        // The same checks as decodeFrame (frames.ts §5.8).
        const f = this.dataPart;
        f.channel = channel;
        f.tsn = r.u32();
        const flags = r.u8();
        f.length = r.u16();
        f.offset = r.u16();
        const partLength = r.u16();
        if (materialize) f.payload = r.bytes(partLength);
        else {
          r.skip(partLength);
          this.skimmedLength = partLength;
        }
        if ((flags & ~0x07) !== 0 || partLength === 0 || f.offset + partLength > f.length) return null;
        f.first = (flags & DataFlag.First) !== 0;
        f.last = (flags & DataFlag.Last) !== 0;
        f.unordered = (flags & DataFlag.Unordered) !== 0;
        return f;
      }
      case FrameType.Unreliable: {
        const f = this.unreliable;
        f.channel = channel;
        f.messageId = r.u32();
        f.index = r.varint();
        f.count = r.varint();
        const length = r.u16();
        if (materialize) f.payload = r.bytes(length);
        else {
          r.skip(length);
          this.skimmedLength = length;
        }
        if (f.count === 0 || f.index >= f.count) return null;
        return f;
      }
      case FrameType.PathChallenge:
      case FrameType.PathResponse: {
        // Records reused like the others; `data` is a view of the datagram (§5.10).
        const f = type === FrameType.PathChallenge ? this.pathChallenge : this.pathResponse;
        if (materialize) f.data = r.bytes(PATH_DATA_SIZE);
        else r.skip(PATH_DATA_SIZE);
        return f;
      }
      default:
        return null;
    }
  }
}
