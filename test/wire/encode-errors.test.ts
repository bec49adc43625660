import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../src/wire/packet.js';
import type { Frame, Packet, TransportParams } from '../../src/wire/types.js';

/**
 * encodePacket throws RangeError for a field outside its wire range instead of silently wrapping
 * or truncating it into a packet every decoder would discard.
 */

const params: TransportParams = {
  maxDatagramSize: 1200,
  initialWindow: 16,
  idleTimeout: 0,
  initialPacketNumber: 0,
  initialTsn: 0,
  resetToken: new Uint8Array(16),
};
const data = (...frames: Frame[]): Packet => ({ type: 'data', dcid: 1n, packetNumber: 0, frames });
const payload = new Uint8Array(1);

const bad: [string, Packet][] = [
  ['u32 packet number of 2^32', { type: 'data', dcid: 1n, packetNumber: 2 ** 32, frames: [] }],
  ['negative packet number', { type: 'data', dcid: 1n, packetNumber: -1, frames: [] }],
  ['fractional packet number', { type: 'data', dcid: 1n, packetNumber: 1.5, frames: [] }],
  ['CID of 2^64', { type: 'data', dcid: 1n << 64n, packetNumber: 0, frames: [] }],
  ['negative CID', { type: 'stateless-reset', dcid: -1n, token: new Uint8Array(16) }],
  ['15-byte reset token', { type: 'stateless-reset', dcid: 1n, token: new Uint8Array(15) }],
  ['17-byte resetToken param', { type: 'accept', dcid: 1n, scid: 2n, params: { ...params, resetToken: new Uint8Array(17) } }],
  ['maxDatagramSize of 65536', { type: 'accept', dcid: 1n, scid: 2n, params: { ...params, maxDatagramSize: 65536 } }],
  ['initialTsn of 2^32', { type: 'initial', version: 1, scid: 1n, params: { ...params, initialTsn: 2 ** 32 }, cookie: new Uint8Array(0) }],
  ['256-byte cookie', { type: 'retry', dcid: 1n, cookie: new Uint8Array(256) }],
  ['version 256', { type: 'initial', version: 256, scid: 1n, params, cookie: new Uint8Array(0) }],
  ['256 versions', { type: 'version-negotiation', dcid: 1n, versions: new Array<number>(256).fill(1) }],
  ['version 300 in a list', { type: 'version-negotiation', dcid: 1n, versions: [300] }],
  ['ACK largest of 2^32', data({ type: 'ack', largest: 2 ** 32, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [] })],
  ['ACK delay of 2^53', data({ type: 'ack', largest: 0, ackDelay: 2 ** 53, maxTsn: 0, firstRange: 0, ranges: [] })],
  ['ACK with an odd range list', data({ type: 'ack', largest: 9, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [1] })],
  ['ACK with a negative gap', data({ type: 'ack', largest: 9, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [-1, 0] })],
  ['RESET code 65536', data({ type: 'reset', code: 65536, reason: '' })],
  ['RESET reason of 1025 bytes', data({ type: 'reset', code: 0, reason: 'x'.repeat(1025) })],
  ['RESET reason of 513 two-byte characters', data({ type: 'reset', code: 0, reason: 'é'.repeat(513) })],
  ['DATA TSN of 2^32', data({ type: 'data', tsn: 2 ** 32, first: true, last: true, unordered: false, payload })],
  [
    'DATA payload of 65,536 bytes',
    data({ type: 'data', tsn: 0, first: true, last: true, unordered: false, payload: new Uint8Array(65536) }),
  ],
  ['UNRELIABLE count 0', data({ type: 'unreliable', messageId: 0, index: 0, count: 0, payload })],
  ['UNRELIABLE index = count', data({ type: 'unreliable', messageId: 0, index: 3, count: 3, payload })],
  ['UNRELIABLE messageId of 2^32', data({ type: 'unreliable', messageId: 2 ** 32, index: 0, count: 1, payload })],
  [
    'DATA packet over 65,507 bytes',
    data(
      { type: 'data', tsn: 0, first: true, last: false, unordered: false, payload: new Uint8Array(40000) },
      { type: 'data', tsn: 1, first: false, last: true, unordered: false, payload: new Uint8Array(40000) },
    ),
  ],
];

describe('encodePacket argument checks', () => {
  it.each(bad)('%s → RangeError', (_name, packet) => {
    expect(() => encodePacket(packet)).toThrow(RangeError);
  });

  it('the edges of every range are accepted', () => {
    const max32 = 0xffff_ffff;
    const edge: Packet[] = [
      { type: 'data', dcid: (1n << 64n) - 1n, packetNumber: max32, frames: [] },
      { type: 'retry', dcid: 0n, cookie: new Uint8Array(255) },
      { type: 'version-negotiation', dcid: 1n, versions: new Array<number>(255).fill(255) },
      data({ type: 'reset', code: 65535, reason: 'x'.repeat(1024) }),
      data({ type: 'ack', largest: max32, ackDelay: 2 ** 53 - 1, maxTsn: max32, firstRange: 0, ranges: [2 ** 53 - 1, 0] }),
      data({ type: 'unreliable', messageId: max32, index: 2 ** 53 - 2, count: 2 ** 53 - 1, payload }),
      data({ type: 'data', tsn: max32, first: false, last: false, unordered: true, payload: new Uint8Array(65482) }),
    ];
    for (const p of edge) expect(() => encodePacket(p)).not.toThrow();
  });
});
