import { Reader } from './reader.js';
import { varintLength, writeVarint } from './varint.js';
import {
  CHANNEL_FLAG,
  DATA_FRAME_HEADER_SIZE,
  DATA_PART_HEADER_SIZE,
  DataFlag,
  FrameType,
  MAX_REASON_SIZE,
  PATH_DATA_SIZE,
  PATH_FRAME_SIZE,
  type AckFrame,
  type DataFrame,
  type DataPartFrame,
  type Frame,
  type ResetFrame,
  type UnreliableFrame,
} from './types.js';

/**
 * Frame encoding and decoding. Encoders write into a caller-supplied buffer and return the new
 * offset, so the engine can fill one datagram-sized buffer without intermediate allocations.
 */

const textEncoder = new TextEncoder();
// fatal: invalid UTF-8 makes the frame malformed. ignoreBOM: a reason that starts with U+FEFF
// must come out as it went in (the default would silently strip it).
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The body of a RESET frame (§5.5), after its type byte: code, reason length, UTF-8 reason.
 * Null when malformed (a reason too long, cut short, or not UTF-8). Shared by `decodeFrame` and
 * the in-place DataPacketReader, so both judge a RESET alike.
 */
export function readResetBody(r: Reader): ResetFrame | null {
  const code = r.u16();
  const length = r.varint();
  if (length > MAX_REASON_SIZE) return null;
  const bytes = r.bytes(length);
  if (!r.ok) return null;
  try {
    return { type: 'reset', code, reason: textDecoder.decode(bytes) };
  } catch {
    return null;
  }
}

/** Bytes `frame` takes on the wire. */
export function frameSize(frame: Frame): number {
  switch (frame.type) {
    case 'ping':
    case 'close':
      return 1;
    case 'ack':
      return ackFrameSize(frame);
    case 'reset': {
      const reasonLength = textEncoder.encode(frame.reason).length;
      return 1 + 2 + varintLength(reasonLength) + reasonLength;
    }
    case 'data':
      return DATA_FRAME_HEADER_SIZE + channelSize(frame.channel ?? 0) + frame.payload.length;
    case 'data-part':
      return DATA_PART_HEADER_SIZE + channelSize(frame.channel ?? 0) + frame.payload.length;
    case 'unreliable':
      return unreliableHeaderSize(frame.index, frame.count) + channelSize(frame.channel ?? 0) + frame.payload.length;
    case 'path-challenge':
    case 'path-response':
      return PATH_FRAME_SIZE;
  }
}

export function ackFrameSize(frame: AckFrame): number {
  let size = 1 + 4 + varintLength(frame.ackDelay) + 4 + varintLength(frame.ranges.length / 2);
  size += varintLength(frame.firstRange);
  const ranges = frame.ranges;
  for (let i = 0; i < ranges.length; i++) size += varintLength(ranges[i]!);
  return size;
}

/** Extra bytes a frame of `channel` carries: the channel byte, for channels other than 0. */
export function channelSize(channel: number): number {
  return channel === 0 ? 0 : 1;
}

export function unreliableHeaderSize(index: number, count: number): number {
  return 1 + 4 + varintLength(index) + varintLength(count) + 2;
}

