import { expand32 } from '../../wire/packet-number.js';
import { PacketType } from '../../wire/types.js';
import { PROTECTED_HEADER_SIZE, PROTECTED_TAG_SIZE, PROTECTION_OVERHEAD, SecurePacketType } from '../../wire/secure.js';
import { sharedSlab } from '../slab.js';
import { nextPacketKey, packetKey, packetNonce, type PacketKey } from './key-schedule.js';
import { ReplayWindow } from './replay-window.js';
import { NONCE_SIZE, type CryptoSuite } from './suite.js';

/**
 * Packet protection of one connection, at the datagram boundary between the endpoint and the
 * engine (docs/protocol.md §23–§25). The engine keeps producing and consuming plaintext DATA
 * packets; this turns each one into a PROTECTED packet and back:
 *
 *   DATA       [ver][0x04][dcid 8][pn 4][frames ...][CRC-32 4]
 *   PROTECTED  [ver][0x0a|phase][dcid 8][pn 4][ChaCha20-Poly1305(frames)][tag 16]
 *
 * The 14-byte clear header is the associated data; the nonce is the per-key IV XOR the full
 * packet number. Received packets go through the replay window (checked before, updated only
 * after the tag verified) and the key-phase logic below. Nothing here throws for bad input:
 * `open` returns null and counts why.
 *
 * Key update (QUIC style, RFC 9001 §6): both directions move to generation g+1 together. A side
 * starts an update when its current keys have sealed `keyUpdatePackets` packets or are
 * `keyUpdateInterval` ms old, but only once the peer has shown it has the current keys (a
 * packet of this generation arrived), so phases never run two ahead. The receiver of a packet
 * with the other phase bit tries the next generation's key (precomputed); if it opens, it
 * updates too. The previous receive key stays until `keyRetain` ms after the first packet under
 * the new keys arrived, for reordered packets (and for a peer that has not updated yet).
 */
export interface ProtectionConfig {
  /** Start a key update after this many packets sealed under one key. */
  keyUpdatePackets: number;
  /** Start a key update when the current keys are this old, ms. */
  keyUpdateInterval: number;
  /** Keep the previous receive key this long after the first packet under the new keys, ms. */
  keyRetain: number;
}

/**
 * RFC 9001 §6.6: the integrity limit of AEAD_CHACHA20_POLY1305 is 2^36 forgery attempts per
 * connection; past it the connection must stop. (Its confidentiality limit exceeds any packet
 * count; the 2^23 of AES-GCM is used as the default update threshold all the same.)
 */
export const CHACHA20_POLY1305_INTEGRITY_LIMIT = 2 ** 36;

export const DEFAULT_PROTECTION_CONFIG: ProtectionConfig = {
  keyUpdatePackets: 2 ** 23,
  keyUpdateInterval: 120_000,
  keyRetain: 3_000,
};

export interface ProtectionStats {
  /** The current key generation (number of key updates so far). */
  keyGeneration: number;
  /** Packets whose tag did not verify (forged, corrupted, truncated, or for a discarded key). */
  decryptFailures: number;
  /** Packets rejected by the replay window (seen before, or below the window). */
  replays: number;
}

export type OpenFailure = 'decrypt' | 'replay';

export class PacketProtection {
  private send: PacketKey;
  private recv: PacketKey;
  private recvNext: PacketKey;
  private recvPrev: PacketKey | null = null;
  private recvPrevUntil = 0;
  private generation = 0;
  private sentUnderKey = 0;
  private keyStartedAt: number;
  /** A packet of the current generation arrived: the peer has these keys. */
  private confirmed = false;
  /** Lowest packet number that opened under the current receive key. */
  private firstPnOfGeneration = Infinity;
  private lastSentPn = -1;
  private readonly replay = new ReplayWindow();
  private readonly nonce = new Uint8Array(NONCE_SIZE);
  /** The associated data of the packet being sealed or opened: its clear header, copied. */
  private readonly aad = new Uint8Array(PROTECTED_HEADER_SIZE);
  private readonly counters = { decryptFailures: 0, replays: 0 };
  /** Why the last `open` returned null. */
  lastFailure: OpenFailure | null = null;

  constructor(
    private readonly suite: CryptoSuite,
    sendSecret: Uint8Array,
    recvSecret: Uint8Array,
    private readonly config: ProtectionConfig,
    now: number,
  ) {
    this.send = packetKey(suite, sendSecret, 0);
    this.recv = packetKey(suite, recvSecret, 0);
    this.recvNext = nextPacketKey(suite, this.recv);
    this.keyStartedAt = now;
  }

  stats(): ProtectionStats {
    return { keyGeneration: this.generation, ...this.counters };
  }

  /** Forgery attempts reached the AEAD's integrity limit: the connection must close. */
  get exhausted(): boolean {
    return this.counters.decryptFailures >= CHACHA20_POLY1305_INTEGRITY_LIMIT;
  }

