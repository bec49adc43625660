import { KEY_SIZE, NONCE_SIZE, TAG_SIZE, type CryptoSuite } from './suite.js';

/**
 * The Noise Protocol Framework (revision 34, noiseprotocol.org/noise.html) for the four
 * one-round-trip patterns the handshake uses, with DH = 25519, cipher = ChaChaPoly and
 * hash = SHA256. This file is the framework only (CipherState, SymmetricState, HandshakeState
 * of §5); what the messages carry and how the keys are used afterwards is in handshake.ts.
 * Checked against the Cacophony test vectors (test/core/secure/noise.test.ts).
 *
 * Sans-IO: the ephemeral private key is passed in (the endpoint draws it from its injected
 * `randomBytes`), and the primitives come from the injected {@link CryptoSuite}.
 */

export type NoisePattern = 'NK' | 'IK' | 'NX' | 'IX';
type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

interface PatternSpec {
  /** The responder's static key is known to the initiator beforehand ("<- s"). */
  responderPremessage: boolean;
  messages: [Token[], Token[]];
}

const PATTERNS: Record<NoisePattern, PatternSpec> = {
  NK: { responderPremessage: true, messages: [['e', 'es'], ['e', 'ee']] },
  IK: { responderPremessage: true, messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] },
  NX: { responderPremessage: false, messages: [['e'], ['e', 'ee', 's', 'es']] },
  IX: { responderPremessage: false, messages: [['e', 's'], ['e', 'ee', 'se', 's', 'es']] },
};