/** Write `frame` at `offset`; returns the offset after it. The caller guarantees room. */
export function writeFrame(buf: Uint8Array, offset: number, frame: Frame): number {
  switch (frame.type) {
    case 'ping':
      buf[offset] = FrameType.Ping;
      return offset + 1;
    case 'close':
      buf[offset] = FrameType.Close;
      return offset + 1;
    case 'ack':
      return writeAckFrame(buf, offset, frame);
    case 'reset': {
      const reason = textEncoder.encode(frame.reason);
      buf[offset] = FrameType.Reset;
      offset = writeU16(buf, offset + 1, frame.code);
      offset = writeVarint(buf, offset, reason.length);
      buf.set(reason, offset);
      return offset + reason.length;
    }
    case 'data': {
      let flags = 0;
      if (frame.first) flags |= DataFlag.First;
      if (frame.last) flags |= DataFlag.Last;
      if (frame.unordered) flags |= DataFlag.Unordered;
      offset = writeDataFrameHeader(buf, offset, frame.tsn, flags, frame.payload.length, frame.channel ?? 0);
      buf.set(frame.payload, offset);
      return offset + frame.payload.length;
    }
    case 'data-part': {
      let flags = 0;
      if (frame.first) flags |= DataFlag.First;
      if (frame.last) flags |= DataFlag.Last;
      if (frame.unordered) flags |= DataFlag.Unordered;
      offset = writeDataPartFrameHeader(
        buf,
        offset,
        frame.tsn,
        flags,
        frame.length,
        frame.offset,
        frame.payload.length,
        frame.channel ?? 0,
      );
      buf.set(frame.payload, offset);
      return offset + frame.payload.length;
    }
    case 'unreliable': {
      offset = writeUnreliableFrameHeader(
        buf,
        offset,
        frame.messageId,
        frame.index,
        frame.count,
        frame.payload.length,
        frame.channel ?? 0,
      );
      buf.set(frame.payload, offset);
      return offset + frame.payload.length;
    }
    case 'path-challenge':
    case 'path-response':
      return writePathFrame(buf, offset, frame.type === 'path-challenge' ? FrameType.PathChallenge : FrameType.PathResponse, frame.data);
  }
}

/** A PATH_CHALLENGE or PATH_RESPONSE frame (`type`) with its 8 bytes of `data` (§5.10). */
export function writePathFrame(buf: Uint8Array, offset: number, type: number, data: Uint8Array): number {
  buf[offset] = type;
  buf.set(data.subarray(0, PATH_DATA_SIZE), offset + 1);
  return offset + PATH_FRAME_SIZE;
}

export function writeAckFrame(buf: Uint8Array, offset: number, frame: AckFrame): number {
  buf[offset] = FrameType.Ack;
  offset = writeU32(buf, offset + 1, frame.largest);
  offset = writeVarint(buf, offset, frame.ackDelay);
  offset = writeU32(buf, offset, frame.maxTsn);
  // The range count, the first range, then each gap and length, through one call site: the
  // varint writer is inlined at each, and each inlined copy is compiled again (issue 11).
  const ranges = frame.ranges;
  for (let i = -2; i < ranges.length; i++) offset = writeVarint(buf, offset, i >= 0 ? ranges[i]! : i === -2 ? ranges.length / 2 : frame.firstRange);
  return offset;
}

/**
 * Header of a DATA frame; `flags` is a combination of {@link DataFlag}. A channel other than 0
 * sets {@link CHANNEL_FLAG} and adds its byte after the type.
 */
export function writeDataFrameHeader(
  buf: Uint8Array,
  offset: number,
  tsn: number,
  flags: number,
  length: number,
  channel = 0,
): number {
  offset = writeFrameType(buf, offset, FrameType.Data | flags, channel);
  offset = writeU32(buf, offset, tsn);
  return writeU16(buf, offset, length);
}

function writeFrameType(buf: Uint8Array, offset: number, type: number, channel: number): number {
  if (channel === 0) {
    buf[offset] = type;
    return offset + 1;
  }
  buf[offset] = type | CHANNEL_FLAG;
  buf[offset + 1] = channel;
  return offset + 2;
}

/**
 * Header of a DATA_PART frame: the fragment's TSN and {@link DataFlag}s, its length, this piece's
 * place. A channel other than 0 sets {@link CHANNEL_FLAG} and adds its byte, as on DATA.
 */
export function writeDataPartFrameHeader(
  buf: Uint8Array,
  offset: number,
  tsn: number,
  flags: number,
  fragmentLength: number,
  partOffset: number,
  partLength: number,
  channel = 0,
): number {
  offset = writeFrameType(buf, offset, FrameType.DataPart, channel);
  offset = writeU32(buf, offset, tsn);
  buf[offset++] = flags;
  offset = writeU16(buf, offset, fragmentLength);
  offset = writeU16(buf, offset, partOffset);
  return writeU16(buf, offset, partLength);
}

