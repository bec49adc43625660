import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, seal } from '../../src/wire/packet.js';
import { MIN_INITIAL_SIZE, PacketType, type DecodeResult, type Packet } from '../../src/wire/types.js';
import * as arb from './arbitraries.js';
import { comparable, flipBit } from './helpers.js';

/**
 * decodePacket gets whatever the network delivers. It must never throw, never read outside the
 * datagram, and accept only datagrams that are exactly right.
 */

const REASONS = ['too-short', 'checksum', 'version', 'unknown-type', 'malformed', 'too-small-initial'];

/** Packets small enough that testing every truncation and every bit is cheap. */
const smallPacket = arb.packet.filter((p) => encodePacket(p).length <= 2048);

/**
 * Decode through a Proxy that records every indexed read, so the test can prove the decoder never
 * reads past the end (reading `undefined` from a typed array is silent in JavaScript).
 */
function decodeWatched(datagram: Uint8Array): { result: DecodeResult<Packet>; reads: number[] } {
  const reads: number[] = [];
  const watched = new Proxy(datagram, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) reads.push(Number(prop));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { result: decodePacket(watched), reads };
}

function expectNoOutOfBoundsRead(datagram: Uint8Array, reads: number[]): void {
  for (const i of reads) {
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBeLessThan(datagram.length);
  }
}

/** A datagram whose checksum is right over `content` (version, type, cid and so on). */
function sealed(content: Uint8Array): Uint8Array {
  const buf = new Uint8Array(content.length + 4);
  buf.set(content);
  return seal(buf, content.length);
}

/** A valid datagram with its bytes changed by `edit`, then re-checksummed. */
function resealed(datagram: Uint8Array, edit: (content: Uint8Array) => void): Uint8Array {
  const content = datagram.slice(0, datagram.length - 4);
  edit(content);
  return sealed(content);
}

function expectRejected(result: DecodeResult<Packet>, reason: string): void {
  expect(result.ok ? 'accepted' : result.reason).toBe(reason);
}

