import { unpinDoubles } from './mutable-fields.js';

/**
 * Receive-window auto-tuning: the receive window starts at `receiveWindow` and doubles, up to
 * `maxReceiveWindow`, when the APPLICATION consumed it so fast that the window, not the path,
 * limits the peer (the idea of quic-go's flow controller and of Linux's receive-buffer
 * auto-tuning). Receiver policy only: the credit the peer sees is the `maxTsn` of our ACK frames,
 * which simply grows faster (docs/protocol.md §15).
 *
 * Measured in the bytes the application gave back (`release()` of reliable messages), never in
 * fragments that arrived: data a peer keeps in holes, or delivered messages a slow reader has not
 * released, consume nothing, so they never make the window grow.
 *
 * Rule, per epoch (an epoch starts at a check): once the epoch is one smoothed RTT old, or the
 * application released more than half the window in it, the fraction f = released / window was
 * consumed in `elapsed` ms; when elapsed < 4 · g · f · srtt (a whole window in under 4 RTTs: the
 * peer, which needs ~1 RTT per window of credit plus ~2 RTTs per loss repair, waits on credit)
 * the window doubles, if the endpoint's budget gives it that much (`WindowAllowance`). Then a new
 * epoch starts. `g`, between 1 and 2, is the epoch's release rate over the highest rate of any
 * epoch before it: a sender in slow start or BBR's Startup doubles its rate every round trip, so
 * the window is judged by the rate it heads for (Linux's tcp_rcv_space_adjust likewise grows the
 * window by the growth of the bytes copied per RTT, measured against the most ever copied in one,
 * which never falls); a steady reader has g = 1, also when it resumes after a pause (against the
 * last epoch's rate, the one spanning the pause, its usual rate looked like a doubling).
 *
 * The rate is judged over the last round trip, as Linux's receive-buffer auto-tuning does
 * (tcp_rcv_space_adjust: the bytes copied to the application per RTT), not only over half a
 * window as quic-go does: an epoch of half a window spans the sender's whole slow start when the
 * window is several BDPs, and its average rate, diluted by the ramp, is under the threshold
 * when the transfer is already window-bound (BBR's Startup keeps 2.9 BDPs in flight, and a hole
 * holds the credit of everything behind it for a repair's round trip): the window grew only
 * after the sender had waited on it.
 *
 * Second rule: a release at which the receiver judges that the peer waits on credit (it claimed
 * nearly all of it while the application keeps up: `Receiver.peerWaits`) doubles the window
 * whatever the rate, and starts a new epoch. On a lossy path the rate rule misjudges: while a
 * hole waits for its repair the application reads nothing, so the epoch's average is slow, yet
 * what holds the credit is data behind the hole, not a slow reader (issue 11, impaired goodput;
 * bench/history.md "Stop 24"). It repeats only once the peer has used the doubled credit too,
 * at most up to `max`, and only within the endpoint budget like the first rule.
 */
export interface WindowAllowance {
  /** May one connection's receive window become `bytes`? (the endpoint's byte budget). */
  allowsWindow(bytes: number): boolean;
}

/** The smoothed RTT, from the connection's own estimator. */
export interface SmoothedRtt {
  readonly smoothed: number;
}

/** A whole window consumed in fewer than this many RTTs: the window limits the peer. */
const RTTS_PER_WINDOW = 4;
/**
 * The most a rising release rate may scale the rate rule by (a sender in slow start or BBR's
 * Startup doubles its rate every round trip: the next round releases up to twice this one's).
 */
const MAX_TREND = 2;
/** Releases that run the whole check although it is not due (type feedback, see `check`). */
const WARM_UP_CHECKS = 16;

