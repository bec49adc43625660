/**
 * Where connect() dials: an IP literal in its canonical form and in the socket's family
 * (address.ts decides), and a host name resolved to an address the socket reaches (a dual-stack
 * udp6 socket reaches an IPv4-only name at its mapped address).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { canonicalIPv6, dialAddress, mappedIPv4, resolvesIPv4Too, type SocketFamily } from './address.js';
import { sendsInsideSend } from './bind.js';
import type { EndpointShellParts } from './endpoint-parts.js';

/**
 * The family the socket reaches (address.ts), when the endpoint bound it itself; null for a
 * socket the application passed in (a simulator's, a LossySocket), whose family it does not know.
 */
function socketFamily(ep: EndpointShellParts): SocketFamily | null {
  if (!sendsInsideSend(ep.socket)) return null;
  return { type: ep.options.type, ipv6Only: ep.options.ipv6Only, host: ep.socket.address().address };
}

/** connect()'s IP literal, canonical and in the socket's family (address.ts); throws when it is out of reach. */
export function dialLiteral(ep: EndpointShellParts, literal: string): string {
  const family = socketFamily(ep);
  if (family !== null) return dialAddress(literal, family);
  return isIP(literal) === 6 ? canonicalIPv6(literal) : literal;
}

/** connect()'s host: an IP literal as it is, a name looked up in the socket's family. */
export async function resolveHost(ep: EndpointShellParts, host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const v6 = ep.options.type === 'udp6';
  try {
    return (await lookup(host, { family: v6 ? 6 : 4 })).address;
  } catch (err) {
    // A dual-stack udp6 socket reaches a name that has only IPv4 addresses ('localhost' on
    // many hosts) at its mapped address.
    const family = socketFamily(ep);
    if (family === null || !resolvesIPv4Too(family)) throw err;
    const v4 = await lookup(host, { family: 4 }).catch(() => {
      throw err;
    });
    return mappedIPv4(v4.address);
  }
}
