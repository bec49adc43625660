import type { AckEvent, CongestionController } from '../types.js';
import { doubles, unpinDoubles } from '../mutable-fields.js';
import { initialWindowFor, windowAfterSizeChange } from './initial-window.js';

/**
 * BBR: congestion control from a model of the path, not from loss (draft-cardwell-iccrg-bbr-
 * congestion-control; the v1 state machine, as libudx and quiche ship it).
 *
 * The model has two numbers: the bottleneck bandwidth (`btlBw`, the maximum delivery rate seen
 * over the last 10 round trips) and the round-trip propagation time (`rtProp`, the minimum RTT
 * seen over the last 10 s). Their product is the bandwidth-delay product (BDP). BBR paces at
 * `pacingGain × btlBw` and caps what is in flight at `cwndGain × BDP`, cycling through
 *
 *  - Startup: gain 2/ln 2 until the bandwidth stops growing by 25 % for three rounds (and
 *    again, unlike v1, when ProbeBW measures that growth after all: `checkFullPipe`);
 *  - Drain: the inverse gain until the queue Startup built is gone (in flight ≤ BDP, or ≤ the
 *    offload budget below where that is larger);
 *  - ProbeBW: an eight-phase gain cycle (1.25, 0.75, 1 × 6), each phase one `rtProp` long;
 *  - ProbeRTT: every 10 s without a new minimum, 4 packets in flight for 200 ms, so that
 *    flows sharing a queue see its empty RTT.
 *
 * The window also covers ACK aggregation (draft §4.6.4.2): data that arrives acknowledged in
 * bursts beyond what the model explains, measured over the last 10 rounds; and it is never
 * less than three send quanta (1 ms at the bandwidth estimate each: the draft's offload
 * budget), for the batches in which both ends move data.
 *
 * Random loss is deliberately not read as congestion (v1 behaviour): a lossy wireless path keeps
 * its throughput, which is why this is the default. Persistent congestion (RFC 9002 §7.6) still
 * collapses the window to the minimum, as an RTO does in TCP BBR.
 */

/** 2/ln 2: the smallest gain that doubles the delivery rate every round (Startup). */
const HIGH_GAIN = 2 / Math.LN2;
const DRAIN_GAIN = 1 / HIGH_GAIN;
const PROBE_BW_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
const CWND_GAIN = 2;
/** Rounds over which the bandwidth filter keeps its maximum. */
const BTLBW_FILTER_ROUNDS = 10;
/** How long a min-RTT sample stays valid before ProbeRTT re-measures it, ms. */
const RTPROP_FILTER_LENGTH = 10_000;
const PROBE_RTT_DURATION = 200;
/** Startup ends when bandwidth grew by less than this factor ... */
const FULL_BW_THRESHOLD = 1.25;
/** ... for this many consecutive rounds. */
const FULL_BW_ROUNDS = 3;
/** Pace a little below the estimate so that a standing queue does not build (draft §4.2.1). */
const PACING_MARGIN = 0.99;
/**
 * The send quantum is this long at the bandwidth estimate (draft "BBRSetSendQuantum", Linux's
 * pacing shift), ms: the timer granularity of the real clock, the shortest wait of our pacer.
 */
const SEND_QUANTUM_INTERVAL = 1;
/** The window holds at least this many send quanta (the draft's offload budget, BBRQuantizationBudget). */
const QUANTA_IN_WINDOW = 3;

/** The largest of a filter's slots (0 when all are). */
function filterMax(slots: readonly number[]): number {
  let max = 0;
  for (let i = 0; i < slots.length; i++) if (slots[i]! > max) max = slots[i]!;
  return max;
}

type Mode = 'startup' | 'drain' | 'probe-bw' | 'probe-rtt';

export class Bbr implements CongestionController {
  readonly name = 'bbr';
  window: number;
  pacingRate: number;
  mode: Mode = 'startup';

  /** For traces (congestion_state_updated). */
  get state(): string {
    return this.mode;
  }

