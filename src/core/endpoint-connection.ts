import { RESET_TOKEN_SIZE } from '../wire/index.js';
import { cidHigh, cidLow } from '../wire/cid-halves.js';
import type { ConnectionCoreLike } from './endpoint-types.js';
import type { TimerEntry } from './endpoint-timers.js';
import type { PacketProtection } from './secure/packet-protection.js';

/** One established connection as the endpoint sees it. */
export class EndpointConnection implements TimerEntry {
  /** What the deadline heap holds (a connection, a handshake, housekeeping): on the prototype, not in every record. */
  declare readonly kind: 'connection';
  static {
    (this.prototype as { kind: string }).kind = 'connection';
  }
  heapIndex = -1;
  heapDeadline = 0;
  /** Has input the endpoint has not yet drained (transmits, events, new deadline). */
  dirty = false;
  /** Its ACK waits for the end of the batch (EndpointCore.endBatch). */
  ackDeferred = false;
  /** The engine reported `closed`; the endpoint forgot it. */
  closed = false;
  /** Free slot for the shell (its Connection object). */
  owner: unknown = undefined;
  /** `localCid` as two signed 32-bit halves (`cidHigh`, `cidLow`): routing compares them with the datagram's bytes, no BigInt. */
  readonly cidHi: number;
  readonly cidLo: number;
  /** `remoteResetToken`, big-endian, as four signed 32-bit integers (small integers in V8: no heap number). */
  private readonly token0: number;
  private readonly token1: number;
  private readonly token2: number;
  private readonly token3: number;

  constructor(
    readonly id: number,
    readonly role: 'client' | 'server',
    readonly localCid: bigint,
    readonly remoteCid: bigint,
    /** The peer's address and port: the connection's current path (it moves when the peer migrates, §23). */
    public address: string,
    public port: number,
    readonly core: ConnectionCoreLike,
    /** The reset token the peer gave (its STATELESS_RESET must carry it): read here, kept as four integers. */
    resetToken: Uint8Array,
    /**
     * Server: the ACCEPT to resend when the client's INITIAL is repeated; dropped once the
     * client's first DATA arrived (it had the ACCEPT).
     */
    public acceptDatagram: Uint8Array | null,
    /** Packet protection of an encrypted connection; null for plaintext. */
    readonly protection: PacketProtection | null = null,
    /** The peer's static public key, when the handshake authenticated one. */
    readonly remotePublicKey: Uint8Array | null = null,
  ) {
    this.cidHi = cidHigh(localCid);
    this.cidLo = cidLow(localCid);
    this.token0 = readI32(resetToken, 0);
    this.token1 = readI32(resetToken, 4);
    this.token2 = readI32(resetToken, 8);
    this.token3 = readI32(resetToken, 12);
  }

  /**
   * The reset token the peer gave, 16 bytes (a new array each call: only a stateless reset
   * reads it). Kept as four signed 32-bit integers, 32 bytes in the record itself, where a view
   * of its own cost each connection ~100 bytes (idle connections, issue 11).
   */
  get remoteResetToken(): Uint8Array {
    const t = new Uint8Array(RESET_TOKEN_SIZE);
    const words = [this.token0, this.token1, this.token2, this.token3];
    for (let i = 0; i < 4; i++) {
      const w = words[i]!;
      t[4 * i] = w >>> 24;
      t[4 * i + 1] = (w >>> 16) & 0xff;
      t[4 * i + 2] = (w >>> 8) & 0xff;
      t[4 * i + 3] = w & 0xff;
    }
    return t;
  }

  get encrypted(): boolean {
    return this.protection !== null;
  }
}

/** Four bytes as a signed 32-bit integer: a CID half as `cidHigh`/`cidLow` give it (always a small integer, no heap number). */
export function readI32(b: Uint8Array, offset: number): number {
  return (b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!;
}
