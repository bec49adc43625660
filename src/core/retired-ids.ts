/**
 * The IDs of closed connections, kept out of use for a while (EndpointCoreConfig.retiredCidLifetime,
 * docs/protocol.md §8): stray packets for a closed connection may still be in the network, and
 * are dropped silently (no stateless reset, no new connection on a repeated INITIAL). Both maps'
 * insertion order is expiry order (one lifetime for all), so pruning stops at the first live one.
 */
export class RetiredIds {
  /** Retired local CIDs → expiry. */
  private readonly cids = new Map<bigint, number>();
  /** Retired (remote address, port, remote CID) triples (`peerKey`) → expiry. */
  private readonly peers = new Map<string, number>();

  /** A connection closed: its local CID and its peer's triple are retired until `expiry`. */
  retire(localCid: bigint, address: string, port: number, remoteCid: bigint, expiry: number): void {
    this.cids.set(localCid, expiry);
    this.peers.set(peerKey(address, port, remoteCid), expiry);
  }

  hasCid(cid: bigint): boolean {
    return this.cids.has(cid);
  }

  /** Is the triple retired? (No key string is built while none is.) */
  hasPeer(address: string, port: number, remoteCid: bigint): boolean {
    return this.peers.size > 0 && this.peers.has(peerKey(address, port, remoteCid));
  }

  /** Forget what expired by `now`. Returns the next expiry, or undefined when nothing is retired. */
  prune(now: number): number | undefined {
    for (const [cid, expiry] of this.cids) {
      if (expiry > now) break;
      this.cids.delete(cid);
    }
    for (const [key, expiry] of this.peers) {
      if (expiry > now) break;
      this.peers.delete(key);
    }
    const next = this.cids.values().next();
    return next.done ? undefined : next.value;
  }
}

/**
 * Key of a (remote address, remote port, remote connection ID) triple among the retired ones
 * (live connections are found by PeerTable, without a string each). Joined rather than
 * concatenated: `join` builds one flat string (~60 bytes), where a template literal leaves a
 * tree of concatenated strings and their pieces (~120 bytes).
 */
function peerKey(address: string, port: number, cid: bigint): string {
  return [address, port, cid].join('|');
}
