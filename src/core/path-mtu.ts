/**
 * Datagram packetization-layer path-MTU discovery (DPLPMTUD, RFC 8899), sans-IO.
 *
 * The connection starts at {@link BASE_PLPMTU} (1,200 bytes: every path carries it, RFC 9000
 * §14) and searches upwards with probe packets (a PING padded to the size under test, never
 * carrying data; docs/protocol.md "MTU probes") up to `ceiling` = min(our maxDatagramSize, the
 * peer's announced maxDatagramSize):
 *
 * - **Search.** The ceiling is tried first (on most paths it simply works: one round trip), then
 *   a binary search between the largest size acknowledged and the smallest one given up on,
 *   until the two are less than {@link SEARCH_STEP} apart. A size is given up on after
 *   {@link MAX_PROBES} probes of it were lost (RFC 8899 MAX_PROBES); the tries are sent
 *   back to back rather than one per round trip, so a failing size costs about one RTT, not
 *   three, and one random loss never rules a size out.
 * - **Probe loss is not congestion** (RFC 8899 §3 item 7, RFC 9000 §14.4): loss recovery reports
 *   a lost probe here, not to the congestion controller.
 * - **Raise timer.** A completed search is repeated every {@link RAISE_INTERVAL} (10 minutes,
 *   RFC 8899 PMTU_RAISE_TIMER), from the current size up.
 * - **Black-hole detection** (RFC 8899 §4.3): when {@link BLACK_HOLE_THRESHOLD} consecutive
 *   packets larger than the base size are lost — none of them followed by an acknowledged large
 *   packet — while a smaller packet sent after the first of them was acknowledged, large
 *   packets no longer get through: fall back to the base size, and search again after
 *   {@link BLACK_HOLE_HOLDOFF}. Random loss does not fire it: it takes an unbroken run of
 *   losses of every large packet sent (at 10 % loss, one in 10^{BLACK_HOLE_THRESHOLD} positions),
 *   plus a small packet that got through. Small packets are made sure of: one data packet in
 *   {@link SENTINEL_INTERVAL} is kept to the base size (a sentinel: a bulk transfer learns of
 *   a black hole about one RTT after it opens, not a PTO later; it costs 0.5 % more packets),
 *   and the second probe of a PTO is too.
 *
 * The module only decides; the connection sends the probes (`probeSize()`), reports what
 * happened to them and to every other packet, and reads `current` for every packet it builds.
 */

/** The size every path carries, and where every search starts (RFC 9000 §14, RFC 8899 BASE_PLPMTU). */
export const BASE_PLPMTU = 1200;
/** A size is given up on after this many of its probes were lost (RFC 8899 MAX_PROBES). */
export const MAX_PROBES = 3;
/** The search stops when the acknowledged and the failed sizes are less than this apart (bytes). */
export const SEARCH_STEP = 20;
/** A completed search is repeated this often (RFC 8899 PMTU_RAISE_TIMER: 600 s). */
export const RAISE_INTERVAL = 600_000;
/** Consecutive losses of large packets (with a small one getting through) that reveal a black hole. */
export const BLACK_HOLE_THRESHOLD = 8;
/** After a black hole, wait this long before searching again (ms). */
export const BLACK_HOLE_HOLDOFF = 1_000;
/** One data packet in this many is kept to the base size (a sentinel, see {@link PathMtu.nextPacketLimit}). */
export const SENTINEL_INTERVAL = 32;

export type PathMtuState = 'disabled' | 'searching' | 'complete';

/** Why the current size changed. */
export type PathMtuChange = 'probe' | 'black-hole' | 'new-path';

/** Told every time the size in force changes (an object, not a closure: no closure per connection). */
export interface PathMtuListener {
  pathMtuChanged(size: number, reason: PathMtuChange): void;
}

