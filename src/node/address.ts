import { SocketAddress, isIP } from 'node:net';
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

/** An IPv6 literal in the form the socket reports (an address with a zone, `%eth0`, is left as is). */
export function canonicalIPv6(address: string): string {
  if (address.includes('%')) return address;
  return new SocketAddress({ address, family: 'ipv6' }).address;
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
