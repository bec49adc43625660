import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { DataPacketReader } from '../../src/wire/data-packet-reader.js';
import { decodePacket, encodePacket, seal, verifyChecksum } from '../../src/wire/packet.js';
import { cidHigh, cidLow } from '../../src/wire/cid-halves.js';
import type { Frame } from '../../src/wire/types.js';
import * as arb from './arbitraries.js';
import { comparable, flipBit } from './helpers.js';

/** What the in-place reader makes of a datagram: its verdict, and the frames copied out. */
function readAll(reader: DataPacketReader, datagram: Uint8Array): { verdict: string; pn?: number; cid?: number[]; frames?: unknown[] } {
  const verdict = reader.open(datagram);
  if (verdict !== 'ok') return { verdict };
  const frames: unknown[] = [];
  // Copy each frame before the next call: the reader reuses its records.
  for (let f: Frame | null = reader.next(); f !== null; f = reader.next()) frames.push(comparable(structuredClone(f)));
  // The halves are signed 32-bit values (small integers in V8), as cidHigh / cidLow give them.
  expect([reader.dcidHi | 0, reader.dcidLo | 0]).toEqual([reader.dcidHi, reader.dcidLo]);
  return { verdict, pn: reader.packetNumber, cid: [reader.dcidHi, reader.dcidLo], frames };
}

/** What decodePacket makes of it, in the same terms. */
function viaDecode(datagram: Uint8Array): { verdict: string; pn?: number; cid?: number[]; frames?: unknown[] } {
  const d = decodePacket(datagram);
  if (!d.ok) return { verdict: d.reason === 'checksum' ? 'checksum' : 'not-data' };
  if (d.value.type !== 'data') return { verdict: 'not-data' };
  return { verdict: 'ok', pn: d.value.packetNumber, cid: [cidHigh(d.value.dcid), cidLow(d.value.dcid)], frames: d.value.frames.map((f) => comparable(f)) };
}

/** The content of a datagram changed by `edit`, then checksummed again (so only the structure is wrong). */
function resealed(datagram: Uint8Array, cut: number, flip: number): Uint8Array {
  const content = datagram.slice(0, Math.max(0, datagram.length - 4 - cut));
  if (content.length > 0) content[flip % content.length]! ^= 1 << (flip % 8);
  const buf = new Uint8Array(content.length + 4);
  buf.set(content);
  return seal(buf, content.length);
}

describe('DataPacketReader agrees with decodePacket', () => {
  const reader = new DataPacketReader(); // one reader for every case, as in the engine

  it('on every valid packet: same verdict, same packet number and connection ID, same frames', () => {
    fc.assert(
      fc.property(arb.packet, (p) => {
        const d = encodePacket(p);
        expect(readAll(reader, d)).toEqual(viaDecode(d));
      }),
      { seed: 21, numRuns: 400 },
    );
  });

  it('on DATA packets cut short or with a bit flipped and the checksum fixed: refuses exactly what decodePacket refuses', () => {
    fc.assert(
      fc.property(arb.dataPacket, fc.nat(64), fc.nat(), (p, cut, flip) => {
        const d = resealed(encodePacket(p), cut, flip);
        expect(readAll(reader, d)).toEqual(viaDecode(d));
      }),
      { seed: 22, numRuns: 600 },
    );
  });

  it('on bit flips without fixing the checksum and on random bytes', () => {
    fc.assert(
      fc.property(arb.dataPacket, fc.nat(), (p, bit) => {
        const d = encodePacket(p);
        const bad = flipBit(d, bit % (d.length * 8));
        expect(readAll(reader, bad)).toEqual(viaDecode(bad));
      }),
      { seed: 23, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (d) => {
        expect(readAll(reader, d)).toEqual(viaDecode(d));
      }),
      { seed: 24, numRuns: 300 },
    );
  });
});

describe('DataPacketReader.skim and rewind (the qlog writer reads the engine\'s packet first)', () => {
  const reader = new DataPacketReader();

  it('skim gives the frames next gives (payload lengths in skimmedLength, no views), and rewind starts them over', () => {
    fc.assert(
      fc.property(arb.dataPacket, (p) => {
        const d = encodePacket(p);
        const expected = viaDecode(d);
        // Every DATA packet the generator makes opens: a packet the reader declined would test nothing.
        expect(reader.open(d)).toBe('ok');
        // What the trace sees: each frame's type and, for data-carrying frames, the payload length.
        const skimmed: unknown[] = [];
        for (let f: Frame | null = reader.skim(); f !== null; f = reader.skim()) {
          skimmed.push(f.type === 'data' || f.type === 'data-part' || f.type === 'unreliable' ? [f.type, reader.skimmedLength] : f.type);
        }
        const frames = (expected.frames ?? []) as Frame[];
        const decoded = p.frames;
        expect(skimmed).toEqual(
          decoded.map((f) => (f.type === 'data' || f.type === 'data-part' || f.type === 'unreliable' ? [f.type, f.payload.length] : f.type)),
        );
        // Rewound, the engine's read is the full one, as if skim had not happened.
        reader.rewind();
        const again: unknown[] = [];
        for (let f: Frame | null = reader.next(); f !== null; f = reader.next()) again.push(comparable(structuredClone(f)));
        expect(again).toEqual(frames);
      }),
      { seed: 25, numRuns: 400 },
    );
  });
});