  private mss: number;
  private minWindow: number;
  private initialWindow: number;
  // Bottleneck-bandwidth filter: the maximum delivery rate of each of the last rounds.
  private readonly bwByRound: number[] = doubles(BTLBW_FILTER_ROUNDS);
  private btlBw = 0;
  private rtProp = Infinity;
  private rtPropStamp = 0;
  private roundCount = 0;
  private nextRoundDelivered = 0;
  private roundStart = false;
  private fullBw = 0;
  private fullBwCount = 0;
  private filledPipe = false;
  private pacingGain = HIGH_GAIN;
  private cwndGain = HIGH_GAIN;
  private cycleIndex = 0;
  private cycleStamp = 0;
  private probeRttDoneStamp = 0;
  private probeRttRoundDone = false;
  private priorWindow = 0;
  private pacingFromRtt = false;
  // ACK aggregation (draft §4.6.4.2): data acknowledged beyond what btlBw explains, per round.
  private readonly extraByRound: number[] = doubles(BTLBW_FILTER_ROUNDS);
  private extraAcked = 0;
  private extraAckedDelivered = 0;
  private extraAckedIntervalStart = 0;
  /**
   * A round started since the bandwidth filter's (the aggregation filter's) maximum was last
   * taken: the slot it zeroed may have held the maximum, so the next sample takes it over all
   * ten slots again. Between round starts a slot only grows, and the maximum is kept with one
   * comparison per ACK instead of a pass over the ten (the same value: `max` of the same
   * doubles; issue 11, the bulk sender's per-ACK work).
   */
  private bwStale = false;
  private extraStale = false;

  constructor(maxDatagramSize: number, initialRtt = 100) {
    this.mss = maxDatagramSize;
    this.minWindow = 4 * maxDatagramSize;
    // RFC 9002 §7.2 initial window, as for NewReno.
    this.initialWindow = initialWindowFor(maxDatagramSize);
    this.window = this.initialWindow;
    this.pacingRate = (HIGH_GAIN * this.initialWindow) / initialRtt;
    // Set to `now` (a fraction) only on entering ProbeBW, long after the per-ACK code is compiled.
    unpinDoubles(this, ['cycleStamp']);
  }

  /** Current bandwidth-delay product, bytes (the initial window until both are measured). */
  private bdp(gain: number): number {
    if (this.rtProp === Infinity || this.btlBw === 0) return this.initialWindow;
    return gain * this.btlBw * this.rtProp;
  }

  /**
   * The draft's BBRInflight(gain): `gain` BDPs, but never less than the offload budget
   * (BBRQuantizationBudget: three send quanta; Linux's bbr_inflight adds the budget to the BDP
   * instead of taking the larger, a later exit still), the data that is in flight only
   * because both ends work in batches. Drain ends, and ProbeBW's phases turn, against this and
   * not against the bare BDP: on a path whose BDP is smaller than one batch (loopback, a LAN),
   * what is in flight never falls to the bare BDP while a batch is on its way, so Drain paced at
   * a third of the bandwidth until the bandwidth filter had forgotten the rate Startup found
   * (test/core/bbr-drain.test.ts). Where the BDP exceeds three quanta this is the BDP itself.
   */
  private inflight(gain: number): number {
    return Math.max(this.bdp(gain), QUANTA_IN_WINDOW * this.sendQuantum());
  }

  onPacketSent(): void {}

  /** The first pacing rate from the handshake's RTT rather than initialRtt (draft BBRInitPacingRate: SRTT when there is one). */
  onHandshakeRtt(rtt: number): void {
    if (!this.pacingFromRtt) this.pacingRate = (HIGH_GAIN * this.window) / Math.max(rtt, 0.001);
  }

  onMaxDatagramSizeChanged(size: number): void {
    // RFC 9002 §7.2: the initial window is recalculated with the new size (and a window that has
    // not moved yet becomes it); it is also the model's BDP until both halves are measured.
    this.window = windowAfterSizeChange(this.window, this.mss, size);
    this.initialWindow = initialWindowFor(size);
    this.mss = size;
    this.minWindow = 4 * size;
    this.window = Math.max(this.window, this.minWindow);
  }

