import { SocketAddress, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { InvalidArgValueError } from '../errors.js';

/**
 * connect()'s IP literal as the socket will report the server's answers: the handshake accepts
 * answers only from the address it dialled (docs/protocol.md §10.2), compared as text, and the
 * kernel writes an IPv6 source address one way only (lower case, zeros compressed, an IPv4 tail
 * for a mapped address). A literal written otherwise ('0:0:0:0:0:0:0:1', 'ABCD::1') reached the
 * server but its every answer was discarded until connect() timed out.
 *
 * And the family the endpoint's socket reaches: a dual-stack udp6 socket (bound to every
 * interface, `ipv6Only` off) reaches an IPv4 server at its mapped address '::ffff:a.b.c.d', which
 * is how it reports the answers too; a udp4 socket reaches a mapped address at its IPv4 form.
 * A literal the socket cannot reach at all throws at once (RangeError ERR_INVALID_ARG_VALUE)
 * instead of sending into nothing until the timeout.
 */
export interface SocketFamily {
  readonly type: 'udp4' | 'udp6';
  readonly ipv6Only: boolean;
  /** The address the socket is bound to (undefined: every interface). */
  readonly host: string | undefined;
}

const MAPPED = '::ffff:';

/** The host's interfaces as `os.networkInterfaces()` lists them (an IPv6 address's `scopeid` is its interface's index). */
export type Interfaces = ReturnType<typeof networkInterfaces>;

/** fe80::/10 in canonical form: the only addresses node:dgram reports with a zone. */
const LINK_LOCAL = /^fe[89ab][0-9a-f]:/;
/** ff00::/8 in canonical form (its first group has all four digits: `ff::` is 00ff::, not multicast). */
const MULTICAST = /^ff[0-9a-f]{2}:/;

/**
 * An IPv6 literal in the form the socket reports a source address in. On Linux (libuv, Node's
 * AddressToJS) a link-local source (fe80::/10) comes with its zone as the interface's NAME,
 * whatever the dialled literal said ('fe80::1%4' is answered from 'fe80::1%eth0'), and every
 * other address without one ('fd00::2%eth0' from 'fd00::2': the kernel ignores a zone when
 * sending there too). So: the address part canonical; a link-local address's numeric zone
 * becomes its interface's name (`interfaces`' scopeid; unknown: kept), a name stays as written
 * (names are case-sensitive); a link-local address without a zone that is one of this host's
 * own gets its interface's name, as its answers will; a multicast address keeps its zone (it
 * picks the interface, and never answers); any other address loses it. Windows reports the zone
 * as a number (`platform` 'win32': left as written). `interfaces` is read only when needed.
 */
export function canonicalIPv6(address: string, interfaces?: () => Interfaces, platform: string = process.platform): string {
  const at = address.indexOf('%');
  const ip = new SocketAddress({ address: at < 0 ? address : address.slice(0, at), family: 'ipv6' }).address;
  // Zone 0 is no zone (the kernel reads it so).
  const written = at < 0 ? '' : address.slice(at + 1);
  const zone = written === '0' ? '' : written;
  if (!LINK_LOCAL.test(ip)) return zone !== '' && MULTICAST.test(ip) ? `${ip}%${zone}` : ip;
  if (platform === 'win32') return zone === '' ? ip : `${ip}%${zone}`;
  const list = (): Interfaces => (interfaces ?? networkInterfaces)();
  if (zone === '') {
    const own = interfaceOf(list(), (info) => info.address === ip);
    return own === undefined ? ip : `${ip}%${own}`;
  }
  if (/^[0-9]+$/.test(zone)) {
    const index = Number(zone);
    const named = interfaceOf(list(), (info) => info.scopeid === index && LINK_LOCAL.test(info.address));
    return `${ip}%${named ?? zone}`;
  }
  return `${ip}%${zone}`;
}

/** The name of the interface with an IPv6 address that `match` accepts. */
function interfaceOf(interfaces: Interfaces, match: (info: { address: string; scopeid?: number }) => boolean): string | undefined {
  for (const name of Object.keys(interfaces)) {
    for (const info of interfaces[name] ?? []) {
      if (info.family === 'IPv6' && match(info)) return name;
    }
  }
  return undefined;
}

/** Does a udp6 socket bound to `host` reach IPv4 addresses (through their mapped form)? */
function dualStack(family: SocketFamily): boolean {
  if (family.ipv6Only) return false;
  if (family.host === undefined) return true;
  if (isIP(family.host) !== 6) return false;
  const bound = canonicalIPv6(family.host);
  return bound === '::' || bound.startsWith(MAPPED);
}

/**
 * The address to dial for IP literal `literal` (`isIP(literal)` is 4 or 6) on a socket of
 * `family`, canonical; throws InvalidArgValueError when that socket cannot reach it.
 */
export function dialAddress(literal: string, family: SocketFamily): string {
  if (isIP(literal) === 4) {
    if (family.type === 'udp4') return literal;
    if (dualStack(family)) return MAPPED + literal;
    throw new InvalidArgValueError(
      `host ${literal} is an IPv4 address, which this udp6 endpoint cannot reach (it is ${family.ipv6Only ? 'ipv6Only' : `bound to ${family.host}`}): dial a udp4 endpoint`,
    );
  }
  const address = canonicalIPv6(literal);
  if (family.type === 'udp6') {
    if (address.startsWith(MAPPED) && isIP(address.slice(MAPPED.length)) === 4 && !dualStack(family)) {
      throw new InvalidArgValueError(`host ${literal} is an IPv4-mapped address, which this udp6 endpoint cannot reach (it is ${family.ipv6Only ? 'ipv6Only' : `bound to ${family.host}`})`);
    }
    return address;
  }
  // udp4: an IPv4-mapped address is its IPv4 address; any other IPv6 address is out of reach.
  if (address.startsWith(MAPPED) && isIP(address.slice(MAPPED.length)) === 4) return address.slice(MAPPED.length);
  throw new InvalidArgValueError(`host ${literal} is an IPv6 address, which a udp4 endpoint cannot reach: create the endpoint with type: 'udp6'`);
}

/** Is a name resolved for `family` to be looked up as IPv4 as well (a dual-stack udp6 socket)? */
export function resolvesIPv4Too(family: SocketFamily): boolean {
  return family.type === 'udp6' && dualStack(family);
}

/** An IPv4 address as a dual-stack udp6 socket dials it. */
export function mappedIPv4(address: string): string {
  return MAPPED + address;
}
