import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';

/**
 * splitmix32: turns one 32-bit seed into a well-mixed stream of 32-bit words. Used only to fill
 * the state of {@link Rng}, so that nearby seeds (1, 2, 3…) give unrelated streams.
 */
export function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over a string, to derive a sub-seed from a label (e.g. a link name). */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/**
 * A small, fast, seeded pseudo-random generator (sfc32, state filled by splitmix32). Not
 * cryptographic: it exists so that one seed replays a whole test run bit for bit.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.next();      // in [0, 1)
 * rng.int(6);      // 0..5
 * rng.bool(0.1);   // true 10 % of the time
 * const child = rng.fork(); // independent stream, same replay guarantee
 * ```
 */
export class Rng {
  /** The seed this generator was created from (children made by `fork()` report their own). */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new InvalidArgTypeError(`seed must be a finite number, got ${String(seed)}`);
    }
    this.seed = seed >>> 0;
    const mix = splitmix32(this.seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    // Warm up: sfc32's first outputs still carry structure from the seed words.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /**
   * A generator for a named sub-stream of `seed`: the same (seed, label) always gives the same
   * stream, whatever else used the parent seed. Used for per-link randomness in the simulator,
   * so traffic on one link never shifts the loss pattern of another.
   */
  static derive(seed: number, label: string): Rng {
    return new Rng(((seed >>> 0) ^ Math.imul(hashLabel(label), 0x9e3779b1)) >>> 0);
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n); `n` must be a positive integer ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new InvalidArgValueError(`int(n) needs an integer 1..2^32, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** `true` with probability `p` (p ≤ 0 never, p ≥ 1 always; no draw is wasted either way). */
  bool(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /** `n` random bytes (e.g. the `randomBytes` an endpoint core takes, made reproducible). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let w = this.nextU32();
      for (let j = i; j < i + 4 && j < n; j++) {
        out[j] = w & 0xff;
        w >>>= 8;
      }
    }
    return out;
  }

  /**
   * An independent child generator. The child is seeded from this stream, so the parent's
   * sequence advances by one draw and both stay reproducible from the root seed.
   */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}