export function writeUnreliableFrameHeader(
  buf: Uint8Array,
  offset: number,
  messageId: number,
  index: number,
  count: number,
  length: number,
  channel = 0,
): number {
  offset = writeFrameType(buf, offset, FrameType.Unreliable, channel);
  offset = writeU32(buf, offset, messageId);
  offset = writeVarint(buf, offset, index);
  offset = writeVarint(buf, offset, count);
  return writeU16(buf, offset, length);
}

export function writeU16(buf: Uint8Array, offset: number, value: number): number {
  buf[offset] = (value >>> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
  return offset + 2;
}

export function writeU32(buf: Uint8Array, offset: number, value: number): number {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
  return offset + 4;
}

/**
 * Decode the frames of a DATA packet payload. PADDING bytes are skipped. Returns null when any
 * frame is malformed or runs past the end: the whole packet is then discarded.
 */
export function readFrames(r: Reader): Frame[] | null {
  const frames: Frame[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    if (type === FrameType.Padding) continue;
    const frame = readFrameBody(r, type);
    if (frame === null || !r.ok) return null;
    frames.push(frame);
  }
  return r.ok ? frames : null;
}

function readFrameBody(r: Reader, type: number): Frame | null {
  let channel = 0;
  if ((type & CHANNEL_FLAG) !== 0 && ((type & 0xe8) === FrameType.Data || type === (FrameType.Unreliable | CHANNEL_FLAG) || type === (FrameType.DataPart | CHANNEL_FLAG))) {
    channel = r.u8();
    // Channel 0 is written without the flag: one encoding per frame.
    if (channel === 0) return null;
    type &= ~CHANNEL_FLAG;
  }
  if ((type & 0xf8) === FrameType.Data) {
    const tsn = r.u32();
    const length = r.u16();
    const payload = r.bytes(length);
    const frame: DataFrame = {
      type: 'data',
      tsn,
      first: (type & DataFlag.First) !== 0,
      last: (type & DataFlag.Last) !== 0,
      unordered: (type & DataFlag.Unordered) !== 0,
      payload,
    };
    if (channel !== 0) frame.channel = channel;
    return frame;
  }
  switch (type) {
    case FrameType.Ping:
      return { type: 'ping' };
    case FrameType.Close:
      return { type: 'close' };
    case FrameType.Ack: {
      const largest = r.u32();
      const ackDelay = r.varint();
      const maxTsn = r.u32();
      const rangeCount = r.varint();
      const firstRange = r.varint();
      // Each further range needs at least two bytes: reject impossible counts before looping.
      if (rangeCount * 2 > r.remaining) return null;
      const ranges: number[] = [];
      for (let i = 0; i < rangeCount; i++) {
        ranges.push(r.varint(), r.varint());
      }
      return { type: 'ack', largest, ackDelay, maxTsn, firstRange, ranges };
    }
    case FrameType.Reset:
      return readResetBody(r);
    case FrameType.DataPart: {
      const tsn = r.u32();
      const flags = r.u8();
      const length = r.u16();
      const offset = r.u16();
      const partLength = r.u16();
      const payload = r.bytes(partLength);
      if ((flags & ~0x07) !== 0 || partLength === 0 || offset + partLength > length) return null;
      const frame: DataPartFrame = {
        type: 'data-part',
        tsn,
        first: (flags & DataFlag.First) !== 0,
        last: (flags & DataFlag.Last) !== 0,
        unordered: (flags & DataFlag.Unordered) !== 0,
        length,
        offset,
        payload,
      };
      if (channel !== 0) frame.channel = channel;
      return frame;
    }
    case FrameType.Unreliable: {
      const messageId = r.u32();
      const index = r.varint();
      const count = r.varint();
      const length = r.u16();
      const payload = r.bytes(length);
      if (count === 0 || index >= count) return null;
      const frame: UnreliableFrame = { type: 'unreliable', messageId, index, count, payload };
      if (channel !== 0) frame.channel = channel;
      return frame;
    }
    case FrameType.PathChallenge:
      return { type: 'path-challenge', data: r.bytes(PATH_DATA_SIZE) };
    case FrameType.PathResponse:
      return { type: 'path-response', data: r.bytes(PATH_DATA_SIZE) };
    default:
      return null;
  }
}
