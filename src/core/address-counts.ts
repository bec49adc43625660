/**
 * Incoming connections per remote IP address (maxConnectionsPerAddress), and one string per
 * address for the connections that share it.
 *
 * Every received datagram comes with its own copy of the sender's address (node:dgram's rinfo),
 * and a connection keeps the one its INITIAL came with. Connections from one address (clients
 * behind one NAT, a load test) then each held an equal string of their own, ~32 bytes apiece
 * (idle connections, issue 11). `keep` hands back the string to keep instead: one string for
 * all but the first connection from there. Only addresses with two or more connections have it
 * filed (`shared`); an address with one connection costs nothing more than its count.
 */
export class AddressCounts {
  private readonly counts = new Map<string, number>();
  /** Address → the string its connections share, while it has two or more. */
  private readonly shared = new Map<string, string>();

  /** Connections from `address`. */
  count(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /**
   * The string equal to `address` for a new connection from there to keep: the one the others
   * from there keep, if any (then filed as shared, if it was not yet).
   */
  keep(address: string): string {
    if (this.count(address) === 0) return address;
    const kept = this.shared.get(address);
    if (kept !== undefined) return kept;
    this.shared.set(address, address);
    return address;
  }

  /** One more connection from `address`. */
  add(address: string): void {
    this.counts.set(address, this.count(address) + 1);
  }

  /** One connection fewer from `address`. */
  remove(address: string): void {
    const n = this.count(address) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
    if (n <= 1) this.shared.delete(address);
  }
}
