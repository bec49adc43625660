/**
 * An in-memory Transport for unit tests: links deliver each message on a microtask, in order,
 * never lose anything, and close both ends together. No sockets, no timers.
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
  closed = false;
  sent = 0;
  /** Every message sent, with its lane, in order. */
  readonly log: { lane: Lane; text: string }[] = [];
  gate: Gate | null = null;
  private readonly messageListeners: ((data: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((err?: Error) => void)[] = [];

  constructor(readonly remoteAddress: string, readonly remotePort: number) {}

  send(data: Uint8Array, lane: Lane = 'live'): boolean {
    if (this.closed) throw Object.assign(new Error('closed'), { code: 'ERR_CONNECTION_CLOSED' });
    this.sent++;
    const copy = Uint8Array.from(data);
    this.log.push({ lane, text: Buffer.from(copy).toString('utf8') });
    const deliver = (): void => {
      if (!this.peer.closed) for (const l of this.peer.messageListeners) l(copy);
    };
    if (this.gate?.held && (this.gate.lane === undefined || this.gate.lane === lane)) this.gate.held.push(deliver);
    else queueMicrotask(deliver);
    return true;
  }

  onMessage(listener: (data: Uint8Array) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (err?: Error) => void): void {
    this.closeListeners.push(listener);
  }

  onDrain(): void {}

  async close(): Promise<void> {
    this.shutdown(undefined);
  }

  destroy(err?: Error): void {
    this.shutdown(err);
  }

  private shutdown(err: Error | undefined): void {
    if (this.closed) return;
    this.end(err);
    this.peer.end(err && Object.assign(new Error('reset by peer'), { code: 'ERR_CONNECTION_RESET' }));
  }

  private end(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
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
