import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import '../../src/node/engine.js';
import { Reader } from '../../src/wire/reader.js';
import { writeVarint } from '../../src/wire/varint.js';

/**
 * The wire code primes its varint reader at load with a Uint8Array (test/wire/varint-priming.test.ts);
 * node:dgram hands the shell Buffers, another hidden class, so the shell primes the reader with a
 * Buffer as well (src/node/engine.ts): the first 4-byte value in a Buffer (an ACK delay of 16 ms
 * or more, a packet number above 2^30) must not deoptimise the compiled reader ("wrong map").
 */
setFlagsFromString('--allow-natives-syntax');
const optimizeOnNextCall = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
/** The callers stay interpreted: each call reaches the function under test (not a copy inlined into them). */
const neverOptimize = new Function('f', '%NeverOptimizeFunction(f)') as (f: unknown) => void;
const OPTIMIZED = 1 << 4;

function staysOptimized(f: unknown, first: () => void, later: () => void): boolean {
  neverOptimize(first);
  neverOptimize(later);
  for (let i = 0; i < 1000; i++) first();
  optimizeOnNextCall(f);
  first();
  if ((status(f) & OPTIMIZED) === 0) throw new Error(`not optimised (status ${status(f).toString(2)}): the test proves nothing`);
  later();
  return (status(f) & OPTIMIZED) !== 0;
}

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
