import { MIN_INITIAL_SIZE, type TransportParams } from '../wire/index.js';
import { PROTECTION_OVERHEAD } from '../wire/secure.js';
import { announcedMaxMessageSize, announcedWindow, resolveCoreConfig } from './config.js';
import { resetTokenFor } from './cookie.js';
import type { CoreConfig } from './types.js';

/** Smallest maxDatagramSize a peer may announce (every INITIAL is at least this big). */
const MIN_PEER_DATAGRAM_SIZE = MIN_INITIAL_SIZE;

/** Parameters a peer announced that the endpoint can work with (docs/protocol.md §4). */
export function validParams(p: TransportParams): boolean {
  return p.maxDatagramSize >= MIN_PEER_DATAGRAM_SIZE && p.initialWindow >= 1;
}

/** A peer's parameters as decoded, with a token of their own. */
export function copyParams(p: TransportParams): TransportParams {
  // The decoder hands out views into the datagram buffer; keep our own copy of the token.
  return { ...p, resetToken: new Uint8Array(p.resetToken) };
}

/**
 * What an endpoint announces for its side of each new connection (its transport parameters,
 * docs/protocol.md §4.1) and the engine configuration it hands every connection it makes:
 * one object per endpoint (endpoint.ts `params`), drawing from the endpoint's randomness.
 */
export class LocalParams {
  /** One engine configuration object for every connection (the engine resolves it once). */
  private sharedCoreConfig: Partial<CoreConfig> | null = null;
  private sharedSecureCoreConfig: Partial<CoreConfig> | null = null;

  constructor(
    /** The endpoint's engine settings (EndpointCoreConfig.core). */
    private readonly core: Partial<CoreConfig>,
    private readonly randomBytes: (n: number) => Uint8Array,
    /** Key of the stateless-reset tokens (EndpointCoreConfig.resetKey, or a random one). */
    private readonly resetKey: Uint8Array,
  ) {}

  /** A random unsigned 32-bit integer. */
  u32(): number {
    const b = this.randomBytes(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  /**
   * A random first packet number or TSN, below 2^30 (docs/protocol.md §4.1): the sequences
   * count up from it and stay small integers for V8 (below 2^31) for the first billion packets.
   * A number at or above 2^31 is a heap-allocated double in every field that holds it: with
   * full 32-bit starting values about half of each connection's packet-number and TSN fields
   * (a dozen, in five stages) were, 16 bytes each (idle connections, issue 11).
   */
  initialNumber(): number {
    return this.u32() >>> 2;
  }

  initialRtt(): number {
    return this.core.initialRtt ?? 100;
  }

  /**
   * This side's parameters for a connection with local CID `cid`. `secure`: the engine builds
   * packets 12 bytes smaller (PROTECTION_OVERHEAD), and its TSN window and message limit follow
   * from that configuration; the datagram size announced is the real one.
   */
  forCid(cid: bigint, secure = false): TransportParams {
    const core = resolveCoreConfig(this.coreConfig(secure));
    return {
      maxDatagramSize: resolveCoreConfig(this.core).maxDatagramSize,
      initialWindow: announcedWindow(core),
      idleTimeout: core.idleTimeout,
      initialPacketNumber: this.initialNumber(),
      initialTsn: this.initialNumber(),
      resetToken: resetTokenFor(this.resetKey, cid),
      maxMessageSize: announcedMaxMessageSize(core),
    };
  }

  /** The engine configuration of every connection. `secure`: the engine's datagrams leave room for packet protection's 12 extra bytes. */
  coreConfig(secure = false): Partial<CoreConfig> {
    this.sharedCoreConfig ??= {
      ...this.core,
      random: this.core.random ?? (() => this.u32() / 0x1_0000_0000),
    };
    if (!secure) return this.sharedCoreConfig;
    this.sharedSecureCoreConfig ??= {
      ...this.sharedCoreConfig,
      maxDatagramSize: (this.core.maxDatagramSize ?? 1200) - PROTECTION_OVERHEAD,
      // Protection replaces the CRC with the AEAD tag: the engine does not compute it.
      sealed: true,
    };
    return this.sharedSecureCoreConfig;
  }
}
