import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CookieJar, resetTokenFor } from '../../src/core/cookie.js';
import { DataPacketReader } from '../../src/wire/data-packet-reader.js';
import { decodePacket, packetSize, seal } from '../../src/wire/packet.js';
import { Reader } from '../../src/wire/reader.js';
import { FrameType, PacketType, type Frame, type Packet } from '../../src/wire/types.js';
import { comparable, fromHex, toHex } from '../wire/helpers.js';

/**
 * docs/protocol.md must not drift from the code: every `<!-- example: NAME -->` + ```hex block in
 * it is decoded with the real decoder and compared with the values written below, the
 * field-by-field tables next to the blocks are checked against the bytes, and the examples must
 * cover every packet type and every frame type.
 */

const DOC_URL = new URL('../../docs/protocol.md', import.meta.url);
const doc = readFileSync(DOC_URL, 'utf8');

interface Example {
  name: string;
  bytes: Uint8Array;
  /** Rows of the breakdown table that follows the block: offset, size, bytes cell. */
  rows: { offset: number; size: number; field: string; shown: string }[];
}

function parseExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const re = /<!-- example: ([a-z0-9-]+) -->\n```hex\n([\s\S]*?)\n```\n((?:\n|\|[^\n]*\n)*)/g;
  for (const m of markdown.matchAll(re)) {
    const rows = [];
    for (const line of m[3]!.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      // | Offset | Size | Field | Bytes | Value |  → ['', off, size, field, bytes, value, '']
      if (cells.length < 7 || !/^\d+$/.test(cells[1]!)) continue;
      rows.push({ offset: Number(cells[1]), size: Number(cells[2]), field: cells[3]!, shown: cells[4]!.replace(/`/g, '') });
    }
    out.push({ name: m[1]!, bytes: fromHex(m[2]!), rows });
  }
  return out;
}

const examples = parseExamples(doc);
const te = new TextEncoder();
const bytes = (hex: string) => fromHex(hex);
const zeros = (n: number) => new Uint8Array(n);

const CLIENT_CID = 0x0123456789abcdefn;
const SERVER_CID = 0xfedcba9876543210n;

/** Reset token as §11 defines it. */
function resetToken(keyByte: number, cid: bigint): Uint8Array {
  const c = Buffer.alloc(8);
  c.writeBigUInt64BE(cid);
  return new Uint8Array(createHmac('sha256', Buffer.alloc(32, keyByte)).update(c).digest().subarray(0, 16));
}
const CLIENT_TOKEN = resetToken(0x11, CLIENT_CID);
const SERVER_TOKEN = resetToken(0x22, SERVER_CID);

/** Cookie as §10.3 defines it, for the example's inputs. */
function cookie(): Uint8Array {
  const timestamp = Buffer.alloc(4);
  timestamp.writeUInt32BE(1000);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(50000);
  const cid = Buffer.alloc(8);
  cid.writeBigUInt64BE(CLIENT_CID);
  const mac = createHmac('sha256', Buffer.alloc(32, 0x33))
    .update(Buffer.concat([Buffer.from('192.0.2.1', 'utf8'), Buffer.from([0]), port, cid, timestamp]))
    .digest()
    .subarray(0, 16);
  return new Uint8Array(Buffer.concat([timestamp, mac]));
}

const CLIENT_PARAMS = {
  maxDatagramSize: 1200,
  initialWindow: 2880,
  idleTimeout: 30000,
  initialPacketNumber: 1000,
  initialTsn: 5000,
  resetToken: CLIENT_TOKEN,
  maxMessageSize: 4 * 1024 * 1024,
};
const SERVER_PARAMS = {
  maxDatagramSize: 1200,
  initialWindow: 2880,
  idleTimeout: 30000,
  initialPacketNumber: 0x7fff_fff0,
  initialTsn: 0xffff_fffe,
  resetToken: SERVER_TOKEN,
  maxMessageSize: 4 * 1024 * 1024,
};

function data(dcid: bigint, packetNumber: number, frames: Frame[]): Packet {
  return { type: 'data', dcid, packetNumber, frames };
}
function dataFrame(tsn: number, flags: string, payload: Uint8Array): Frame {
  return {
    type: 'data',
    tsn,
    first: flags.includes('F'),
    last: flags.includes('L'),
    unordered: flags.includes('U'),
    payload,
  };
}

/** What each example must decode to, and its exact size on the wire. */
const EXPECTED: Record<string, { size: number; packet: Packet }> = {
  initial: {
    size: 1200,
    packet: { type: 'initial', version: 1, scid: CLIENT_CID, params: CLIENT_PARAMS, cookie: zeros(0) },
  },
  'initial-with-cookie': {
    size: 1200,
    packet: { type: 'initial', version: 1, scid: CLIENT_CID, params: CLIENT_PARAMS, cookie: cookie() },
  },
  retry: { size: 35, packet: { type: 'retry', dcid: CLIENT_CID, cookie: cookie() } },
  accept: { size: 62, packet: { type: 'accept', dcid: CLIENT_CID, scid: SERVER_CID, params: SERVER_PARAMS } },
  'stateless-reset': { size: 30, packet: { type: 'stateless-reset', dcid: SERVER_CID, token: SERVER_TOKEN } },
  'version-negotiation': { size: 16, packet: { type: 'version-negotiation', dcid: CLIENT_CID, versions: [1] } },
  'data-ack-data-ping': {
    size: 42,
    packet: data(CLIENT_CID, 0x7fff_fff3, [
      { type: 'ack', largest: 1000, ackDelay: 0, maxTsn: 8192, firstRange: 0, ranges: [] },
      dataFrame(0xffff_fffe, 'FL', te.encode('pong')),
      { type: 'ping' },
    ]),
  },
  'data-padding': { size: 26, packet: data(SERVER_CID, 1014, [{ type: 'ping' }]) },
  'data-mtu-probe': { size: 1326, packet: data(SERVER_CID, 1017, [{ type: 'ping' }]) },
  'data-part': {
    size: 35,
    packet: data(SERVER_CID, 1016, [
      { type: 'data-part', tsn: 5004, first: true, last: true, unordered: false, length: 11, offset: 6, payload: te.encode('world') },
    ]),
  },
  'data-part-channel': {
    size: 36,
    packet: data(SERVER_CID, 1018, [
      { type: 'data-part', channel: 5, tsn: 5001, first: true, last: true, unordered: false, length: 11, offset: 0, payload: te.encode('hello') },
    ]),
  },
  'data-ping': { size: 19, packet: data(SERVER_CID, 1013, [{ type: 'ping' }]) },
  'data-path-challenge': { size: 27, packet: data(SERVER_CID, 1018, [{ type: 'path-challenge', data: bytes('5c1f3a9e07d264b8') }]) },
  'data-path-response': { size: 27, packet: data(CLIENT_CID, 2043, [{ type: 'path-response', data: bytes('5c1f3a9e07d264b8') }]) },
  'data-ack': {
    size: 35,
    packet: data(CLIENT_CID, 0x7fff_fff1, [
      { type: 'ack', largest: 1012, ackDelay: 1250, maxTsn: 8572, firstRange: 2, ranges: [0, 0, 1, 5] },
    ]),
  },
  'data-close': { size: 19, packet: data(SERVER_CID, 1015, [{ type: 'close' }]) },
  'data-reset': {
    size: 55,
    packet: data(CLIENT_CID, 0x7fff_fff2, [{ type: 'reset', code: 1, reason: 'ACK of a packet number never sent' }]),
  },
  'data-unreliable': {
    size: 35,
    packet: data(SERVER_CID, 1016, [{ type: 'unreliable', messageId: 42, index: 1, count: 3, payload: te.encode('pos 12,7') }]),
  },
  'data-frame': { size: 30, packet: data(SERVER_CID, 1000, [dataFrame(5000, 'FL', te.encode('hello'))]) },
  'data-frame-fragments': {
    size: 64,
    packet: data(SERVER_CID, 1001, [
      dataFrame(5001, 'F', te.encode('The quick ')),
      dataFrame(5002, '', te.encode('brown fox ')),
      dataFrame(5003, 'L', te.encode('jumps')),
    ]),
  },
  'data-channels': {
    size: 43,
    packet: data(SERVER_CID, 1017, [
      { ...dataFrame(5000, 'FL', te.encode('chat')), channel: 3 } as Frame,
      { type: 'unreliable', channel: 7, messageId: 43, index: 0, count: 1, payload: te.encode('pos') },
    ]),
  },
  'data-frame-unordered': {
    size: 34,
    packet: data(CLIENT_CID, 0x7fff_fff0, [dataFrame(0xffff_fffe, 'FLU', bytes('cafe')), dataFrame(0xffff_ffff, 'FL', zeros(0))]),
  },
};

describe('docs/protocol.md examples', () => {
  it('has one example per expected name, each name once', () => {
    const names = examples.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(EXPECTED).sort());
    // Every example marker is followed by a hex block the parser understood.
    expect(doc.match(/<!-- example: /g)?.length).toBe(names.length);
  });

  it.each(examples.map((e) => [e.name, e] as const))('%s decodes to the documented values', (_name, example) => {
    const expected = EXPECTED[example.name]!;
    const decoded = decodePacket(example.bytes);
    expect(decoded.ok ? null : decoded.reason).toBeNull();
    if (!decoded.ok) return;
    expect(example.bytes.length).toBe(expected.size);
    expect(comparable(decoded.value)).toEqual(comparable(expected.packet));
  });

  it.each(examples.map((e) => [e.name, e] as const))('%s: the breakdown table matches the bytes', (_name, example) => {
    expect(example.rows.length).toBeGreaterThan(3);
    let offset = 0;
    for (const row of example.rows) {
      expect(row.offset, row.field).toBe(offset);
      const actual = toHex(example.bytes.subarray(row.offset, row.offset + row.size));
      if (row.shown.includes('…')) {
        const [head, tail] = row.shown.split('…') as [string, string];
        expect(actual.startsWith(head) && actual.endsWith(tail), `${row.field}: ${row.shown}`).toBe(true);
      } else if (row.size === 0) {
        expect(row.shown).toBe('—');
      } else {
        expect(actual, row.field).toBe(row.shown);
      }
      offset += row.size;
    }
    expect(offset).toBe(example.bytes.length);
  });

  it('cover every packet type and every frame type', () => {
    const packetTypes = new Set<number>();
    const frameTypes = new Set<number>();
    for (const example of examples) {
      packetTypes.add(example.bytes[1]!);
      const decoded = decodePacket(example.bytes);
      if (!decoded.ok || decoded.value.type !== 'data') continue;
      // PADDING never appears among decoded frames: it shows as bytes the frames do not account for.
      if (packetSize(decoded.value) < example.bytes.length) frameTypes.add(FrameType.Padding);
      for (const f of decoded.value.frames) {
        const code = {
          ping: FrameType.Ping,
          ack: FrameType.Ack,
          close: FrameType.Close,
          reset: FrameType.Reset,
          unreliable: FrameType.Unreliable,
          data: FrameType.Data,
          'data-part': FrameType.DataPart,
          'path-challenge': FrameType.PathChallenge,
          'path-response': FrameType.PathResponse,
        }[f.type];
        frameTypes.add(code);
      }
    }
    expect([...packetTypes].sort()).toEqual(Object.values(PacketType).sort());
    expect([...frameTypes].sort()).toEqual(Object.values(FrameType).sort());
  });

  it('cover every DATA frame flag', () => {
    const flags = new Set<string>();
    for (const example of examples) {
      const decoded = decodePacket(example.bytes);
      if (!decoded.ok || decoded.value.type !== 'data') continue;
      for (const f of decoded.value.frames) {
        if (f.type === 'data') {
          if (f.first) flags.add('first');
          if (f.last) flags.add('last');
          if (f.unordered) flags.add('unordered');
          if (!f.first && !f.last) flags.add('middle');
        }
      }
    }
    expect([...flags].sort()).toEqual(['first', 'last', 'middle', 'unordered']);
  });

  it('Appendix B lists exactly the examples', () => {
    const appendix = doc.slice(doc.indexOf('## Appendix B'));
    const listed = [...appendix.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(examples.map((e) => e.name).sort());
  });

  it('the varint examples of §1.4 are right', () => {
    const section = doc.slice(doc.indexOf('### 1.4'), doc.indexOf('### 1.5'));
    const rows = [...section.matchAll(/^\| (?:.*= )?([\d,]+)(?: \(.*\))? \| `([0-9a-f ]+)` \|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const [, value, hex] of rows) {
      const encoded = fromHex(hex!);
      const r = new Reader(encoded, 0, encoded.length);
      expect(r.varint(), hex).toBe(Number(value!.replace(/,/g, '')));
      expect(r.ok && r.remaining === 0).toBe(true);
    }
  });

  it('the ACK frame quoted in §7 is the one in the data-ack example', () => {
    const quoted = /the frame is `([0-9a-f ]+)`/.exec(doc)?.[1];
    expect(quoted).toBeDefined();
    const ack = examples.find((e) => e.name === 'data-ack')!;
    expect(toHex(ack.bytes.subarray(14, ack.bytes.length - 4))).toBe(quoted!.replace(/ /g, ''));
  });

  it("the request/response example of §5 and the data-frame example are the shapes the reference receiver's fast path reads", () => {
    const reader = new DataPacketReader();
    const reply = examples.find((e) => e.name === 'data-ack-data-ping')!.bytes;
    expect(reader.predictData(reply)).toBeNull();
    expect(reader.predictAckData(reply)).not.toBeNull();
    expect([reader.predictedAck, reader.predictedPing]).toEqual([true, true]);
    expect(reader.predictData(examples.find((e) => e.name === 'data-frame')!.bytes)).not.toBeNull();
    // A PADDING frame after the DATA is not that shape: read the general way.
    expect(reader.predictAckData(examples.find((e) => e.name === 'data-padding')!.bytes)).toBeNull();
  });

  it('the cookie and reset-token recipes of §10.3 and §11 are what the endpoint computes', () => {
    const jar = new CookieJar({ randomBytes: (n) => new Uint8Array(n).fill(0x33), now: 1_000_000 });
    expect(toHex(jar.mint(1_000_500, '192.0.2.1', 50000, CLIENT_CID))).toBe(toHex(cookie()));
    expect(toHex(resetTokenFor(new Uint8Array(32).fill(0x11), CLIENT_CID))).toBe(toHex(CLIENT_TOKEN));
    expect(toHex(resetTokenFor(new Uint8Array(32).fill(0x22), SERVER_CID))).toBe(toHex(SERVER_TOKEN));
  });

  it('the CRC-32 is the documented one (check value of "123456789")', () => {
    // A 9-byte "datagram" body sealed by the wire code carries the check value as its trailer.
    const body = te.encode('123456789');
    const buf = new Uint8Array(body.length + 4);
    buf.set(body);
    expect(toHex(seal(buf, body.length).subarray(body.length))).toBe('cbf43926');
    expect(doc).toContain('0xCBF43926');
  });
});