describe('DataPacketReader.nextInPlace (the engine\'s read: DATA payloads left in the datagram)', () => {
  const reader = new DataPacketReader();

  it('gives the frames decodePacket gives, each DATA payload at datagram[dataStart, dataStart + dataLength) and its own payload empty', () => {
    fc.assert(
      fc.property(arb.dataPacket, (p) => {
        const d = encodePacket(p);
        const expected = viaDecode(d);
        // Every DATA packet the generator makes opens: a packet the reader declined would test nothing.
        expect(reader.open(d)).toBe('ok');
        expect(reader.datagram).toBe(d);
        const frames: unknown[] = [];
        for (let f: Frame | null = reader.nextInPlace(); f !== null; f = reader.nextInPlace()) {
          if (f.type === 'data') {
            // Never a stale view of an earlier frame or datagram.
            expect(f.payload.length).toBe(0);
            const payload = d.slice(reader.dataStart, reader.dataStart + reader.dataLength);
            frames.push(comparable(structuredClone({ ...f, payload })));
          } else frames.push(comparable(structuredClone(f)));
        }
        expect(frames).toEqual(expected.frames);
      }),
      { seed: 26, numRuns: 400 },
    );
  });
});

describe('DataPacketReader.predictData (header prediction: one channel-0 DATA frame filling the packet)', () => {
  const reader = new DataPacketReader();

  /** What `open` + `nextInPlace` leave, in the terms predictData must match. */
  function viaOpen(d: Uint8Array): unknown {
    if (reader.open(d) !== 'ok') return null;
    const f = reader.nextInPlace();
    if (f === null || f.type !== 'data' || f.channel !== undefined || reader.nextInPlace() !== null) return null;
    return state(f);
  }
  function state(f: Frame): unknown {
    return {
      frame: comparable(structuredClone(f)),
      pn: reader.packetNumber,
      cid: [reader.dcidHi, reader.dcidLo],
      counts: [reader.dataFrames, reader.pathFrames, reader.frames],
      data: [reader.dataStart, reader.dataLength],
      datagram: reader.datagram,
      rest: reader.nextInPlace(),
    };
  }
  /** predictData's answer, and a CRC check as the engine makes it. */
  function viaPredict(d: Uint8Array): unknown {
    const f = reader.predictData(d);
    if (f === null || !verifyChecksum(d)) return null;
    return state(f);
  }

  it('on every packet it recognises (and whose CRC matches), leaves the reader as open + nextInPlace do; recognises every single channel-0 DATA packet', () => {
    const single = fc.record({
      type: fc.constant('data' as const),
      dcid: arb.u64,
      packetNumber: arb.u32,
      frames: arb.dataFrame.map((f) => [{ ...f, channel: undefined }]),
    });
    fc.assert(
      fc.property(single, (p) => {
        const d = encodePacket(p);
        expect(reader.predictData(d)).not.toBeNull();
        expect(viaPredict(d)).toEqual(viaOpen(d));
      }),
      { seed: 27, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.oneof(arb.dataPacket, arb.packet), (p) => {
        const d = encodePacket(p);
        const predicted = viaPredict(d);
        // Every packet it takes, open reads the same way; every packet it declines goes to open.
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 28, numRuns: 400 },
    );
  });

  it('on cut, bit-flipped (checksum fixed or not) and random datagrams: never takes one that open refuses or reads otherwise', () => {
    fc.assert(
      fc.property(arb.dataPacket, fc.nat(64), fc.nat(), fc.boolean(), (p, cut, flip, reseal) => {
        const e = encodePacket(p);
        const d = reseal ? resealed(e, cut, flip) : flipBit(e, flip % (e.length * 8));
        const predicted = viaPredict(d);
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 29, numRuns: 800 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (d) => {
        const predicted = viaPredict(d);
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 30, numRuns: 300 },
    );
  });
});

describe('DataPacketReader.predictAckData (header prediction: [ACK] one channel-0 DATA frame [PING])', () => {
  const reader = new DataPacketReader();

  /** What `open` + `nextInPlace` leave for that shape, in the terms predictAckData must match (null: another shape). */
  function viaOpen(d: Uint8Array): unknown {
    if (reader.open(d) !== 'ok') return null;
    let f = reader.nextInPlace();
    let ack: unknown = null;
    if (f !== null && f.type === 'ack') {
      ack = comparable(structuredClone(f));
      f = reader.nextInPlace();
    }
    if (f === null || f.type !== 'data' || f.channel !== undefined) return null;
    const frame = comparable(structuredClone(f));
    const data = [reader.dataStart, reader.dataLength];
    // The PING byte right after the DATA frame, then nothing (PADDING is not this shape).
    const offset = reader.dataStart + reader.dataLength;
    let ping = false;
    const after = reader.nextInPlace();
    if (after !== null) {
      if (after.type !== 'ping' || offset !== d.length - 5 || reader.nextInPlace() !== null) return null;
      ping = true;
    } else if (offset !== d.length - 4) return null;
    return { ack, frame, ping, pn: reader.packetNumber, cid: [reader.dcidHi, reader.dcidLo], counts: [reader.dataFrames, reader.pathFrames, reader.frames], data, datagram: reader.datagram };
  }
  /** predictAckData's answer, a CRC check as the engine makes it, and the reader left with nothing to read. */
  function viaPredict(d: Uint8Array): unknown {
    const f = reader.predictAckData(d);
    if (f === null || !verifyChecksum(d)) return null;
    const state = {
      ack: reader.predictedAck ? comparable(structuredClone(reader.ackFrame)) : null,
      frame: comparable(structuredClone(f)),
      ping: reader.predictedPing,
      pn: reader.packetNumber,
      cid: [reader.dcidHi, reader.dcidLo],
      counts: [reader.dataFrames, reader.pathFrames, reader.frames],
      data: [reader.dataStart, reader.dataLength],
      datagram: reader.datagram,
    };
    expect(reader.nextInPlace()).toBeNull();
    return state;
  }
  const shaped = fc.record({
    type: fc.constant('data' as const),
    dcid: arb.u64,
    packetNumber: arb.u32,
    frames: fc
      .tuple(fc.option(arb.ackFrame, { nil: undefined }), arb.dataFrame.map((f) => ({ ...f, channel: undefined, payload: f.payload.subarray(0, 1200) })), fc.boolean())
      .map(([ack, data, ping]) => [...(ack ? [ack] : []), data, ...(ping ? [{ type: 'ping' as const }] : [])] as Frame[]),
  });

  it('recognises every [ACK] DATA [PING] packet, and leaves the reader as open + nextInPlace do', () => {
    fc.assert(
      fc.property(shaped, (p) => {
        const d = encodePacket(p);
        expect(reader.predictAckData(d)).not.toBeNull();
        expect(viaPredict(d)).toEqual(viaOpen(d));
      }),
      { seed: 31, numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.oneof(arb.dataPacket, arb.packet), (p) => {
        const d = encodePacket(p);
        const predicted = viaPredict(d);
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 32, numRuns: 400 },
    );
  });

  it('on cut, bit-flipped (checksum fixed or not) and random datagrams: never takes one that open refuses or reads otherwise', () => {
    fc.assert(
      fc.property(shaped, fc.nat(64), fc.nat(), fc.boolean(), (p, cut, flip, reseal) => {
        const e = encodePacket(p);
        const d = reseal ? resealed(e, cut, flip) : flipBit(e, flip % (e.length * 8));
        const predicted = viaPredict(d);
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 33, numRuns: 1500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (d) => {
        const predicted = viaPredict(d);
        if (predicted !== null) expect(predicted).toEqual(viaOpen(d));
      }),
      { seed: 34, numRuns: 300 },
    );
  });

  it('open of the datagram predictAckData just declined gives what a fresh reader gives (ACK-only ones: its walk skipped)', () => {
    const fresh = new DataPacketReader();
    const counts = (x: DataPacketReader) => [x.dataFrames, x.pathFrames, x.frames];
    const ackOnly = fc.record({ type: fc.constant('data' as const), dcid: arb.u64, packetNumber: arb.u32, frames: arb.ackFrame.map((a) => [a] as Frame[]) });
    fc.assert(
      fc.property(fc.oneof(ackOnly, shaped, arb.dataPacket, arb.packet), fc.nat(64), fc.nat(), fc.nat(3), (p, cut, flip, how) => {
        const e = encodePacket(p);
        const d = how === 0 ? e : how === 1 ? resealed(e, cut, flip) : how === 2 ? resealed(e, 0, flip) : flipBit(e, flip % (e.length * 8));
        reader.predictAckData(d);
        const primed = readAll(reader, d);
        const primedCounts = counts(reader);
        expect(primed).toEqual(readAll(fresh, d));
        if (primed.verdict === 'ok') expect(primedCounts).toEqual(counts(fresh));
      }),
      { seed: 35, numRuns: 1500 },
    );
    // Declined as ACK-only, then another datagram (or the same one as authenticated) opened: walked.
    const ack = encodePacket({ type: 'data', dcid: 1n, packetNumber: 8, frames: [{ type: 'ack', largest: 5000, ackDelay: 300, maxTsn: 90000, firstRange: 20000, ranges: [1, 2, 3, 4, 5, 6] }] });
    expect(reader.predictAckData(ack)).toBeNull();
    const other = Uint8Array.from(ack);
    other[14] = 0x05; // not a frame type
    expect(reader.open(seal(other, other.length - 4))).toBe('not-data');
    expect(reader.predictAckData(ack)).toBeNull();
    const walks = vi.spyOn(reader as unknown as { frame: () => unknown }, 'frame');
    try {
      expect(reader.open(ack)).toBe('ok');
      expect(walks).not.toHaveBeenCalled();
      expect(counts(reader)).toEqual([0, 0, 1]);
      expect(reader.open(ack)).toBe('ok');
      expect(walks).toHaveBeenCalled();
    } finally {
      walks.mockRestore();
    }
  });
});
