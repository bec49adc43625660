/**
 * An in-memory Transport for unit tests: links deliver each message on a microtask, in order,
 * and never lose anything. No sockets, no timers. Closing behaves as reliable-dgram's does: a
 * graceful `close()` stops this end's sends at once but delivers everything already sent, in
 * both directions (the peer's messages in flight still arrive here), and only then ends both
 * ends; `destroy()` ends both at once and drops what is in flight (a RESET).
 */
import type { Lane, Link, Listener, Transport } from '../../src/transport/transport.js';

/** Messages held back (server to client) while a test holds replies. */
interface Gate {
  held: (() => void)[] | null;
  /** Hold only this lane's messages (the other lane keeps flowing, as separate channels do). */
  lane?: Lane | undefined;
}

class MemoryLink implements Link {
  peer!: MemoryLink;
  /** Ended: nothing more is delivered to or from this end; its close listeners have been told. */
  closed = false;
  /** `close()` was called: no new sends, the close completes once what was sent has arrived. */
  closing = false;
  private readonly closeWaiters: (() => void)[] = [];
  sent = 0;
  /** Every message sent, with its lane, in order. */
  readonly log: { lane: Lane; text: string }[] = [];
  gate: Gate | null = null;
  private readonly messageListeners: ((data: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((err?: Error) => void)[] = [];

  constructor(readonly remoteAddress: string, readonly remotePort: number) {}

  send(data: Uint8Array, lane: Lane = 'live'): boolean {
    if (this.closed || this.closing) throw Object.assign(new Error('closed'), { code: 'ERR_CONNECTION_CLOSED' });
    this.sent++;
    const copy = Uint8Array.from(data);
    this.log.push({ lane, text: Buffer.from(copy).toString('utf8') });
    const deliver = (): void => {
      if (!this.peer.closed) for (const l of this.peer.messageListeners) l(copy);
    };
    this.route(deliver, lane);
    return true;
  }

  /**
   * On its way to the peer: held by the gate when it holds this lane (`undefined`: the close,
   * which waits behind every lane, as a real CLOSE waits until all data is acknowledged).
   */
  private route(deliver: () => void, lane: Lane | undefined): void {
    const gate = this.gate;
    if (gate?.held && (lane === undefined || gate.lane === undefined || gate.lane === lane)) gate.held.push(deliver);
    else queueMicrotask(deliver);
  }

  onMessage(listener: (data: Uint8Array) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (err?: Error) => void): void {
    this.closeListeners.push(listener);
  }

  onDrain(): void {}

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (!this.closing) {
      this.closing = true;
      // Behind everything this end sent: the peer reads it after the last message.
      this.route(() => this.peer.peerClosed(), undefined);
    }
    return done;
  }

  destroy(err?: Error): void {
    if (this.closed) return;
    this.end(err);
    // The peer hears a RESET whether or not this end gave a reason.
    this.peer.end(Object.assign(new Error('reset by peer'), { code: 'ERR_CONNECTION_RESET' }));
  }

  /**
   * The peer's close arrived after all it had sent: this end closes too (no new sends), and its
   * own close goes behind whatever it sent before (still on its way, or held by the gate), which
   * the peer, only closing, still receives. Then both end.
   */
  private peerClosed(): void {
    if (this.closed) return;
    this.closing = true;
    const peer = this.peer;
    this.route(() => {
      this.end(undefined);
      peer.end(undefined);
    }, undefined);
  }

  private end(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    queueMicrotask(() => {
      for (const l of this.closeListeners) l(err);
    });
  }
}

class MemoryListener implements Listener {
  readonly host = '127.0.0.1';
  readonly linkListeners: ((link: Link) => void)[] = [];
  constructor(readonly port: number) {}
  onLink(listener: (link: Link) => void): void {
    this.linkListeners.push(listener);
  }
  async close(): Promise<void> {}
}

export class MemoryTransport implements Transport {
  private readonly listeners = new Map<number, MemoryListener>();
  private nextPort = 40000;
  private readonly gate: Gate = { held: null };

  /** The server's end of every link, in connection order. */
  readonly serverLinks: MemoryLink[] = [];

  /**
   * Holds everything servers send to clients (or only what they send on `lane`) until
   * `release()` (which delivers it in order).
   */
  holdReplies(lane?: Lane): { release(): void } {
    this.gate.held = [];
    this.gate.lane = lane;
    return {
      release: () => {
        const held = this.gate.held ?? [];
        this.gate.held = null;
        this.gate.lane = undefined;
        for (const deliver of held) deliver();
      },
    };
  }

  /** `address` lets a test pretend clients come from different IPs (for per-address throttling). */
  constructor(private readonly clientAddress = '127.0.0.1') {}

  async listen(_host: string, port: number): Promise<Listener> {
    const listener = new MemoryListener(port || this.nextPort++);
    this.listeners.set(listener.port, listener);
    return listener;
  }

  async connect(_host: string, port: number): Promise<Link> {
    return this.connectFrom(this.clientAddress, port);
  }

  async connectFrom(address: string, port: number): Promise<Link> {
    const listener = this.listeners.get(port);
    if (!listener) throw Object.assign(new Error('refused'), { code: 'ERR_CONNECTION_REFUSED' });
    const clientPort = this.nextPort++;
    const client = new MemoryLink('127.0.0.1', port);
    const server = new MemoryLink(address, clientPort);
    client.peer = server;
    server.peer = client;
    server.gate = this.gate;
    this.serverLinks.push(server);
    for (const l of listener.linkListeners) l(server);
    return client;
  }
}
