/**
 * What a connection's callers wait on: the waiters of its async iterators (general and by
 * channel), of sendAcked() receipts, of flush() and of close(), held in one object that the
 * connection creates at the first of them. Only the holder: the connection decides when each
 * waiter is resolved or rejected.
 */
import type { Buffer } from 'node:buffer';
import { unpinFields } from '../core/mutable-fields.js';
import type { InboxItem } from './inbox.js';

/** A waiting `next()` of an async iterator. */
export interface Waiter {
  resolve: (r: IteratorResult<Buffer>) => void;
  reject: (e: unknown) => void;
}

type ReceiptWaiter = { resolve: () => void; reject: (e: unknown) => void };
type FlushWaiter = { mark: number; resolve: () => void; reject: (e: unknown) => void };

/**
 * What a connection's iterators, receipts and flush()/close() calls wait with: one object,
 * created at the first of them (Connection.ensureWaits), instead of nine fields in every
 * connection (idle connections, issue 11). Each list or map is itself created at first use,
 * and dropped again once empty.
 */
export class Waits {
  /** General iterators running. */
  iterating = 0;
  /** Waiters of the general iterators. */
  waiters: Waiter[] | null = null;
  /** Iterators of one channel (`messages({ channel })`): their waiters, by channel (null: none). */
  channelWaiters: Map<number, Waiter[]> | null = null;
  channelIterating: Map<number, number> | null = null;
  /** Messages for general consumers while channel iterators exist: those of channels none claims. */
  unclaimedMatch: ((item: InboxItem) => boolean) | null = null;
  /** Receipts (`sendAcked`) waiting on the engine. */
  receipts: Map<number, ReceiptWaiter> | null = null;
  nextReceipt = 1;
  /** flush() and close() calls waiting on the engine. */
  flushWaiters: FlushWaiter[] | null = null;
  closeWaiters: ReceiptWaiter[] | null = null;

  constructor() {
    // Created on first use: mutable from the start (src/core/mutable-fields.ts).
    unpinFields(this, ['waiters', 'channelWaiters', 'channelIterating', 'unclaimedMatch', 'receipts', 'flushWaiters', 'closeWaiters']);
  }
}
