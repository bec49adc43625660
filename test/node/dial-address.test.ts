import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, EndpointOptions } from '../../src/index.js';
import { createEndpoint, generateKeyPair } from '../../src/index.js';
import { canonicalIPv6, dialAddress } from '../../src/node/address.js';
import { codeOf, destroyAll, within } from './helpers.js';

/**
 * connect()'s host as the socket reaches it (src/node/address.ts). Each of these used to send
 * INITIALs into nothing, or to a server whose every answer was discarded, until connectTimeout:
 * now it connects, or fails at once with a code saying why. Real sockets on loopback; the
 * client's connectTimeout (3 s) only bounds a regression, which then shows as the wrong code.
 */
const BOUND = { connectTimeout: 3000 } satisfies EndpointOptions;

async function endpoint(cleanup: Endpoint[], options: EndpointOptions): Promise<Endpoint> {
  const e = await createEndpoint(options);
  cleanup.push(e);
  return e;
}

async function ipv6Loopback(): Promise<boolean> {
  try {
    (await createEndpoint({ type: 'udp6', host: '::1' })).destroy();
    return true;
  } catch {
    return false;
  }
}

describe('connect() to an IP literal of the other family', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('a dual-stack udp6 endpoint reaches an IPv4 server at its mapped address', async () => {
    const server = await endpoint(endpoints, { host: '127.0.0.1', acceptConnections: true });
    const client = await endpoint(endpoints, { type: 'udp6', ...BOUND });
    const conn = await within(5000, 'connect', client.connect(server.address().port, '127.0.0.1'));
    // As the socket reports the server's datagrams (and as node:net reports such peers).
    expect(conn.remoteAddress).toBe('::ffff:127.0.0.1');
  });

  it('a udp4 endpoint reaches an IPv4-mapped IPv6 literal at its IPv4 address', async () => {
    const server = await endpoint(endpoints, { host: '127.0.0.1', acceptConnections: true });
    const client = await endpoint(endpoints, { host: '127.0.0.1', ...BOUND });
    for (const host of ['::ffff:127.0.0.1', '::FFFF:7f00:1']) {
      const conn = await within(5000, 'connect', client.connect(server.address().port, host));
      expect(conn.remoteAddress).toBe('127.0.0.1');
    }
  });

  it('an address the socket cannot reach throws a RangeError (ERR_INVALID_ARG_VALUE) at once', async () => {
    const udp4 = await endpoint(endpoints, { host: '127.0.0.1', ...BOUND });
    const v6only = await endpoint(endpoints, { type: 'udp6', ipv6Only: true, ...BOUND });
    const cases: [Endpoint, string][] = [
      [udp4, '::1'],
      [v6only, '127.0.0.1'],
      [v6only, '::ffff:127.0.0.1'],
    ];
    for (const [e, host] of cases) {
      let thrown: unknown;
      try {
        // A regression would return a promise instead (rejecting at connectTimeout): kept quiet.
        e.connect(4000, host).catch(() => {});
      } catch (err) {
        thrown = err;
      }
      expect(thrown, host).toBeInstanceOf(RangeError);
      expect((thrown as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    }
    expect(udp4.stats().pendingConnects + v6only.stats().pendingConnects).toBe(0);
  });
});

describe('connect() to a non-canonical IP literal', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('IPv6 literals are dialled in the form the socket reports answers in', async (ctx) => {
    if (!(await ipv6Loopback())) return ctx.skip();
    const server = await endpoint(endpoints, { type: 'udp6', host: '::1', acceptConnections: true });
    const client = await endpoint(endpoints, { type: 'udp6', ...BOUND });
    for (const host of ['0:0:0:0:0:0:0:1', '::0001', '0000::1']) {
      const conn = await within(5000, host, client.connect(server.address().port, host));
      expect(conn.remoteAddress).toBe('::1');
    }
  });

  it('an IPv4 literal with leading zeros still connects (the resolver reads it)', async () => {
    const server = await endpoint(endpoints, { host: '127.0.0.1', acceptConnections: true });
    const client = await endpoint(endpoints, { host: '127.0.0.1', ...BOUND });
    const conn = await within(5000, 'connect', client.connect(server.address().port, '127.000.000.001'));
    expect(conn.remoteAddress).toBe('127.0.0.1');
  });

  it('canonical forms (unit)', () => {
    expect(canonicalIPv6('ABCD:0:0::0001')).toBe('abcd::1');
    expect(canonicalIPv6('::ffff:7f00:1')).toBe('::ffff:127.0.0.1');
    // A zone is kept as written (the socket needs it; SocketAddress would drop it).
    expect(canonicalIPv6('fe80::1%lo')).toBe('fe80::1%lo');
    expect(dialAddress('10.1.2.3', { type: 'udp6', ipv6Only: false, host: '::' })).toBe('::ffff:10.1.2.3');
    expect(() => dialAddress('10.1.2.3', { type: 'udp6', ipv6Only: false, host: '::1' })).toThrow(RangeError);
    expect(dialAddress('::FFFF:10.1.2.3', { type: 'udp4', ipv6Only: false, host: '0.0.0.0' })).toBe('10.1.2.3');
  });
});

describe('a server that answers from another address', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  it('fails the connect at once with ERR_ADDRESS_MISMATCH (a server on every interface answers 127.0.0.2 from 127.0.0.1)', async () => {
    // Bound to 0.0.0.0: its replies leave from the address the kernel's route prefers.
    const server = await endpoint(endpoints, { acceptConnections: true });
    const client = await endpoint(endpoints, { host: '127.0.0.1', ...BOUND });
    const p = client.connect(server.address().port, '127.0.0.2');
    const failure = p.catch((e: { message: string }) => e.message);
    expect(await within(5000, 'connect', codeOf(p))).toBe('ERR_ADDRESS_MISMATCH');
    expect(await failure).toContain(`answered from 127.0.0.1:${server.address().port}`);
  });

  it('encrypted, the same: its SECURE_ACCEPT from 127.0.0.1 authenticates, then fails the connect with ERR_ADDRESS_MISMATCH', async () => {
    const keyPair = generateKeyPair();
    const server = await endpoint(endpoints, { keyPair, acceptConnections: true });
    const client = await endpoint(endpoints, { host: '127.0.0.1', ...BOUND });
    const p = client.connect(server.address().port, '127.0.0.2', { serverKey: keyPair.publicKey });
    expect(await within(5000, 'connect', codeOf(p))).toBe('ERR_ADDRESS_MISMATCH');
    // Its RETRY from there was followed (cookie sent to 127.0.0.2), not believed as a failure.
    expect(client.stats().dropped['handshake-failed'] ?? 0).toBe(0);
  });
});
