import type { TransportParams } from '../wire/index.js';
import type { EndpointConnection } from './endpoint-connection.js';
import type { DropReason, EndpointCoreConfig } from './endpoint-types.js';
import type { PeerTable } from './peer-table.js';
import type { PacketProtection, ProtectionConfig } from './secure/packet-protection.js';
import type { CryptoSuite } from './secure/suite.js';
import type { LocalParams } from './transport-params.js';

/**
 * What both sides of the handshake use of their endpoint (server-handshake.ts's `ServerHost` and
 * client-handshake.ts's `ClientHost` add what each needs besides): the endpoint's settings and
 * peer table, and the few things only the endpoint does (queue a datagram, count a drop, draw a
 * connection ID, make a connection). endpoint.ts builds one host, once, for both.
 */
export interface HandshakeHost {
  readonly config: EndpointCoreConfig;
  /**
   * (remote address, port, remote CID) → connection: a repeated INITIAL finds the one it made,
   * an ACCEPT must not name one in use.
   */
  readonly byPeer: PeerTable<EndpointConnection>;
  readonly params: LocalParams;
  readonly suite: CryptoSuite | null;
  readonly encryption: 'required' | 'optional';
  readonly protectionConfig: ProtectionConfig;
  readonly randomBytes: (n: number) => Uint8Array;
  /** The endpoint is closing: no new connections. */
  closing(): boolean;
  /** Connections and outgoing handshakes, against maxConnections. */
  population(): number;
  /** Queue a handshake datagram (counted as one). */
  queue(data: Uint8Array, address: string, port: number): void;
  drop(reason: DropReason): void;
  freshCid(): bigint;
  /** EndpointCoreConfig.verifyPeer's verdict on a peer's static key. */
  peerAccepted(publicKey: Uint8Array | null, address: string, port: number): boolean;
  /**
   * Create the engine and the record of a new connection (endpoint-registry.ts `establish`). A
   * server's gets the next id and no RTT sample; a client's keeps its attempt's id and the
   * handshake's RTT sample.
   */
  establish(
    now: number, role: 'client' | 'server', localCid: bigint, remoteCid: bigint, address: string, port: number,
    localParams: TransportParams, remoteParams: TransportParams, acceptDatagram: Uint8Array | null,
    protection: PacketProtection | null, remotePublicKey: Uint8Array | null, id?: number, handshakeRtt?: number,
  ): EndpointConnection;
}
