/**
 * The server's view of one client connection: who is logged in on it, the requests waiting to be
 * handled (strictly one at a time, in arrival order, so a pipelined `send` after `login` sees the
 * login), and which groups are still catching up on their backlog.
 */
import type { ServerMessage } from '../protocol/messages.js';
import type { Lane, Link } from '../transport/transport.js';

export interface BoundSession {
  tokenHash: Buffer;
  userId: number;
  userName: string;
  /** The session's login time (for its maximum age). */
  createdAt: number;
  /** When the server last wrote `last_seen_at` for this session (writes are coalesced). */
  touchedAt: number;
}

/** A group whose backlog is still being pushed to a connection (live messages wait meanwhile). */
export interface CatchUp {
  /** Id of the last backlog message sent (the member's delivered mark before the first batch). */
  lastSent: number;
  /** A batch is being read from the store. */
  querying: boolean;
  /** A live message of the group arrived while that read was running: read again before going live. */
  dirty: boolean;
}

export class ClientConnection {
  session: BoundSession | null = null;
  closed = false;
  /** groupId -> backlog state, for the groups still catching up. */
  readonly catchingUp = new Map<number, CatchUp>();
  /** The groups this connection receives live messages of (its user's, kept by store events). */
  readonly groups = new Set<number>();
  /** groupId -> highest message id pushed: pushes per group only ever go up. */
  readonly lastPushed = new Map<number, number>();
  /**
   * Lower-cased name -> group, for the groups above: requests naming one of them need no
   * database lookup (kept by the same store events as the subscriptions).
   */
  readonly groupNames = new Map<string, { id: number; name: string }>();
  /** groupId -> when this connection's last typing notice was relayed. */
  readonly typingAt = new Map<number, number>();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(readonly link: Link, readonly label: string) {}

  get address(): string {
    return this.link.remoteAddress;
  }

  /** Runs `task` after every task queued before it. False when too many are already waiting. */
  enqueue(task: () => Promise<void>, maxQueued: number): boolean {
    if (this.queued >= maxQueued) return false;
    this.queued++;
    // A failed task must not stop the ones behind it (nor surface as an unhandled rejection).
    this.chain = this.chain
      .then(task)
      .catch(() => {})
      .finally(() => {
        this.queued--;
      });
    return true;
  }

  /**
   * Sends a message to the client, on the `live` lane unless told otherwise (PROTOCOL.md,
   * "Channels"); a dead or hopelessly backlogged link is dropped.
   */
  send(message: ServerMessage, lane: Lane = 'live'): void {
    if (this.closed) return;
    this.sendEncoded(Buffer.from(JSON.stringify(message), 'utf8'), lane);
  }

  /** Sends a message already encoded as UTF-8 JSON (one encoding for a whole group's fan-out). */
  sendEncoded(data: Uint8Array, lane: Lane = 'live'): void {
    if (this.closed) return;
    try {
      this.link.send(data, lane);
    } catch (err) {
      // Over the transport's hard queue limit, or already closed: the client will reconnect and
      // catch up from its delivered marks, so dropping the link loses nothing.
      this.link.destroy(err instanceof Error ? err : undefined);
    }
  }
}