/** The part of the trace layer (src/core/trace.ts) path-MTU discovery reports to. */
export interface PathMtuTrace {
  mtuUpdated(now: number, from: number, to: number, done: boolean, trigger: PathMtuChange): void;
}

export class PathMtu {
  /** The size every packet is built to (bytes, checksum included). */
  current = BASE_PLPMTU;
  /** Times `current` changed. */
  changes = 0;
  /** Black holes declared. */
  blackHoles = 0;
  /** Probes sent, and lost. */
  probesSent = 0;
  probesLost = 0;

  /** Told every time `current` changes (the connection resizes its congestion window and reports it). */
  onChange: PathMtuListener | null = null;

  private _state: PathMtuState;
  /** Smallest size given up on (or ceiling + 1). */
  private failedSize: number;
  /** Size under test (0: none chosen). */
  private probingSize = 0;
  /** Probes of `probingSize` sent, and lost. */
  private triesSent = 0;
  private triesLost = 0;
  /** When the next search starts (state 'complete'; Infinity: never). */
  private searchAt = Infinity;

  // --- black-hole detection
  /** Lost large packets in the current run (0: no run). */
  private run = 0;
  /** Packet number of the first loss of the run. */
  private runStartPn = -1;
  private largestLargeAckedPn = -1;
  private largestSmallAckedPn = -1;
  private sinceSentinel = 0;

  /**
   * @param ceiling largest size to try: min(our maxDatagramSize, the peer's). At or below
   *   {@link BASE_PLPMTU} discovery is disabled and every packet is `ceiling` bytes.
   */
  constructor(
    readonly ceiling: number,
    /** Null unless traced (each point is one null check). */
    private readonly trace: PathMtuTrace | null = null,
  ) {
    this.failedSize = ceiling + 1;
    if (ceiling <= BASE_PLPMTU) {
      this.current = ceiling;
      this._state = 'disabled';
    } else {
      this._state = 'searching';
    }
  }

  get state(): PathMtuState {
    return this._state;
  }

  /**
   * The size of the probe to send now, or 0 when none is due. Each call that returns a size
   * counts as that probe sent: call it only when the probe will go out at once.
   */
  takeProbe(): number {
    const size = this.probeSize();
    if (size === 0) return 0;
    this.triesSent++;
    this.probesSent++;
    return size;
  }

  /**
   * The size limit of the next data packet: `current`, except for one packet in
   * {@link SENTINEL_INTERVAL}, kept to the base size while `current` is larger. Its ACK is the
   * "smaller packets get through" that black-hole detection needs.
   */
  nextPacketLimit(): number {
    if (this.current <= BASE_PLPMTU) return this.current;
    if (++this.sinceSentinel < SENTINEL_INTERVAL) return this.current;
    this.sinceSentinel = 0;
    return BASE_PLPMTU;
  }

  /** The size of the probe due now, or 0 (does not count it as sent). */
  probeSize(): number {
    if (this._state !== 'searching') return 0;
    if (this.probingSize === 0) this.probingSize = this.nextSize();
    if (this.probingSize === 0) return 0;
    return this.triesSent < MAX_PROBES ? this.probingSize : 0;
  }

  /** The instant the next search starts (Infinity: none pending). For the connection's timer. */
  get deadline(): number {
    return this._state === 'complete' ? this.searchAt : Infinity;
  }

  /** Time passed: start the pending search when it is due. */
  onTimeout(now: number): void {
    if (this._state === 'complete' && now >= this.searchAt) this.startSearch(now);
  }

  /** A probe of `size` bytes was acknowledged. Returns true when `current` grew. */
  onProbeAcked(now: number, size: number): boolean {
    if (this._state !== 'searching' || size !== this.probingSize) return false;
    const old = this.current;
    const grew = size > old;
    if (grew) this.setCurrent(size, 'probe');
    this.nextStep(now);
    if (this.trace !== null && (grew || this.state === 'complete')) this.trace.mtuUpdated(now, old, this.current, this.state === 'complete', 'probe');
    return grew;
  }