  onAck(ack: AckEvent): void {
    if (!this.pacingFromRtt && ack.rttSample > 0) {
      // The first pacing rate assumed the configured initial RTT (100 ms); re-derive it from the
      // first real sample (Linux's bbr_init_pacing_rate_from_rtt), or a LAN connection would
      // be paced at a few hundred bytes per millisecond until the model has a bandwidth.
      this.pacingFromRtt = true;
      this.pacingRate = Math.max(this.pacingRate, (HIGH_GAIN * this.window) / Math.max(ack.rtt.smoothed, 0.001));
    }
    this.updateRound(ack);
    this.updateBandwidth(ack);
    this.updateAckAggregation(ack);
    this.updateCyclePhase(ack);
    this.checkFullPipe(ack);
    this.checkDrain(ack);
    this.updateRtProp(ack);
    this.checkProbeRtt(ack);
    this.setPacingRate();
    this.setWindow(ack);
  }

  onCongestionEvent(_now: number, _lostSentAt: number, _lostBytes: number, persistent: boolean): void {
    if (persistent) {
      this.priorWindow = Math.max(this.priorWindow, this.window);
      this.window = this.minWindow;
    }
  }

  private updateRound(ack: AckEvent): void {
    this.roundStart = false;
    if (ack.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = ack.delivered;
      this.roundCount++;
      this.roundStart = true;
      this.bwByRound[this.roundCount % BTLBW_FILTER_ROUNDS] = 0;
      this.extraByRound[this.roundCount % BTLBW_FILTER_ROUNDS] = 0;
      this.bwStale = true;
      this.extraStale = true;
    }
  }

  /**
   * Estimate how much data arrives in ACK bursts beyond what the bandwidth model explains
   * (draft §4.6.4.2, "extra_acked"), and keep that much more in flight so that the sender does
   * not sit idle between bursts. Receivers that batch ACKs, and event loops that process
   * datagrams in batches (Node on loopback), make this large compared with btlBw × rtProp.
   */
  private updateAckAggregation(ack: AckEvent): void {
    if (this.btlBw === 0) return;
    let expected = this.btlBw * (ack.now - this.extraAckedIntervalStart);
    if (this.extraAckedDelivered <= expected) {
      this.extraAckedDelivered = 0;
      this.extraAckedIntervalStart = ack.now;
      expected = 0;
    }
    this.extraAckedDelivered += ack.ackedBytes;
    const extra = Math.min(this.extraAckedDelivered - expected, this.window);
    const slot = this.roundCount % BTLBW_FILTER_ROUNDS;
    if (extra > this.extraByRound[slot]!) this.extraByRound[slot] = extra;
    this.extraAcked = this.extraStale ? filterMax(this.extraByRound) : Math.max(this.extraAcked, extra);
    this.extraStale = false;
  }

  private updateBandwidth(ack: AckEvent): void {
    const rate = ack.deliveryRate;
    if (rate <= 0) return;
    // An application-limited sample only counts if it shows more than we knew.
    if (ack.appLimited && rate < this.btlBw) return;
    const slot = this.roundCount % BTLBW_FILTER_ROUNDS;
    if (rate > this.bwByRound[slot]!) this.bwByRound[slot] = rate;
    this.btlBw = this.bwStale ? filterMax(this.bwByRound) : Math.max(this.btlBw, rate);
    this.bwStale = false;
  }

  private updateCyclePhase(ack: AckEvent): void {
    if (this.mode !== 'probe-bw') return;
    const elapsed = ack.now - this.cycleStamp > this.rtProp;
    const gain = this.pacingGain;
    let advance = elapsed;
    // Stay in the probing phase until the extra data is actually in flight (the bare BDP: our
    // figure is what is in flight after the ACK, below the draft's prior_in_flight, and never
    // reaches the offload budget when the window is that budget) ...
    if (gain > 1) advance = elapsed && ack.bytesInFlight >= this.bdp(gain);
    // ... and leave the draining phase as soon as the queue is gone.
    else if (gain < 1) advance = elapsed || ack.bytesInFlight <= this.inflight(1);
    if (advance) {
      this.cycleIndex = (this.cycleIndex + 1) % PROBE_BW_GAINS.length;
      this.cycleStamp = ack.now;
      this.pacingGain = PROBE_BW_GAINS[this.cycleIndex]!;
    }
  }

