import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, EndpointOptions } from '../../src/index.js';
import { createEndpoint, generateKeyPair } from '../../src/index.js';
import { canonicalIPv6, dialAddress } from '../../src/node/address.js';
import { networkInterfaces } from 'node:os';
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

describe('connect() to a zoned IPv6 literal (fe80::1%eth0)', () => {
  const endpoints: Endpoint[] = [];
  afterEach(() => destroyAll(endpoints));

  /** What os.networkInterfaces() says on a host with eth0 (index 4) and lo. */
  const table = () => ({
    lo: [{ address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 }],
    eth0: [
      { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '02:fc:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
      { address: 'fe80::fc:ff:fe00:1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '02:fc:00:00:00:01', internal: false, cidr: 'fe80::fc:ff:fe00:1/64', scopeid: 4 },
    ],
  });

  it('canonical forms: as node:dgram reports the source of an answer on Linux (unit)', () => {
    // Link-local: the address canonical, the zone as the interface's name.
    expect(canonicalIPv6('FE80:0:0::0001%eth0', table)).toBe('fe80::1%eth0');
    expect(canonicalIPv6('fe80::1%4', table)).toBe('fe80::1%eth0');
    expect(canonicalIPv6('febf::1%4', table)).toBe('febf::1%eth0');
    // An index no interface has, or a name: kept (names are case-sensitive).
    expect(canonicalIPv6('fe80::1%9', table)).toBe('fe80::1%9');
    expect(canonicalIPv6('fe80::1%Eth0', table)).toBe('fe80::1%Eth0');
    // Zone 0 is none; this host's own link-local address is answered from with its interface.
    expect(canonicalIPv6('fe80::1%0', table)).toBe('fe80::1');
    expect(canonicalIPv6('fe80::FC:ff:fe00:1', table)).toBe('fe80::fc:ff:fe00:1%eth0');
    expect(canonicalIPv6('fe80::2', table)).toBe('fe80::2');
    // Not link-local: the socket reports no zone (and the kernel ignores one when sending there).
    const untouched = () => {
      throw new Error('interfaces read for an address that needs none');
    };
    expect(canonicalIPv6('fd00::2%eth0', untouched)).toBe('fd00::2');
    expect(canonicalIPv6('::1%lo', untouched)).toBe('::1');
    expect(canonicalIPv6('fec0::1%eth0', untouched)).toBe('fec0::1');
    // Multicast keeps it: it picks the interface, and a multicast address never answers.
    expect(canonicalIPv6('FF02::1%eth0', untouched)).toBe('ff02::1%eth0');
    // 00ff:: is unicast (its canonical form `ff::` only looks like multicast): the zone goes.
    expect(canonicalIPv6('00ff::1%eth0', untouched)).toBe('ff::1');
    // Windows reports the zone as a number: left as written.
    expect(canonicalIPv6('FE80::1%4', table, 'win32')).toBe('fe80::1%4');
    // dialAddress gives the same form.
    expect(dialAddress('FE80::1%4', { type: 'udp6', ipv6Only: false, host: '::' })).toBe(canonicalIPv6('FE80::1%4'));
  });

  it('a link-local literal, its zone as a number or its address in capitals, connects (real sockets, when this host has a link-local address)', async (ctx) => {
    const own = Object.entries(networkInterfaces()).flatMap(([name, list]) =>
      (list ?? []).filter((i) => i.family === 'IPv6' && /^fe[89ab]/i.test(i.address) && i.scopeid).map((i) => ({ name, address: i.address, index: i.scopeid! })),
    )[0];
    if (own === undefined || !(await ipv6Loopback())) return ctx.skip();
    const server = await endpoint(endpoints, { type: 'udp6', acceptConnections: true });
    const client = await endpoint(endpoints, { type: 'udp6', ...BOUND });
    for (const host of [`${own.address}%${own.index}`, `${own.address.toUpperCase()}%${own.name}`, own.address]) {
      const conn = await within(5000, host, client.connect(server.address().port, host));
      expect(conn.remoteAddress).toBe(`${own.address}%${own.name}`);
    }
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
