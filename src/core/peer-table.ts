/** What the peer table reads of a connection: the path it is on and the ID its peer chose. */
export interface PeerEntry {
  readonly remoteCid: bigint;
  readonly address: string;
  readonly port: number;
}

/** Key of one path in a slot shared by several connections with the same remote CID. */
function pathKey(address: string, port: number): string {
  return [address, port].join('|');
}

/**
 * The endpoint's connections by (remote address, remote port, remote connection ID): a repeated
 * INITIAL finds the connection it made (whose ACCEPT goes out again), a STATELESS_RESET the
 * connection it ends, an ACCEPT a server that reused an ID.
 *
 * Keyed by the remote CID, the BigInt each connection holds anyway, with the address and port
 * compared on the entry found: no key of its own per connection. (A joined
 * "address|port|cid" string cost every connection ~56 bytes: idle connections, issue 11.) Peers
 * choose their IDs, so two connections may have the same one (by chance, or a hostile peer
 * copying another's): they share a slot holding a Map by "address|port", still one lookup each
 * and never a scan, whatever a peer chooses.
 *
 * An entry is filed under its address when added: change a connection's address only between
 * `delete` and `add` (the endpoint's `moved`).
 */
export class PeerTable<T extends PeerEntry> {
  private readonly slots = new Map<bigint, T | Map<string, T>>();
  private count = 0;

  /** Connections held. */
  get size(): number {
    return this.count;
  }

  get(address: string, port: number, cid: bigint): T | undefined {
    const slot = this.slots.get(cid);
    if (slot === undefined) return undefined;
    if (slot instanceof Map) return slot.get(pathKey(address, port));
    return slot.address === address && slot.port === port ? slot : undefined;
  }

  has(address: string, port: number, cid: bigint): boolean {
    return this.get(address, port, cid) !== undefined;
  }

  /** File `entry` under its current path. False, and nothing changes, when another connection has that triple. */
  add(entry: T): boolean {
    const cid = entry.remoteCid;
    const slot = this.slots.get(cid);
    if (slot === undefined) {
      this.slots.set(cid, entry);
    } else if (slot instanceof Map) {
      const key = pathKey(entry.address, entry.port);
      if (slot.has(key)) return false;
      slot.set(key, entry);
    } else {
      if (slot.address === entry.address && slot.port === entry.port) return false;
      const shared = new Map<string, T>();
      shared.set(pathKey(slot.address, slot.port), slot);
      shared.set(pathKey(entry.address, entry.port), entry);
      this.slots.set(cid, shared);
    }
    this.count++;
    return true;
  }

  /** Remove `entry` if it is the connection filed under its current path. Returns whether it was. */
  delete(entry: T): boolean {
    const cid = entry.remoteCid;
    const slot = this.slots.get(cid);
    if (slot === entry) {
      this.slots.delete(cid);
    } else if (slot instanceof Map) {
      const key = pathKey(entry.address, entry.port);
      if (slot.get(key) !== entry) return false;
      slot.delete(key);
      // Back to a plain slot once one connection is left (its path is the key it was filed under).
      if (slot.size === 1) this.slots.set(cid, slot.values().next().value!);
    } else {
      return false;
    }
    this.count--;
    return true;
  }
}