export class WindowTuner {
  /** The receive window now, bytes (starts at `initial`, never above `max`, never lowered). */
  window: number;
  /** Bytes the application released so far (reliable data). */
  private released = 0;
  /** `released` when the epoch began. */
  private epochReleased = 0;
  /** When the epoch began (ms); -Infinity before the first release (that check never grows). */
  private epochStart = -Infinity;
  /** The next check once `released` passes this (0: the first release) ... */
  private checkAt = 0;
  /** ... or at the first release at or after this instant (one smoothed RTT into the epoch). */
  private checkTime = Infinity;
  /** Releases left that check although not due (see `check`). */
  private warmUp = WARM_UP_CHECKS;
  /** The highest release rate of an epoch that ended, bytes/ms (0: none yet); never falls. */
  private peakRate = 0;

  constructor(
    initial: number,
    private readonly max: number,
    private readonly rtt: SmoothedRtt,
    private readonly allowance: WindowAllowance | null,
  ) {
    this.window = initial;
    // A rate (bytes/ms) is a fraction from the first epoch on: a double field from the start, so
    // that its first fraction does not change the tuner's hidden class under compiled code.
    unpinDoubles(this, ['peakRate']);
  }

  /**
   * The application released `bytes` at `now`; `peerWaits`: the peer has used (almost) all the
   * credit it was given and the application keeps up with what is delivered (the receiver's
   * judgement, receiver.ts). True when the window grew.
   */
  onReleased(bytes: number, now: number, peerWaits = false): boolean {
    const released = (this.released += bytes);
    return peerWaits || released > this.checkAt || now >= this.checkTime ? this.check(released, now, peerWaits) : false;
  }

  /** Below `max`: a window that may still grow (at `max` nothing a release says can change it). */
  canGrow(): boolean {
    return this.window < this.max;
  }

  /**
   * Ends the epoch when due (one RTT old, or half a window released in it): grows if the window
   * went fast and starts the next. Out of line, and branch-free on the object's fields: the first
   * releases run all of it although not due (`warmUp`; V8 keeps type feedback only once a
   * function ran a few times), so optimised code never meets a load it has no feedback for: a
   * deoptimisation per process in the ping-pong warm-up otherwise.
   */
  private check(released: number, now: number, peerWaits: boolean): boolean {
    const window = this.window;
    const inEpoch = released - this.epochReleased;
    const elapsed = now - this.epochStart;
    const due = inEpoch > window / 2 || elapsed >= this.rtt.smoothed;
    // The rate rises while the sender ramps (each round trip up to twice the last): judge the
    // rate the next round trips will bring, as Linux's tcp_rcv_space_adjust grows the window
    // by the growth of the bytes copied per RTT, or the window doubles only after the sender
    // has overrun it (a hole in Startup's flight then holds the credit of 2.9 BDPs behind it).
    // Growth against the best rate so far, not the last: an epoch slowed by a pause or a hole
    // would otherwise make the next, at the usual rate, look like a doubling.
    // Before the first release epochStart is -Infinity: rate 0, never fast, the epoch starts here.
    const rate = elapsed > 0 ? inEpoch / elapsed : 0;
    const peak = this.peakRate;
    const trend = peak > 0 ? Math.min(MAX_TREND, Math.max(1, rate / peak)) : 1;
    const quick = elapsed < RTTS_PER_WINDOW * trend * (inEpoch / window) * this.rtt.smoothed;
    const next = Math.min(2 * window, this.max);
    const allowed = next > window && (this.allowance === null || this.allowance.allowsWindow(next));
    // Either signal: a window consumed fast, or a peer that waits on credit the application
    // would have taken (what holds the credit is data behind holes, not an unread backlog).
    const grow = ((due && quick) || peerWaits) && allowed;
    const restart = due || grow || this.epochStart === -Infinity;
    this.window = grow ? next : window;
    this.peakRate = due && rate > peak ? rate : peak;
    this.epochStart = restart ? now : this.epochStart;
    this.epochReleased = restart ? released : this.epochReleased;
    const threshold = this.epochReleased + this.window / 2;
    this.checkAt = this.warmUp-- > 0 ? released : threshold;
    this.checkTime = this.epochStart + this.rtt.smoothed;
    return grow;
  }
}
