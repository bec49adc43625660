import { describe, expect, it } from 'vitest';
import { createEndpoint, type Connection } from '../../src/index.js';
import { SimNetwork } from '../../src/testing/index.js';
import { simPair } from './helpers.js';
import type { ChannelsOption, EndpointOptions } from '../../src/index.js';

/** Channel settings given at connect() and on the accepting endpoint, on the simulator's clock. */
const setup = (seed: number, serverOptions: EndpointOptions, channels?: ChannelsOption) =>
  simPair(seed, { server: serverOptions, connect: channels === undefined ? {} : { channels } });

/** Which of two 200 KB messages, on channels 1 and 2, the receiver completes first. */
async function firstOfTwo(net: SimNetwork, from: Connection, to: Connection): Promise<number[]> {
  const order: number[] = [];
  to.on('message', (_d, info) => order.push(info.channel));
  from.send(new Uint8Array(200_000), { channel: 2 });
  from.send(new Uint8Array(200_000), { channel: 1 });
  expect(await net.runUntilAsync(() => order.length === 2, 60_000)).toBe(true);
  return order;
}

describe('channel options at connect time', () => {
  it("connect(…, { channels }) applies them before it resolves: priority and redundancy", async () => {
    const { net, conn, peer, done } = await setup(1, {}, { 2: { priority: 1 }, 0: { redundancy: 1 } });
    // Channel 2 is served only while channel 1 is idle: queued first, it still completes last.
    expect(await firstOfTwo(net, conn, peer)).toEqual([1, 2]);
    conn.send('tiny');
    expect(await net.runUntilAsync(() => conn.stats().bytesRedundant === 4, 5000)).toBe(true);
    done();
  });

  it('without them, the two channels share the link and the first queued completes first', async () => {
    const { net, conn, peer, done } = await setup(2, {});
    expect(await firstOfTwo(net, conn, peer)).toEqual([2, 1]);
    done();
  });

  it("the endpoint's channels option configures every accepted connection before 'connection'", async () => {
    const { net, conn, peer, done } = await setup(3, { channels: { 2: { priority: 1 }, 0: { redundancy: 2 } } });
    expect(await firstOfTwo(net, peer, conn)).toEqual([1, 2]);
    peer.send('hello');
    expect(await net.runUntilAsync(() => peer.stats().bytesRedundant === 10, 5000)).toBe(true);
    done();
  });

  it('rejects bad channels options with a stable code, at the call', async () => {
    const { client, done } = await setup(4, {});
    const bad: [unknown, string][] = [
      ['x', 'ERR_INVALID_ARG_TYPE'],
      [{ 256: {} }, 'ERR_INVALID_ARG_VALUE'],
      [{ '-1': {} }, 'ERR_INVALID_ARG_VALUE'],
      [{ 1: { priorty: 1 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ 1: { weight: 0 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ 1: { redundancy: 4 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ 1: 5 }, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [channels, code] of bad) {
      expect(() => client.connect(4433, '10.0.0.2', { channels: channels as ChannelsOption }), JSON.stringify(channels)).toThrow(expect.objectContaining({ code }));
      const endpoint = async () => createEndpoint({ channels: channels as ChannelsOption, port: 0, host: '127.0.0.1' });
      await expect(endpoint(), JSON.stringify(channels)).rejects.toMatchObject({ code });
    }
    expect(() => client.connect(4433, '10.0.0.2', { channels: { 1: { priorty: 1 } } as ChannelsOption })).toThrow(/did you mean options\.channels\[1\]\.priority/);
    done();
  });
});
