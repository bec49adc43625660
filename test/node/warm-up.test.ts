// The `warmUp` endpoint option (src/node/warm-up.ts): off by default; the first endpoint that
// asks runs, once per process, two in-memory engines through a handshake and request/response
// trips on a virtual clock, before it opens. The order of the tests matters: the
// warm-up is once per process (vitest gives each file its own module state).
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Endpoint } from '../../src/index.js';
import { createEndpoint } from '../../src/index.js';
import { WARM_UP_TRIPS, warmUpReport } from '../../src/node/warm-up.js';
import { destroyAll, loopbackPair, roundTrip } from './helpers.js';

describe('warmUp: the engine warmed up in memory before the first endpoint opens', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('the default runs no warm-up', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0 }));
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, warmUp: false }));
    expect(warmUpReport()).toBeNull();
  });

  it('a non-boolean warmUp is a TypeError (ERR_INVALID_ARG_TYPE), and runs nothing', () => {
    let error: unknown;
    try {
      void createEndpoint({ host: '127.0.0.1', port: 0, warmUp: 1 as unknown as boolean });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(warmUpReport()).toBeNull();
  });

  it('the first endpoint that asks completes every trip, once per process', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, warmUp: true }));
    const first = warmUpReport();
    // Every trip answered: the two engines handshook and ran the whole script (a warm-up that
    // stalled would stop early and report fewer).
    expect(first).toMatchObject({ trips: WARM_UP_TRIPS });
    expect(first!.ms).toBeGreaterThan(0);
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, warmUp: true }));
    expect(warmUpReport()).toBe(first);
  });

  it('endpoints after the warm-up carry traffic both ways', async () => {
    const { conn, peer } = await loopbackPair(endpoints, { warmUp: true });
    peer.on('message', (m: Buffer) => (peer as Connection).send(Buffer.concat([Buffer.from('echo:'), m])));
    for (let i = 0; i < 20; i++) expect(await roundTrip(conn, `ping ${i}`)).toBe(`echo:ping ${i}`);
  });
});