export function protocolName(pattern: NoisePattern): string {
  return `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
}

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Noise's ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian. */
function noiseNonce(n: number): Uint8Array {
  const nonce = new Uint8Array(NONCE_SIZE);
  let v = n;
  for (let i = 4; i < 12; i++) {
    nonce[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return nonce;
}

/** HKDF of Noise §4.3 with two or three outputs (HMAC-SHA256). */
export function noiseHkdf(suite: CryptoSuite, chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const tempKey = suite.hmacSha256(chainingKey, ikm);
  const out1 = suite.hmacSha256(tempKey, Uint8Array.of(1));
  const out2 = suite.hmacSha256(tempKey, concat(out1, Uint8Array.of(2)));
  return [out1, out2];
}

/** SymmetricState (§5.2), with its CipherState (§5.1) folded in. */
class SymmetricState {
  private ck: Uint8Array;
  h: Uint8Array;
  private k: Uint8Array | null = null;
  private n = 0;

  constructor(
    private readonly suite: CryptoSuite,
    name: string,
  ) {
    const bytes = new TextEncoder().encode(name);
    if (bytes.length <= 32) {
      this.h = new Uint8Array(32);
      this.h.set(bytes);
    } else {
      this.h = suite.sha256(bytes);
    }
    this.ck = this.h;
  }

  get hasKey(): boolean {
    return this.k !== null;
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = noiseHkdf(this.suite, this.ck, ikm);
    this.ck = ck;
    this.k = k;
    this.n = 0;
  }

  mixHash(data: Uint8Array): void {
    this.h = this.suite.sha256(concat(this.h, data));
  }

  encryptAndHash(plain: Uint8Array): Uint8Array {
    let out = plain;
    if (this.k) {
      out = new Uint8Array(plain.length + TAG_SIZE);
      this.suite.cipher(this.k).seal(noiseNonce(this.n++), this.h, plain, out, 0);
    }
    this.mixHash(out);
    return out;
  }

  decryptAndHash(data: Uint8Array): Uint8Array | null {
    let out = data;
    if (this.k) {
      if (data.length < TAG_SIZE) return null;
      out = new Uint8Array(data.length - TAG_SIZE);
      if (!this.suite.cipher(this.k).open(noiseNonce(this.n), this.h, data, out, 0)) return null;
      this.n++;
    }
    this.mixHash(data);
    return out;
  }

  split(): [Uint8Array, Uint8Array] {
    return noiseHkdf(this.suite, this.ck, EMPTY);
  }

  /** An independent copy: the arrays it holds are replaced, never written in place, so both share them. */
  copy(): SymmetricState {
    return Object.assign(Object.create(SymmetricState.prototype) as SymmetricState, this);
  }
}

export interface HandshakeInit {
  pattern: NoisePattern;
  initiator: boolean;
  prologue: Uint8Array;
  /** This side's static key pair (initiator: IK/IX; responder: always). */
  s?: KeyPair;
  /** This side's ephemeral private key (32 random bytes). */
  ePrivate: Uint8Array;
  /** The responder's static public key, known beforehand (initiator, NK/IK). */
  rs?: Uint8Array;
}

export interface HandshakeResult {
  /** Key of the initiator → responder direction (Split's first output). */
  initiatorKey: Uint8Array;
  /** Key of the responder → initiator direction. */
  responderKey: Uint8Array;
  /** The handshake hash h: a unique name for this session (channel binding). */
  handshakeHash: Uint8Array;
  /** The peer's static public key, when the pattern transmitted or pre-shared it. */
  remoteStatic: Uint8Array | null;
}

/**
 * HandshakeState (§5.3) for a two-message pattern. `writeMessage`/`readMessage` alternate,
 * initiator first; after the second message `result()` gives the transport keys. A failed read
 * returns null and leaves the state unusable (the caller drops it).
 */
export class NoiseHandshake {
  private readonly ss: SymmetricState;
  private readonly spec: PatternSpec;
  private readonly e: KeyPair;
  private rs: Uint8Array | null;
  private re: Uint8Array | null = null;
  private step = 0;
  private failed = false;

  constructor(
    private readonly suite: CryptoSuite,
    private readonly init: HandshakeInit,
  ) {
    this.spec = PATTERNS[init.pattern];
    this.ss = new SymmetricState(suite, protocolName(init.pattern));
    this.ss.mixHash(init.prologue);
    this.e = { privateKey: init.ePrivate, publicKey: suite.x25519Public(init.ePrivate) };
    this.rs = init.rs ?? null;
    if (this.spec.responderPremessage) {
      const responderStatic = init.initiator ? init.rs : init.s?.publicKey;
      if (!responderStatic) throw new TypeError(`pattern ${init.pattern} needs the responder's static key`);
      this.ss.mixHash(responderStatic);
    }
    if (!init.initiator && !init.s) throw new TypeError('the responder needs a static key pair');
  }

  /** The ephemeral public key this side sends. */
  get ephemeralPublic(): Uint8Array {
    return this.e.publicKey;
  }

  get done(): boolean {
    return this.step >= 2 && !this.failed;
  }

  private myTurn(): boolean {
    return (this.step === 0) === this.init.initiator;
  }

  private dh(priv: Uint8Array, pub: Uint8Array | null): boolean {
    if (!pub) return false;
    const shared = this.suite.x25519(priv, pub);
    if (!shared) return false;
    this.ss.mixKey(shared);
    return true;
  }

  /** The DH a token asks for, from this side's point of view. */
  private mixToken(token: 'ee' | 'es' | 'se' | 'ss'): boolean {
    const s = this.init.s;
    const i = this.init.initiator;
    switch (token) {
      case 'ee':
        return this.dh(this.e.privateKey, this.re);
      case 'es':
        return i ? this.dh(this.e.privateKey, this.rs) : !!s && this.dh(s.privateKey, this.re);
      case 'se':
        return i ? !!s && this.dh(s.privateKey, this.re) : this.dh(this.e.privateKey, this.rs);
      case 'ss':
        return !!s && this.dh(s.privateKey, this.rs);
    }
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    if (this.failed || this.step >= 2 || !this.myTurn()) throw new Error('noise: not this side\'s turn to write');
    const parts: Uint8Array[] = [];
    for (const token of this.spec.messages[this.step]!) {
      if (token === 'e') {
        parts.push(this.e.publicKey);
        this.ss.mixHash(this.e.publicKey);
      } else if (token === 's') {
        if (!this.init.s) throw new Error('noise: no static key to send');
        parts.push(this.ss.encryptAndHash(this.init.s.publicKey));
      } else if (!this.mixToken(token)) {
        throw new Error('noise: invalid remote key');
      }
    }
    parts.push(this.ss.encryptAndHash(payload));
    this.step++;
    let size = 0;
    for (const p of parts) size += p.length;
    const out = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Process the peer's message; returns its payload, or null if it does not authenticate. */
  readMessage(message: Uint8Array): Uint8Array | null {
    if (this.failed || this.step >= 2 || this.myTurn()) return this.fail();
    let o = 0;
    for (const token of this.spec.messages[this.step]!) {
      if (token === 'e') {
        if (message.length - o < KEY_SIZE) return this.fail();
        this.re = message.slice(o, o + KEY_SIZE);
        o += KEY_SIZE;
        this.ss.mixHash(this.re);
      } else if (token === 's') {
        const len = KEY_SIZE + (this.ss.hasKey ? TAG_SIZE : 0);
        if (message.length - o < len) return this.fail();
        const rs = this.ss.decryptAndHash(message.subarray(o, o + len));
        if (!rs) return this.fail();
        this.rs = new Uint8Array(rs);
        o += len;
      } else if (!this.mixToken(token)) {
        return this.fail();
      }
    }
    const payload = this.ss.decryptAndHash(message.subarray(o));
    if (!payload) return this.fail();
    this.step++;
    return new Uint8Array(payload);
  }

  private fail(): null {
    this.failed = true;
    return null;
  }

  /**
   * An independent copy of this state, to try a message on without spending this one (a read
   * that fails leaves its state unusable). Arrays are shared: none is ever written in place.
   */
  fork(): NoiseHandshake {
    const copy = Object.assign(Object.create(NoiseHandshake.prototype) as NoiseHandshake, this);
    (copy as unknown as { ss: SymmetricState }).ss = this.ss.copy();
    return copy;
  }

  result(): HandshakeResult {
    if (!this.done) throw new Error('noise: handshake not finished');
    const [initiatorKey, responderKey] = this.ss.split();
    return { initiatorKey, responderKey, handshakeHash: this.ss.h, remoteStatic: this.rs };
  }
}

/** Message sizes, for the wire decoder's bounds: [message 1, message 2] without payloads. */
export function messageOverhead(pattern: NoisePattern): [number, number] {
  const spec = PATTERNS[pattern];
  const sizes: [number, number] = [0, 0];
  let keyed = false;
  for (let m = 0; m < 2; m++) {
    for (const token of spec.messages[m]!) {
      if (token === 'e') sizes[m]! += KEY_SIZE;
      else if (token === 's') sizes[m]! += KEY_SIZE + (keyed ? TAG_SIZE : 0);
      else keyed = true;
    }
    if (keyed) sizes[m]! += TAG_SIZE;
  }
  return sizes;
}

/**
 * True when the pattern encrypts message 1's payload (its secrets may travel there): a
 * Diffie-Hellman token (ee, es, se, ss) precedes it, so a key exists.
 */
export function firstPayloadEncrypted(pattern: NoisePattern): boolean {
  return PATTERNS[pattern].messages[0].some((t) => t.length === 2);
}
