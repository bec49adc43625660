import type { Deque } from './deque.js';
import type { Receiver } from './receiver.js';
import type { SendScheduler } from './send-scheduler.js';
import type { SentPackets } from './sent-packets.js';
import type { CoreEvent } from './types.js';

/**
 * The storage a quiet connection gives back (idle connections, issue 11): the event queue's,
 * the sent-packet ring's, empty send queues and receive maps. Only empty containers are
 * touched, so nothing the protocol does changes; the next send or datagram allocates them
 * again. When is the connection's business (dormancy.ts `compactDeadline`, `compactIdle`).
 */

/** Does the connection hold storage of empty containers that `releaseIdleStorage` would give back? */
export function holdsIdleStorage(events: Deque<CoreEvent>, sent: SentPackets, sender: SendScheduler, receiver: Receiver): boolean {
  return events.allocated !== 0 || sent.allocated !== 0 || sender.holdsIdleStorage() || receiver.holdsIdleStorage();
}

/**
 * Give the storage back: the event queue, the send queues and the sent-packet history release
 * theirs, the retransmission, unreliable and DATA_PART queues go back to the shared empty Deque.
 * Only with nothing ack-eliciting outstanding (dormancy.ts `compactDeadline`).
 */
export function releaseIdleStorage(events: Deque<CoreEvent>, sent: SentPackets, sender: SendScheduler, receiver: Receiver): void {
  events.releaseIfEmpty();
  // Nothing ack-eliciting is outstanding: what the history still holds are ACK-only packets
  // (no record) and packets already declared lost, which `trim` drops (as the next ACK would).
  sent.trim();
  sent.releaseIfEmpty();
  sender.releaseIdleStorage();
  receiver.releaseIdleStorage();
}

/** What `releaseIdleStorage` would give back: send queues of the connection's own, and slots of storage held (inspect()). */
export function idleStorageOf(events: Deque<CoreEvent>, sent: SentPackets, sender: SendScheduler): { queues: number; slots: number } {
  const own = sender.ownQueues;
  return { queues: own.queues, slots: own.slots + events.allocated + sent.allocated };
}