  /**
   * Startup's exit: the pipe is full once three rounds in a row did not raise the estimate to
   * 25 % above `fullBw`, the baseline of the last round that did (draft BBRCheckFullPipe).
   *
   * And its way back (not in v1): ProbeBW goes on running the same test, and a round whose
   * estimate reaches 25 % above that baseline, the growth Startup waited three rounds for and did
   * not see, is evidence that the pipe was not full: the flow returns to Startup and finds the
   * rest at up to 2.89× per round instead of ProbeBW's 1.25× once its probe phase comes round.
   * A plateau cannot tell a full pipe from a path that was starved for a while: through a proxy
   * sharing two cores with both ends, the warm-up's compilers starve the path for the first few
   * hundred milliseconds, Startup ends at what the starved path delivered, and the capacity that
   * appears afterwards was found only by ProbeBW (issue 11, impaired goodput; bench/analysis.md
   * "Stop 28"). Only at round starts and never on application-limited samples, as the exit is
   * judged; a return starts the plateau count afresh from the new estimate.
   */
  private checkFullPipe(ack: AckEvent): void {
    if (!this.roundStart || ack.appLimited) return;
    if (this.filledPipe) {
      if (this.mode === 'probe-bw' && this.btlBw >= this.fullBw * FULL_BW_THRESHOLD) this.reenterStartup();
      return;
    }
    if (this.btlBw >= this.fullBw * FULL_BW_THRESHOLD) {
      this.fullBw = this.btlBw;
      this.fullBwCount = 0;
      return;
    }
    if (++this.fullBwCount >= FULL_BW_ROUNDS) this.filledPipe = true;
  }

  /** ProbeBW found 25 % more than Startup's plateau: Startup again, its plateau test from here. */
  private reenterStartup(): void {
    this.filledPipe = false;
    this.mode = 'startup';
    this.pacingGain = HIGH_GAIN;
    this.cwndGain = HIGH_GAIN;
    this.fullBw = this.btlBw;
    this.fullBwCount = 0;
  }

  private checkDrain(ack: AckEvent): void {
    if (this.mode === 'startup' && this.filledPipe) {
      this.mode = 'drain';
      this.pacingGain = DRAIN_GAIN;
      this.cwndGain = HIGH_GAIN;
    }
    if (this.mode === 'drain' && ack.bytesInFlight <= this.inflight(1)) this.enterProbeBw(ack.now);
  }

  private enterProbeBw(now: number): void {
    this.mode = 'probe-bw';
    this.cwndGain = CWND_GAIN;
    // Start anywhere but the draining phase, so that flows sharing a link desynchronise.
    this.cycleIndex = (this.roundCount * 5 + 2) % PROBE_BW_GAINS.length;
    if (this.cycleIndex === 1) this.cycleIndex = 2;
    this.pacingGain = PROBE_BW_GAINS[this.cycleIndex]!;
    this.cycleStamp = now;
  }

  private updateRtProp(ack: AckEvent): void {
    const expired = ack.now > this.rtPropStamp + RTPROP_FILTER_LENGTH;
    if (ack.rttSample > 0 && (ack.rttSample <= this.rtProp || expired)) {
      this.rtProp = ack.rttSample;
      this.rtPropStamp = ack.now;
    }
  }

  private checkProbeRtt(ack: AckEvent): void {
    const expired = ack.now > this.rtPropStamp + RTPROP_FILTER_LENGTH;
    if (this.mode !== 'probe-rtt' && expired) {
      this.mode = 'probe-rtt';
      this.pacingGain = 1;
      this.priorWindow = Math.max(this.priorWindow, this.window);
      this.probeRttDoneStamp = 0;
    }
    if (this.mode !== 'probe-rtt') return;
    if (this.probeRttDoneStamp === 0 && ack.bytesInFlight <= this.minWindow) {
      this.probeRttDoneStamp = ack.now + PROBE_RTT_DURATION;
      this.probeRttRoundDone = false;
      this.nextRoundDelivered = ack.delivered;
    } else if (this.probeRttDoneStamp !== 0) {
      if (this.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone && ack.now > this.probeRttDoneStamp) {
        this.rtPropStamp = ack.now;
        this.window = Math.max(this.window, this.priorWindow);
        this.priorWindow = 0;
        if (this.filledPipe) this.enterProbeBw(ack.now);
        else {
          this.mode = 'startup';
          this.pacingGain = HIGH_GAIN;
          this.cwndGain = HIGH_GAIN;
        }
      }
    }
  }

