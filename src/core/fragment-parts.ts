import type { DataFrame, DataPartFrame } from '../wire/types.js';

interface Partial {
  frame: DataFrame;
  /** Bytes [from, to) received, merged, sorted. */
  covered: [number, number][];
}

/**
 * Reassembles the DATA fragments of one channel that arrive in pieces (DATA_PART frames). A sender cuts a fragment
 * into parts only when the path MTU fell below the size the fragment was cut for (a black hole,
 * path-mtu.ts) and it has to send it again: TSNs are fixed once sent, so the fragment cannot be
 * cut anew. Pieces may overlap (cut for different sizes) and repeat; once every byte arrived,
 * the whole fragment goes on as one DATA frame.
 *
 * Memory: one partial fragment per TSN, and only for TSNs within the receive window (the caller
 * checks), each at most the announced maxDatagramSize; fragments the receive buffer already
 * has are dropped from here as it moves on (`prune`).
 *
 * docs/protocol.md "DATA_PART".
 */
export class FragmentParts {
  private readonly partials = new Map<number, Partial>();
  /** Bytes the partial fragments hold. */
  retained = 0;

  /** Partial fragments held. */
  get size(): number {
    return this.partials.size;
  }

  /**
   * Add a piece of the fragment with (expanded) TSN `tsn`. Returns the whole fragment once
   * complete, null while pieces are missing, or 'malformed' when the piece contradicts earlier
   * ones (another length or other flags for the same TSN).
   */
  add(tsn: number, part: DataPartFrame): DataFrame | null | 'malformed' {
    let p = this.partials.get(tsn);
    if (p === undefined) {
      p = {
        frame: {
          type: 'data',
          channel: part.channel,
          tsn: part.tsn,
          first: part.first,
          last: part.last,
          unordered: part.unordered,
          payload: new Uint8Array(part.length),
        },
        covered: [],
      };
      this.partials.set(tsn, p);
      this.retained += part.length;
    } else if (
      p.frame.payload.length !== part.length ||
      p.frame.first !== part.first ||
      p.frame.last !== part.last ||
      p.frame.unordered !== part.unordered
    ) {
      return 'malformed';
    }
    p.frame.payload.set(part.payload, part.offset);
    p.covered = merge(p.covered, part.offset, part.offset + part.payload.length);
    const c = p.covered;
    if (c.length === 1 && c[0]![0] === 0 && c[0]![1] === part.length) {
      this.partials.delete(tsn);
      this.retained -= part.length;
      return p.frame;
    }
    return null;
  }

  /**
   * The receive buffer's cumulative TSN moved from `from` to `to`: forget the partial fragments
   * it now has whole (every partial is above the cumulative TSN when added, so only TSNs in
   * (from, to] can be). Visits min(to − from, partials held) entries, never every partial on
   * every frame: a peer holding many partials on a channel cannot make each DATA frame of it walk
   * them all, and the TSNs the range visits are ones the peer sent (amortised, one per TSN).
   * Returns the bytes it gave back.
   */
  prune(from: number, to: number): number {
    const partials = this.partials;
    if (partials.size === 0 || to <= from) return 0;
    const was = this.retained;
    if (to - from <= partials.size) {
      for (let tsn = from + 1; tsn <= to; tsn++) {
        const p = partials.get(tsn);
        if (p === undefined) continue;
        partials.delete(tsn);
        this.retained -= p.frame.payload.length;
      }
    } else {
      for (const [tsn, p] of partials) {
        if (tsn > to) continue;
        partials.delete(tsn);
        this.retained -= p.frame.payload.length;
      }
    }
    return was - this.retained;
  }
}

function merge(ranges: [number, number][], from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let placed = false;
  for (const r of ranges) {
    if (r[1] < from) {
      out.push(r);
    } else if (r[0] > to) {
      if (!placed) {
        out.push([from, to]);
        placed = true;
      }
      out.push(r);
    } else {
      from = Math.min(from, r[0]);
      to = Math.max(to, r[1]);
    }
  }
  if (!placed) out.push([from, to]);
  return out;
}
