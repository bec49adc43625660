/**
 * The Transport on reliable-dgram's public API, and nothing else: `createEndpoint`, the
 * endpoint's 'connection' event and `connect()`, and each connection's `send`/'message'/'drain'/
 * 'close'/`close()`/`destroy()`. The library is imported lazily, from this module only.
 *
 * Encryption is the library's own: a server given `keyPair` encrypts every connection and
 * refuses plaintext clients; a client given `trust` connects with `encryption: 'required'` and
 * judges the server's key in `verifyPeer` (server-key.ts). A key it refuses fails the connect
 * with ServerKeyMismatchError.
 */
import { fingerprint, ServerKeyMismatchError, type ServerIdentity, type TrustServer } from './server-key.js';
import type { Lane, Link, LinkStats, Listener, Transport } from './transport.js';

/**
 * The lanes as reliable-dgram channels: `live` is channel 0 (priority 0, served first), `bulk` is
 * channel 1 at priority 1, which the sender serves only while channel 0 has nothing to send.
 * Each channel has its own order and loss recovery, so a lost packet of a history page delays
 * nothing on channel 0. The priority says how the sending side schedules what it sends (the
 * receiver needs no setting), so a link sets it just before its first bulk send: in practice
 * the server, on a connection's first history page. Links that never send a page (every client,
 * and most server connections: the load test asks for none) keep the library's one-channel
 * form, with nothing configured.
 */
export const LANE_CHANNELS = { live: 0, bulk: 1 } as const satisfies Record<Lane, number>;
const BULK_SEND = { channel: LANE_CHANNELS.bulk } as const;
const BULK_SETTINGS = { priority: 1 } as const;

/** The slice of reliable-dgram's API used here (its full types live in the library). */
interface RdConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  send(data: Uint8Array, options?: { channel?: number }): boolean;
  setChannel(channel: number, options: { priority?: number }): unknown;
  on(event: 'message', listener: (data: Buffer) => void): unknown;
  on(event: 'close', listener: (err?: Error) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): Promise<void>;
  destroy(err?: Error): void;
  stats(): { srtt: number; packetsSent: number; packetsLost: number };
}

interface RdEndpoint {
  on(event: 'connection', listener: (conn: RdConnection) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  connect(port: number, host: string, options?: { signal?: AbortSignal }): Promise<RdConnection & { readonly encrypted?: boolean }>;
  address(): { address: string; port: number };
  close(): Promise<void>;
}

export type EndpointOptions = Record<string, unknown>;
type CreateEndpoint = (options?: EndpointOptions) => Promise<RdEndpoint>;

/**
 * Chat-sized limits instead of the library's bulk-transfer defaults:
 * - messages above 1 MiB are refused by the transport itself (default 16 MiB); the chat's own
 *   limit (LIMITS.maxRequestBytes, 64 KiB) sits below it, so a request between the two gets a
 *   TOO_LARGE reply rather than a dropped connection;
 * - at most 2 MiB wait to be sent per connection (default 8 MiB): a client that stops reading
 *   costs the server little, and past that its link is dropped (ClientConnection.send); it
 *   catches up from its delivered marks when it comes back.
 * (The bulk lane's priority is set per link, at its first bulk send: LANE_CHANNELS.)
 */
const CHAT_ENDPOINT_DEFAULTS: EndpointOptions = {
  maxMessageSize: 1024 * 1024,
  maxQueuedBytes: 2 * 1024 * 1024,
  highWaterMark: 256 * 1024,
};

let loaded: Promise<CreateEndpoint> | undefined;

async function createEndpoint(options: EndpointOptions): Promise<RdEndpoint> {
  loaded ??= import('reliable-dgram').catch((err: unknown) => {
    throw new Error(`cannot load reliable-dgram (${(err as Error).message}): run "npm run build" at the repository root`);
  }).then((lib) => {
    const create = (lib as unknown as { createEndpoint?: CreateEndpoint }).createEndpoint;
    if (typeof create !== 'function') {
      throw new Error('reliable-dgram has no createEndpoint: build the library first (npm run build at the repository root)');
    }
    return create;
  });
  return (await loaded)({ ...CHAT_ENDPOINT_DEFAULTS, ...options });
}

class ConnectionLink implements Link {
  /** The bulk lane's channel has its priority (set at the first bulk send). */
  private bulkSet = false;