describe('decodePacket on arbitrary input', () => {
  it('random byte strings of 0..1500 bytes: rejected with a known reason or decoded, never thrown', () => {
    fc.assert(
      fc.property(arb.bytes(1500), (datagram) => {
        const { result, reads } = decodeWatched(datagram);
        expectNoOutOfBoundsRead(datagram, reads);
        if (!result.ok) expect(REASONS).toContain(result.reason);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  /**
   * Random bytes almost never carry a valid checksum, so also seal random content: that reaches
   * the parsers. Version and type bytes are biased toward the real ones.
   */
  const sealedRandom = fc
    .tuple(
      fc.oneof(fc.constant(1), fc.constant(0), arb.u8),
      fc.oneof(fc.integer({ min: 0, max: 7 }), arb.u8),
      fc.oneof(arb.bytes(64), arb.bytes(1500)),
    )
    .map(([version, type, rest]) => sealed(Uint8Array.from([version, type, ...rest])));

  it('correctly checksummed random content: never throws, never reads past the end', () => {
    fc.assert(
      fc.property(sealedRandom, (datagram) => {
        const { result, reads } = decodeWatched(datagram);
        expectNoOutOfBoundsRead(datagram, reads);
        if (!result.ok) {
          expect(REASONS).toContain(result.reason);
          expect(result.reason).not.toBe('checksum');
        } else {
          // Whatever decodes must be a packet the encoder can write and read back the same.
          const again = decodePacket(encodePacket(result.value));
          expect(again.ok).toBe(true);
          if (again.ok) expect(comparable(again.value)).toEqual(comparable(result.value));
        }
      }),
      { seed: 42, numRuns: 5000 },
    );
  });

  it('every truncation of a valid datagram is rejected', () => {
    fc.assert(
      fc.property(smallPacket, (p) => {
        const datagram = encodePacket(p);
        for (let length = 0; length < datagram.length; length++) {
          const result = decodePacket(datagram.subarray(0, length));
          expect(result.ok, `accepted the first ${length} of ${datagram.length} bytes`).toBe(false);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('truncations of maximum-size datagrams are rejected (sampled lengths)', () => {
    fc.assert(
      fc.property(arb.jumboDataPacket, fc.array(fc.nat(), { minLength: 20, maxLength: 20 }), (p, picks) => {
        const datagram = encodePacket(p);
        for (const pick of picks) {
          const length = datagram.length - 1 - (pick % 64 === 0 ? pick % datagram.length : pick % 64);
          expect(decodePacket(datagram.subarray(0, Math.max(0, length))).ok).toBe(false);
        }
      }),
      { seed: 42, numRuns: 10 },
    );
  });

  it('every single-bit flip of a valid datagram is rejected by the checksum', () => {
    fc.assert(
      fc.property(smallPacket, (p) => {
        const datagram = encodePacket(p);
        for (let bit = 0; bit < datagram.length * 8; bit++) {
          const result = decodePacket(flipBit(datagram, bit));
          expect(result.ok ? `bit ${bit} accepted` : result.reason).toBe('checksum');
        }
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it('single-bit flips in maximum-size datagrams are rejected (sampled bits)', () => {
    fc.assert(
      fc.property(arb.jumboDataPacket, fc.array(fc.nat(), { minLength: 20, maxLength: 20 }), (p, picks) => {
        const datagram = encodePacket(p);
        for (const pick of picks) {
          const result = decodePacket(flipBit(datagram, pick % (datagram.length * 8)));
          expectRejected(result, 'checksum');
        }
      }),
      { seed: 42, numRuns: 10 },
    );
  });
});

describe('reject reasons of correctly checksummed datagrams', () => {
  const nonVn = arb.packet.filter((p) => p.type !== 'version-negotiation');

  it("a version other than 1 (and 0 for VERSION_NEGOTIATION) → 'version'", () => {
    fc.assert(
      fc.property(nonVn, fc.integer({ min: 2, max: 255 }), (p, version) => {
        const datagram = resealed(encodePacket(p), (c) => (c[0] = version));
        expectRejected(decodePacket(datagram), 'version');
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("version 0 with a type other than VERSION_NEGOTIATION → 'malformed'", () => {
    fc.assert(
      fc.property(nonVn, (p) => {
        const datagram = resealed(encodePacket(p), (c) => (c[0] = 0));
        expectRejected(decodePacket(datagram), 'malformed');
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it("an INITIAL shorter than 1200 bytes → 'too-small-initial', whatever it holds", () => {
    fc.assert(
      fc.property(arb.initialPacket, fc.integer({ min: 14, max: MIN_INITIAL_SIZE - 1 }), (p, length) => {
        const content = encodePacket(p).slice(0, length - 4);
        expectRejected(decodePacket(sealed(content)), 'too-small-initial');
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("an unknown packet type under version 1 → 'unknown-type'", () => {
    const known = new Set<number>([1, 2, 3, 4, 5]);
    fc.assert(
      fc.property(
        nonVn,
        arb.u8.filter((t) => !known.has(t)),
        (p, type) => {
          const datagram = resealed(encodePacket(p), (c) => (c[1] = type));
          expectRejected(decodePacket(datagram), 'unknown-type');
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it("too short for the invariant header → 'too-short'", () => {
    for (let length = 0; length < 14; length++) {
      expectRejected(decodePacket(new Uint8Array(length)), 'too-short');
    }
  });
});

/** Hand-built payloads that are structurally wrong; each is checksummed correctly with seal(). */
describe("structurally broken payloads → 'malformed', without reading past the end", () => {
  const cid = [0, 0, 0, 0, 0, 0, 0, 7];
  const pn = [0, 0, 0, 1];
  const params = new Array<number>(34).fill(0);
  const data = (...frames: number[]) => [1, PacketType.Data, ...cid, ...pn, ...frames];
  const initial = (...rest: number[]) => {
    const content = new Uint8Array(MIN_INITIAL_SIZE - 4);
    content.set([1, PacketType.Initial, ...cid, ...params, ...rest]);
    return content;
  };

  const cases: [string, ArrayLike<number>][] = [
    ['DATA without a full packet number', [1, PacketType.Data, ...cid, 0, 0]],
    ['unknown frame type 0x06', data(0x06)],
    ['unknown frame type 0x07', data(0x07)],
    ['unknown frame type 0x10', data(0x10)],
    ['unknown frame type 0xff', data(0xff)],
    ['DATA frame cut in its TSN', data(0x0b, 0, 0, 0)],
    ['DATA frame whose length runs past the end', data(0x0b, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4)],
    ['DATA frame with length 0xffff and no payload', data(0x08, 0, 0, 0, 1, 0xff, 0xff)],
    ['ACK cut after largest', data(0x02, 0, 0, 0, 9)],
    ['ACK with a 2-byte varint cut in half', data(0x02, 0, 0, 0, 9, 0x40)],
    ['ACK with an 8-byte varint cut short', data(0x02, 0, 0, 0, 9, 0xc0, 0, 0)],
    ['ACK claiming 2^30 ranges', data(0x02, 0, 0, 0, 9, 0, 0, 0, 0, 9, 0xbf, 0xff, 0xff, 0xff, 0, 1, 1)],
    ['ACK with one range announced, none present', data(0x02, 0, 0, 0, 9, 0, 0, 0, 0, 9, 1, 0)],
    ['ACK with a half range', data(0x02, 0, 0, 0, 9, 0, 0, 0, 0, 9, 1, 0, 1)],
    [
      'ACK delay varint of 2^53 (not exact in JavaScript)',
      data(0x02, 0, 0, 0, 9, 0xc0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0),
    ],
    ['RESET cut in its code', data(0x04, 0)],
    ['RESET whose reason runs past the end', data(0x04, 0, 1, 5, 0x61, 0x62)],
    ['RESET with reason length 1025', data(0x04, 0, 1, 0x44, 0x01, ...new Array<number>(1025).fill(0x61))],
    ['RESET with invalid UTF-8', data(0x04, 0, 1, 2, 0xc3, 0x28)],
    ['RESET with a UTF-8 encoded surrogate', data(0x04, 0, 1, 3, 0xed, 0xa0, 0x80)],
    ['UNRELIABLE with count 0', data(0x05, 0, 0, 0, 1, 0, 0, 0, 0)],
    ['UNRELIABLE with index = count', data(0x05, 0, 0, 0, 1, 2, 2, 0, 0)],
    ['UNRELIABLE whose payload runs past the end', data(0x05, 0, 0, 0, 1, 0, 1, 0, 4, 1)],
    ['UNRELIABLE cut in its length', data(0x05, 0, 0, 0, 1, 0, 1, 0)],
    ['INITIAL with non-zero padding', initial(0, 0, 0, 1)],
    // (An INITIAL's cookie cannot run past the end: 1200 bytes always have room for 255.)
    ['INITIAL with non-zero padding right before the checksum', initial(0, ...new Array<number>(1150).fill(0), 1)],
    ['RETRY without a cookie length', [1, PacketType.Retry, ...cid]],
    ['RETRY whose cookie runs past the end', [1, PacketType.Retry, ...cid, 4, 1, 2]],
    ['RETRY with a byte after the cookie', [1, PacketType.Retry, ...cid, 1, 1, 2]],
    ['ACCEPT without parameters', [1, PacketType.Accept, ...cid, ...cid]],
    ['ACCEPT with a byte too many', [1, PacketType.Accept, ...cid, ...cid, ...params, 0]],
    ['STATELESS_RESET with a 15-byte token', [1, PacketType.StatelessReset, ...cid, ...new Array<number>(15).fill(1)]],
    ['STATELESS_RESET with a 17-byte token', [1, PacketType.StatelessReset, ...cid, ...new Array<number>(17).fill(1)]],
    ['VERSION_NEGOTIATION without a count', [0, PacketType.VersionNegotiation, ...cid]],
    ['VERSION_NEGOTIATION with fewer versions than counted', [0, PacketType.VersionNegotiation, ...cid, 3, 1, 2]],
    ['VERSION_NEGOTIATION with more versions than counted', [0, PacketType.VersionNegotiation, ...cid, 1, 1, 2]],
  ];

  it.each(cases)('%s', (_name, content) => {
    const datagram = sealed(Uint8Array.from(content));
    const { result, reads } = decodeWatched(datagram);
    expectRejected(result, 'malformed');
    expectNoOutOfBoundsRead(datagram, reads);
    // The watch works: the checksum check read the last byte through it.
    expect(reads).toContain(datagram.length - 1);
  });

  it('the same payloads decode once repaired (the cases test what they claim)', () => {
    const ok = (content: ArrayLike<number>) => expect(decodePacket(sealed(Uint8Array.from(content))).ok).toBe(true);
    ok(data(0x0b, 0, 0, 0, 1, 0, 2, 1, 2));
    ok(data(0x02, 0, 0, 0, 9, 0, 0, 0, 0, 9, 1, 0, 1, 1, 0));
    ok(data(0x04, 0, 1, 2, 0x61, 0x62));
    ok(data(0x05, 0, 0, 0, 1, 1, 2, 0, 1, 7));
    ok(data(0x00, 0x00, 0x01));
    ok(initial(0));
    ok([1, PacketType.Retry, ...cid, 1, 1]);
    ok([1, PacketType.Accept, ...cid, ...cid, ...params]);
    ok([1, PacketType.StatelessReset, ...cid, ...new Array<number>(16).fill(1)]);
    ok([0, PacketType.VersionNegotiation, ...cid, 2, 1, 2]);
  });
});
