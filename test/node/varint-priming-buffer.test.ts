import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { neverOptimize, staysOptimized } from '../helpers/v8-natives.js';
import '../../src/node/engine.js';
import { Reader } from '../../src/wire/reader.js';
import { writeVarint } from '../../src/wire/varint.js';

/**
 * The wire code primes its varint reader at load with a Uint8Array (test/wire/varint-priming.test.ts);
 * node:dgram hands the shell Buffers, another hidden class, so the shell primes the reader with a
 * Buffer as well (src/node/engine.ts): the first 4-byte value in a Buffer (an ACK delay of 16 ms
 * or more, a packet number above 2^30) must not deoptimise the compiled reader ("wrong map").
 */

describe('varint priming by the Node shell', () => {
  it("leaves feedback for the decoder's long branches in node:dgram's datagrams too", async () => {
    // A datagram as the shell gets it: a Buffer that node:dgram made (its own hidden class).
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const received = once(socket, 'message');
    socket.send(new Uint8Array(8), socket.address().port, '127.0.0.1');
    const [buf] = (await received) as [Buffer];
    socket.close();
    expect(buf.length).toBe(8);
    const r = new Reader(buf, 0, 8);
    const read = (v: number): number => {
      writeVarint(buf, 0, v);
      r.reset(buf, 0, 8);
      return r.varint();
    };
    neverOptimize(read);
    // What the Node path meets first: 1- and 2-byte values in Buffers, and a 4-byte one later.
    expect(
      staysOptimized(
        Reader.prototype.varint,
        () => read(5) + read(0x100),
        () => read(0x4000) + read(0x4000_0000),
      ),
    ).toBe(true);
  });
});