  constructor(private readonly conn: RdConnection, private readonly onClosed?: () => void) {
    // An 'error' is always followed by 'close' (which carries the error); listening here keeps
    // an emitter that treats unhandled 'error' as fatal from crashing the process.
    conn.on('error', () => {});
    if (onClosed) conn.on('close', () => onClosed());
  }
  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  send(data: Uint8Array, lane: Lane = 'live'): boolean {
    if (lane === 'live') return this.conn.send(data);
    if (!this.bulkSet) {
      // Before anything is queued on the channel: the page is scheduled at priority 1 from its first byte.
      this.conn.setChannel(LANE_CHANNELS.bulk, BULK_SETTINGS);
      this.bulkSet = true;
    }
    return this.conn.send(data, BULK_SEND);
  }
  onMessage(listener: (data: Uint8Array) => void): void {
    this.conn.on('message', listener);
  }
  onClose(listener: (err?: Error) => void): void {
    this.conn.on('close', listener);
  }
  onDrain(listener: () => void): void {
    this.conn.on('drain', listener);
  }
  async close(): Promise<void> {
    try {
      await this.conn.close();
    } finally {
      this.onClosed?.();
    }
  }
  destroy(err?: Error): void {
    this.conn.destroy(err);
  }
  stats(): LinkStats {
    const s = this.conn.stats();
    return { rttMs: s.srtt, packetsSent: s.packetsSent, packetsLost: s.packetsLost };
  }
}

export interface ReliableDgramTransportOptions {
  /** Extra options for every endpoint (timeouts, limits, or a `socket` such as a LossySocket). */
  endpointOptions?: (() => EndpointOptions | Promise<EndpointOptions>) | undefined;
  /**
   * Open every outgoing connection on one shared endpoint (one UDP socket, one timer) instead of
   * one endpoint each. For programs that hold many connections, like the load test; release it
   * with `close()`.
   */
  shareClientEndpoint?: boolean;
  /** Server: its long-term key pair. Every connection is encrypted; plaintext clients are refused. */
  keyPair?: ServerIdentity;
  /** Client: which server keys to accept. Every connection is encrypted and the server's key judged by it. */
  trust?: TrustServer;
}

export class ReliableDgramTransport implements Transport {
  private shared: Promise<RdEndpoint> | null = null;

  constructor(private readonly options: ReliableDgramTransportOptions = {}) {}

  async listen(host: string, port: number): Promise<Listener> {
    const extra = (await this.options.endpointOptions?.()) ?? {};
    const keys = this.options.keyPair ? { keyPair: this.options.keyPair } : {};
    const endpoint = await createEndpoint({ host, port, ...extra, ...keys });
    endpoint.on('error', () => {});
    const bound = endpoint.address();
    return {
      host: bound.address,
      port: bound.port,
      onLink: (listener) => endpoint.on('connection', (conn) => listener(new ConnectionLink(conn))),
      close: () => endpoint.close(),
    };
  }

  /** Each connection gets its own endpoint (its own ephemeral port), closed with it, unless shared. */
  async connect(host: string, port: number, options: { signal?: AbortSignal } = {}): Promise<Link> {
    const connectOptions = options.signal ? { signal: options.signal } : undefined;
    if (this.options.shareClientEndpoint) {
      this.shared ??= this.newEndpoint();
      return new ConnectionLink(await this.secured(host, port, () => this.shared!.then((e) => e.connect(port, host, connectOptions))));
    }
    const endpoint = await this.newEndpoint(host, port);
    try {
      const conn = await this.secured(host, port, () => endpoint.connect(port, host, connectOptions));
      let closed = false;
      return new ConnectionLink(conn, () => {
        if (closed) return;
        closed = true;
        endpoint.close().catch(() => {});
      });
    } catch (err) {
      await endpoint.close().catch(() => {});
      throw err;
    }
  }

  /** Closes the shared client endpoint, if any. */
  async close(): Promise<void> {
    const shared = this.shared;
    this.shared = null;
    if (shared) await (await shared).close();
  }

  /** Keys the client refused, per host:port, so that the failed connect can say which. */
  private readonly refused = new Map<string, Buffer>();

  /**
   * A client endpoint: with `trust`, encryption is required and `verifyPeer` asks `trust` about
   * the server's key (`host`/`port` as the user wrote them; a shared endpoint sees the address).
   */
  private async newEndpoint(host?: string, port?: number): Promise<RdEndpoint> {
    const extra = (await this.options.endpointOptions?.()) ?? {};
    const trust = this.options.trust;
    const secure = trust
      ? {
          encryption: 'required',
          verifyPeer: (key: Buffer, address: string, remotePort: number) => {
            const ok = trust(host ?? address, port ?? remotePort, key);
            if (!ok) this.refused.set(`${host ?? address}:${port ?? remotePort}`, key);
            return ok;
          },
        }
      : {};
    const endpoint = await createEndpoint({ ...extra, ...secure });
    endpoint.on('error', () => {});
    return endpoint;
  }

  /** Run a connect; a server key `trust` refused becomes ServerKeyMismatchError. */
  private async secured(host: string, port: number, connect: () => Promise<RdConnection & { readonly encrypted?: boolean }>): Promise<RdConnection> {
    try {
      const conn = await connect();
      if (this.options.trust && conn.encrypted !== true) {
        conn.destroy();
        throw new Error(`the connection to ${host}:${port} is not encrypted`);
      }
      return conn;
    } catch (err) {
      const key = this.refused.get(`${host}:${port}`);
      this.refused.delete(`${host}:${port}`);
      if (key && (err as { code?: string }).code === 'ERR_AUTHENTICATION_FAILED') {
        throw new ServerKeyMismatchError(`the server key of ${host}:${port} (${fingerprint(key)}) is not the trusted one`, { cause: err });
      }
      throw err;
    }
  }
}