  private setPacingRate(): void {
    if (this.btlBw === 0) return;
    const rate = this.pacingGain * this.btlBw * PACING_MARGIN;
    // In Startup never slow down: early samples under-estimate the path. Stored on every call
    // (the same value when kept): a store under `if` that the first few hundred ACKs never reach
    // has no feedback, and its first run (the pipe filled, trips 2,000–4,000 of a ping-pong)
    // threw away onAck's compiled code with everything inlined into it (bench/tierup.ts, issue 11).
    this.pacingRate = this.filledPipe || rate > this.pacingRate ? rate : this.pacingRate;
  }

  /**
   * The send quantum (draft "BBRSetSendQuantum"; Linux's TSO autosizing): how much the sender
   * hands over in one go, 1 ms at the bandwidth estimate, at least one datagram. The window is never
   * less than three of them (the draft's "offload budget") because data moves through both ends
   * in such batches: the shell reads up to 32 datagrams per event-loop turn and acknowledges
   * them with one ACK, sends what the window allows in one turn, and its pacer never waits less
   * than the timer granularity (1 ms on the real clock, pacer.ts), so that what accrues in a
   * millisecond leaves together. Where the RTT is longer than a millisecond or two the model's
   * window is larger anyway and nothing changes; on loopback or a LAN (a min RTT of tens of
   * microseconds) it is what keeps a batch queued at the receiver while the sender is away for
   * a pacing wait, an ACK batch or a scavenge. Pacing still holds the rate at the bandwidth
   * estimate, so the extra window is headroom, not a burst.
   *
   * The draft (and Linux) also cap the quantum at 64 KB: the largest GSO/TSO segment the
   * kernel hands a NIC. Our sender has no GSO; its bursts are the pacer's granules, which at
   * the rates where the cap would bind (above 64 MB/s) are larger. Capped, the budget (192 KB)
   * held less than one granule at loopback rates (200-400 MB/s), and every pacing wait or
   * scavenge of the sender longer than ~0.7 ms left the receiver with nothing to read
   * (bench/pipe.ts; test/core/bbr-window.test.ts).
   *
   * Uncapped, the quantum is taken at the bandwidth estimate (the pacing rate at gain 1) rather
   * than at the pacing rate of the moment, which the draft uses and its cap bounded: Startup's
   * 2.89 × btlBw would make the budget almost nine milliseconds of data (a window that overruns
   * a LAN switch's buffer in Startup, and a Drain that takes that queue for none), and the
   * ProbeBW gain cycle would make it breathe by ±25 % every few round trips.
   */
  private sendQuantum(): number {
    // Whole datagrams, as Linux counts TSO segments: below two per millisecond it is one.
    const datagrams = Math.max(1, Math.floor((this.btlBw * PACING_MARGIN * SEND_QUANTUM_INTERVAL) / this.mss));
    return datagrams * this.mss;
  }

  private setWindow(ack: AckEvent): void {
    if (this.mode === 'probe-rtt') {
      this.window = Math.max(this.minWindow, Math.min(this.window, this.minWindow));
      return;
    }
    // The model's window, three datagrams for delayed and stretched ACKs (Linux's v1
    // quantization budget at one segment), and never less than the offload budget (the
    // draft's BBRQuantizationBudget: max(inflight, 3 · send_quantum)).
    const model = this.bdp(this.cwndGain) + this.extraAcked + 3 * this.mss;
    const target = Math.max(model, QUANTA_IN_WINDOW * this.sendQuantum());
    if (this.filledPipe) {
      this.window = Math.min(this.window + ack.ackedBytes, target);
    } else if (this.window < target || ack.delivered < this.initialWindow) {
      this.window += ack.ackedBytes;
    }
    if (this.priorWindow > 0 && this.window >= this.priorWindow) this.priorWindow = 0;
    this.window = Math.max(this.window, this.minWindow);
  }
}
