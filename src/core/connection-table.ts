import { cidLow } from '../wire/cid-halves.js';

/** What the table reads of a connection: the ID this endpoint chose for it, whole and as halves. */
export interface LocalCidEntry {
  readonly localCid: bigint;
  /** `cidHigh(localCid)`, `cidLow(localCid)` (src/wire/cid-halves.ts). */
  readonly cidHi: number;
  readonly cidLo: number;
}

/**
 * The endpoint's established connections by local connection ID, in one table: the set of
 * connections (its size, its iteration: registration order, the rare `overflow` ones last) and
 * the router of DATA.
 *
 * `byLow` maps the low 32 bits of the ID (a small integer: no BigInt) to the first connection
 * registered with them; DATA is routed by reading that half from the datagram and comparing the
 * high half with the entry's (endpoint-routing.ts `route` reads `byLow` directly, one Map
 * lookup per datagram). A connection whose low half was already taken when it registered (about 2^-32 per
 * pair of random IDs) goes into `overflow`, by its full ID, where `get` finds it. One entry per
 * connection: a Set of connections, a Map by full ID beside the low-half Map cost every idle
 * connection ~80 bytes more at 10,000 (issue 11).
 */
export class ConnectionTable<T extends LocalCidEntry> implements Iterable<T> {
  /** Low half of the local CID → the first connection registered with it. Read by the hot path. */
  readonly byLow = new Map<number, T>();
  /** Connections whose low half another held when they registered, by full ID (rare). */
  private readonly overflow = new Map<bigint, T>();

  get size(): number {
    return this.byLow.size + this.overflow.size;
  }

  /** The connection with local ID `cid`, if any. */
  get(cid: bigint): T | undefined {
    const c = this.byLow.get(cidLow(cid));
    if (c !== undefined && c.localCid === cid) return c;
    return this.overflow.size === 0 ? undefined : this.overflow.get(cid);
  }

  has(cid: bigint): boolean {
    return this.get(cid) !== undefined;
  }

  /** Add `c` (its ID must not be in the table: the endpoint picks fresh ones). */
  add(c: T): void {
    if (!this.byLow.has(c.cidLo)) this.byLow.set(c.cidLo, c);
    else this.overflow.set(c.localCid, c);
  }

  /** Remove `c`. Returns whether it was there. */
  delete(c: T): boolean {
    if (this.byLow.get(c.cidLo) === c) return this.byLow.delete(c.cidLo);
    return this.overflow.get(c.localCid) === c && this.overflow.delete(c.localCid);
  }

  *[Symbol.iterator](): Iterator<T> {
    yield* this.byLow.values();
    yield* this.overflow.values();
  }
}