  /** A probe of `size` bytes was declared lost (not a congestion signal). */
  onProbeLost(now: number, size: number): void {
    this.probesLost++;
    if (this._state !== 'searching' || size !== this.probingSize) return;
    if (++this.triesLost < MAX_PROBES) {
      // Send one more try if they were not all sent yet; otherwise wait for the others' fate.
      return;
    }
    this.failedSize = size;
    this.nextStep(now);
    if (this.trace !== null && this.state === 'complete') this.trace.mtuUpdated(now, this.current, this.current, true, 'probe');
  }

  /**
   * An ordinary (non-probe) packet was acknowledged. Feeds black-hole detection: a large one
   * proves that large packets get through; a small one, that the path itself is alive.
   */
  onPacketAcked(pn: number, size: number): void {
    if (size > BASE_PLPMTU) {
      if (pn > this.largestLargeAckedPn) this.largestLargeAckedPn = pn;
      if (pn > this.runStartPn) this.run = 0;
    } else if (pn > this.largestSmallAckedPn) {
      this.largestSmallAckedPn = pn;
    }
  }

  /**
   * An ordinary packet was declared lost (losses come in packet-number order). Returns true when
   * this revealed a black hole: `current` is back at the base size.
   */
  onPacketLost(now: number, pn: number, size: number): boolean {
    if (size <= BASE_PLPMTU || this.current <= BASE_PLPMTU) return false;
    if (pn < this.largestLargeAckedPn) {
      // A large packet sent after this one got through: an ordinary loss.
      this.run = 0;
      return false;
    }
    if (this.run === 0) this.runStartPn = pn;
    this.run++;
    if (this.run < BLACK_HOLE_THRESHOLD || this.largestSmallAckedPn <= this.runStartPn) return false;
    this.blackHoles++;
    const old = this.current;
    this.setCurrent(BASE_PLPMTU, 'black-hole');
    this.run = 0;
    this.failedSize = this.ceiling + 1;
    this.probingSize = 0;
    this._state = 'complete';
    this.searchAt = now + BLACK_HOLE_HOLDOFF;
    if (this.trace !== null) this.trace.mtuUpdated(now, old, BASE_PLPMTU, true, 'black-hole');
    return true;
  }

  /**
   * The connection moved to a new path (path-validation.ts): what the old one carried says
   * nothing about it. Back to the base size, and a fresh search from there (RFC 9000 §9.4).
   */
  restart(now: number): void {
    if (this._state === 'disabled') return;
    this.run = 0;
    this.runStartPn = -1;
    this.largestLargeAckedPn = -1;
    this.largestSmallAckedPn = -1;
    this.probingSize = 0;
    if (this.current !== BASE_PLPMTU) this.setCurrent(BASE_PLPMTU, 'new-path');
    this.startSearch(now);
  }

  private setCurrent(size: number, reason: PathMtuChange): void {
    this.current = size;
    this.changes++;
    this.onChange?.pathMtuChanged(size, reason);
  }

  // ------------------------------------------------------------------ the search

  private startSearch(now: number): void {
    this._state = 'searching';
    this.failedSize = this.ceiling + 1;
    this.nextStep(now);
  }

  private nextStep(now: number): void {
    this.triesSent = 0;
    this.triesLost = 0;
    this.probingSize = this.nextSize();
    if (this.probingSize === 0) {
      this._state = 'complete';
      this.searchAt = now + RAISE_INTERVAL;
    }
  }

  /** The next size to try, or 0 when the search is over. */
  private nextSize(): number {
    const low = this.current;
    const high = this.failedSize - 1;
    if (high <= low) return 0;
    // The ceiling first: on most paths it works, and the search is over in one round trip.
    if (this.failedSize === this.ceiling + 1) return this.ceiling;
    if (high - low < SEARCH_STEP) return 0;
    return Math.floor((low + high + 1) / 2);
  }
}