  /**
   * Seal one DATA datagram of the engine (header, frames, CRC-32) into a new PROTECTED datagram,
   * 12 bytes longer, cut from the shared slab (src/core/slab.ts) as the engine's own datagrams
   * are. Throws if the engine reused a packet number (a bug that would reuse a nonce).
   */
  seal(now: number, plain: Uint8Array): Uint8Array {
    this.maybeStartUpdate(now);
    const truncated = ((plain[10]! << 24) | (plain[11]! << 16) | (plain[12]! << 8) | plain[13]!) >>> 0;
    const pn = expand32(truncated, this.lastSentPn + 1);
    if (pn <= this.lastSentPn) throw new Error(`packet number ${pn} reused (last ${this.lastSentPn}): nonce reuse refused`);
    this.lastSentPn = pn;
    const bodyLength = plain.length - PROTECTED_HEADER_SIZE - 4;
    const size = plain.length + PROTECTION_OVERHEAD;
    const out = sharedSlab.take(size);
    sharedSlab.commit(size);
    // The clear header, into the datagram and into the associated data (no views of either).
    const aad = this.aad;
    for (let i = 0; i < PROTECTED_HEADER_SIZE; i++) out[i] = plain[i]!;
    out[1] = SecurePacketType.Protected | (this.generation & 1);
    for (let i = 0; i < PROTECTED_HEADER_SIZE; i++) aad[i] = out[i]!;
    const body = plain.subarray(PROTECTED_HEADER_SIZE, PROTECTED_HEADER_SIZE + bodyLength);
    this.send.cipher.seal(packetNonce(this.send.iv, pn, this.nonce), aad, body, out, PROTECTED_HEADER_SIZE);
    this.sentUnderKey++;
    return out;
  }

  /**
   * Open a PROTECTED datagram, in place: returns the DATA datagram the engine expects as a view
   * of `datagram`'s own memory (decrypted where the ciphertext was, 12 bytes shorter), or null
   * (see `lastFailure`) if it is replayed, too old, or does not authenticate; `datagram` is then
   * unchanged. No buffer per packet: the engine keeps views of the received datagram for the
   * payloads, as it does for a plaintext one. The CRC field is zero, not computed: the engine
   * takes it with `handleDatagram(now, datagram, true)`, the tag having authenticated far more
   * than a CRC could.
   */
  open(now: number, datagram: Uint8Array): Uint8Array | null {
    this.lastFailure = null;
    const n = datagram.length;
    if (n < PROTECTED_HEADER_SIZE + PROTECTED_TAG_SIZE) return this.failed('decrypt');
    if (this.recvPrev && now >= this.recvPrevUntil) this.recvPrev = null;
    const truncated = ((datagram[10]! << 24) | (datagram[11]! << 16) | (datagram[12]! << 8) | datagram[13]!) >>> 0;
    const pn = expand32(truncated, this.replay.largest + 1);
    if (this.replay.check(pn) !== 'fresh') return this.failed('replay');
    const aad = this.aad;
    for (let i = 0; i < PROTECTED_HEADER_SIZE; i++) aad[i] = datagram[i]!;
    // Plain views (not Buffer subarrays, whose species lookup costs more): the ciphertext and
    // tag, and the DATA datagram it opens into, over the same bytes.
    const sealed = new Uint8Array(datagram.buffer, datagram.byteOffset + PROTECTED_HEADER_SIZE, n - PROTECTED_HEADER_SIZE);
    const out = new Uint8Array(datagram.buffer, datagram.byteOffset, n - PROTECTION_OVERHEAD);
    const key = this.openWithKey(datagram[1]!, pn, sealed, out);
    if (key === null) return this.failed('decrypt');
    this.replay.accept(pn);
    if (key === this.recvNext) this.advance(now);
    if (key === this.recv) {
      if (!this.confirmed) {
        // The peer has the new keys: from now on only reordered packets need the old one
        // (RFC 9001 §6.5: its retention starts here, not at the update).
        this.confirmed = true;
        this.recvPrevUntil = now + this.config.keyRetain;
      }
      if (pn < this.firstPnOfGeneration) this.firstPnOfGeneration = pn;
    }
    out[1] = PacketType.Data;
    out.fill(0, out.length - 4);
    return out;
  }

  /**
   * Decrypt under the key the phase bit names. The peer is never more than one generation away
   * (an update waits for confirmation), so the other phase means the previous generation or the
   * next one: the packet number says which is likelier (numbers below the first one seen under
   * the current key are old), and if that key fails the other is tried. Returns the key that
   * opened the packet, or null.
   */
  private openWithKey(type: number, pn: number, sealed: Uint8Array, out: Uint8Array): PacketKey | null {
    if ((type & 1) === (this.generation & 1)) return this.tryKey(this.recv, pn, sealed, out) ? this.recv : null;
    const older = pn < this.firstPnOfGeneration;
    const first = older ? this.recvPrev : this.recvNext;
    const second = older ? this.recvNext : this.recvPrev;
    if (this.tryKey(first, pn, sealed, out)) return first;
    if (this.tryKey(second, pn, sealed, out)) return second;
    return null;
  }

  /** Open under `key` into `out` (header already in `this.aad`); a failed try leaves `out` as it was. */
  private tryKey(key: PacketKey | null, pn: number, sealed: Uint8Array, out: Uint8Array): boolean {
    return key !== null && key.cipher.open(packetNonce(key.iv, pn, this.nonce), this.aad, sealed, out, PROTECTED_HEADER_SIZE);
  }

  private failed(reason: OpenFailure): null {
    this.lastFailure = reason;
    if (reason === 'decrypt') this.counters.decryptFailures++;
    else this.counters.replays++;
    return null;
  }

  private maybeStartUpdate(now: number): void {
    if (!this.confirmed) return;
    if (this.sentUnderKey < this.config.keyUpdatePackets && now - this.keyStartedAt < this.config.keyUpdateInterval) return;
    this.advance(now);
  }

  /** Move both directions to the next generation. */
  private advance(now: number): void {
    this.recvPrev = this.recv;
    // Kept until `keyRetain` after the first packet under the new keys arrives (see open()).
    this.recvPrevUntil = Infinity;
    this.recv = this.recvNext;
    this.recvNext = nextPacketKey(this.suite, this.recv);
    this.send = nextPacketKey(this.suite, this.send);
    this.generation++;
    this.sentUnderKey = 0;
    this.keyStartedAt = now;
    this.confirmed = false;
    this.firstPnOfGeneration = Infinity;
  }
}
