import type { Delivery } from './types.js';

interface BufferedFragment {
  payload: Uint8Array;
  first: boolean;
  last: boolean;
  unordered: boolean;
  /** Part of an unordered message that was already delivered. */
  delivered: boolean;
}

export type DeliverFn = (data: Uint8Array, delivery: Delivery, credit: number) => void;

/**
 * `malformed`: the fragments break message framing (a message longer than `maxMessageSize`, or
 * a FIRST fragment inside an unfinished message): the peer is broken or hostile.
 */
export type AcceptResult = 'new' | 'duplicate' | 'beyond-window' | 'malformed';

const EMPTY = new Uint8Array(0);
/** Never written to: idle connections do not each pay for an empty hash table. */
const NO_FRAGMENTS = new Map<number, BufferedFragment>();

/**
 * Receiver side of reliable data: reassembles fragments (identified by TSN) into messages,
 * suppresses duplicates and computes the flow-control credit (`maxTsn`).
 *
 * - `cumTsn`: every TSN up to it has arrived.
 * - An in-order scan consumes fragments up to `cumTsn` and delivers ordered messages (and
 *   unordered ones not yet delivered) when their last fragment is consumed.
 * - An unordered message is delivered as soon as all its fragments are buffered.
 * - Credit: the peer may send TSNs up to `maxTsn = cumTsn + windowFragments − held`, never
 *   lowered once advertised; `held` counts fragments of delivered messages the application has
 *   not released yet, so a stalled reader closes the window.
 */
export class ReceiveBuffer {
  cumTsn: number;
  maxTsn: number;
  held = 0;
  private scanTsn: number;
  /** Fragments beyond the in-order scan; a shared empty map until the first one arrives. */
  private buffered: Map<number, BufferedFragment> = NO_FRAGMENTS;
  private current: Uint8Array[] = [];
  private currentBytes = 0;
  private currentUnordered = false;

  /** Set when the peer broke message framing; the connection must be closed. */
  malformed = false;

  constructor(
    initialTsn: number,
    readonly windowFragments: number,
    private readonly deliver: DeliverFn,
    /** Longest message accepted: an endless message must not grow memory without bound. */
    private readonly maxMessageSize = Infinity,
  ) {
    this.cumTsn = initialTsn - 1;
    this.scanTsn = initialTsn;
    this.maxTsn = this.cumTsn + windowFragments;
  }

  /** Fragments buffered beyond `cumTsn` (for the window invariant). */
  get bufferedCount(): number {
    return this.buffered.size - (this.cumTsn + 1 - this.scanTsn);
  }

  accept(tsn: number, payload: Uint8Array, first: boolean, last: boolean, unordered: boolean): AcceptResult {
    if (tsn <= this.cumTsn || this.buffered.has(tsn)) return 'duplicate';
    if (tsn > this.maxTsn) return 'beyond-window';
    if (tsn === this.scanTsn && tsn === this.cumTsn + 1 && this.buffered.size === 0) {
      // The common case, in order with nothing buffered: consume it at once (no map traffic).
      this.cumTsn = tsn;
      this.scanTsn = tsn + 1;
      this.consume(payload, first, last, unordered);
      this.updateCredit();
      return this.malformed ? 'malformed' : 'new';
    }
    if (this.buffered === NO_FRAGMENTS) this.buffered = new Map();
    this.buffered.set(tsn, { payload, first, last, unordered, delivered: false });
    if (tsn === this.cumTsn + 1) {
      let next = tsn + 1;
      while (this.buffered.has(next)) next++;
      this.cumTsn = next - 1;
    }
    if (unordered && tsn > this.cumTsn) this.tryDeliverUnordered(tsn);
    this.scan();
    this.updateCredit();
    return this.malformed ? 'malformed' : 'new';
  }

  release(credit: number): void {
    this.held = Math.max(0, this.held - credit);
    this.updateCredit();
  }

  private updateCredit(): void {
    const credit = this.cumTsn + this.windowFragments - this.held;
    if (credit > this.maxTsn) this.maxTsn = credit;
  }

  /** Deliver the unordered message around `tsn` if every fragment of it is buffered. */
  private tryDeliverUnordered(tsn: number): void {
    const b = this.buffered;
    // Forward first: while fragments arrive in order this stops at once (the next is missing).
    let end = tsn;
    for (;;) {
      const f = b.get(end);
      if (f === undefined) return;
      if (f.last) break;
      end++;
    }
    let start = tsn;
    for (;;) {
      const f = b.get(start);
      // A missing or already scanned head: the in-order scan owns this message.
      if (f === undefined || start < this.scanTsn) return;
      if (f.first) break;
      start--;
    }
    let bytes = 0;
    for (let t = start; t <= end; t++) bytes += b.get(t)!.payload.length;
    const data = start === end ? b.get(start)!.payload : new Uint8Array(bytes);
    let offset = 0;
    for (let t = start; t <= end; t++) {
      const f = b.get(t)!;
      if (start !== end) {
        data.set(f.payload, offset);
        offset += f.payload.length;
      }
      f.payload = EMPTY;
      f.delivered = true;
    }
    this.held += end - start + 1;
    this.deliver(data, 'unordered', end - start + 1);
  }

  private scan(): void {
    const b = this.buffered;
    while (this.scanTsn <= this.cumTsn) {
      const tsn = this.scanTsn++;
      const f = b.get(tsn)!;
      b.delete(tsn);
      if (!f.delivered) this.consume(f.payload, f.first, f.last, f.unordered);
    }
  }

  /** The next fragment in TSN order: add it to the message being assembled; deliver at its end. */
  private consume(payload: Uint8Array, first: boolean, last: boolean, unordered: boolean): void {
    if (first !== (this.current.length === 0)) {
      // A FIRST inside an unfinished message, or a continuation with no message started.
      this.malformed = true;
      return;
    }
    if (first && last) {
      // A whole message in one fragment: no copy, no assembly.
      this.held += 1;
      this.deliver(payload, unordered ? 'unordered' : 'ordered', 1);
      return;
    }
    if (first) this.currentUnordered = unordered;
    this.current.push(payload);
    this.currentBytes += payload.length;
    if (this.currentBytes > this.maxMessageSize) {
      // Fragments of an unfinished message are neither buffered nor held: without this bound a
      // peer that never sends LAST could grow them forever, whatever the window.
      this.malformed = true;
      this.current = [];
      return;
    }
    if (last) {
      const parts = this.current;
      const data = new Uint8Array(this.currentBytes);
      let offset = 0;
      for (const p of parts) {
        data.set(p, offset);
        offset += p.length;
      }
      this.current = [];
      this.currentBytes = 0;
      this.held += parts.length;
      this.deliver(data, this.currentUnordered ? 'unordered' : 'ordered', parts.length);
    }
  }
}
