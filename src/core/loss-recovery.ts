import { expand32 } from '../wire/packet-number.js';
import type { AckFrame } from '../wire/types.js';
import { createCongestionController } from './congestion/index.js';
import type { Counters } from './counters.js';
import { DeliveryRate } from './delivery-rate.js';
import { PacketNumbers } from './packet-numbers.js';
import { Pacer } from './pacer.js';
import { unpinFields } from './mutable-fields.js';
import type { PathMtu } from './path-mtu.js';
import { GRANULARITY, RttEstimator } from './rtt.js';
import { SendBlock } from './blocked-time.js';
import { PacketState, SentPackets, clearFragments, newSentPacket, setFragments, type SentContent, type SentFragment, type SentPacket } from './sent-packets.js';
import type { Tracer } from './trace.js';
import type { CongestionController, CoreConfig } from './types.js';

/** RFC 9002 §6.1.1: a packet is lost once three later packets were acknowledged. */
const PACKET_THRESHOLD = 3;
/** RFC 9002 §6.1.2: ... or 9/8 of an RTT has passed since a later packet was acknowledged. */
const TIME_THRESHOLD = 9 / 8;
/** RFC 9002 §7.6: persistent congestion after losses spanning this many PTOs. */
const PERSISTENT_CONGESTION_THRESHOLD = 3;
/** Pacing burst: up to this long at the pacing rate (quinn uses 2 ms). */
const BURST_INTERVAL = 2;
/**
 * `sendBlock`'s answers as module constants: a property load of `SendBlock` that only one answer
 * reaches would be a site without type feedback the first time that answer comes.
 */
const NONE = SendBlock.None;
const CONGESTION_WINDOW = SendBlock.CongestionWindow;
const PACING = SendBlock.Pacing;
const APPLICATION = SendBlock.Application;

/**
 * 2 ** `n` for a backoff count `n` ≥ 0: the same value, but the common 0 (no timeout since the
 * last ACK) takes no call. V8 compiles `2 ** n` with a variable `n` to a call out of the
 * compiled code (its `ieee754::pow`), and the PTO deadline is read on every turn of a busy
 * connection (issue 11).
 */
function backoff(n: number): number {
  return n === 0 ? 1 : 2 ** n;
}

/**
 * Loss recovery for the packets we send (quic-go's `sentPacketHandler`): packet numbers, the
 * sent-packet history, RTT estimation, ACK processing, loss detection and the probe timeout,
 * bytes in flight, the congestion controller (fed with delivery-rate samples) and the pacer.
 *
 * RFC 9002 §5 (RTT), §6.1 (loss detection), §6.2 (PTO), §7.6 (persistent congestion), §7.7
 * (pacing); RFC 9000 §13.1 and §21.4 (ACKs of packets never sent, skipped numbers);
 * draft-cheng-iccrg-delivery-rate-estimation (rate samples).
 *
 * What a packet carried is not its business: it hands acknowledged, lost and probed packets to
 * `content` (the send scheduler).
 */
export class LossRecovery {
  readonly packetNumbers: PacketNumbers;
  readonly sent: SentPackets;
  readonly rtt: RttEstimator;
  /** Replaced when the connection moves to a new path (onPathChange). */
  cc: CongestionController;
  private pacer = new Pacer();
  /** When the pacer lets the next packet go (Infinity: not waiting for it). */
  pacingDeadline = Infinity;
  bytesInFlight = 0;
  /** RFC 9002 §6.1.2 loss timer (Infinity: none armed). */
  lossTime = Infinity;
  private ptoCount = 0;
  /** Ack-eliciting probes to send now (PTO, keepalive). */
  probesDue = 0;
  /** Flow-control probes sent since the peer last raised its credit. */
  private blockedProbes = 0;
  private lastAckElicitingSentAt = -Infinity;
  /** When any packet was last sent (keepalive and flow-control probes count from it). */
  lastSentAt: number;
  private largestAckedPn = -1;
  private firstRttSampleAt = -1;
  private readonly rate = new DeliveryRate();
  /**
   * Traced only: packets were sent since the last metrics_updated. A burst of packets gets one
   * metrics_updated after its last packet (`traceDeferredMetrics`, from the connection's
   * pollTransmit), not one per packet: the bytes in flight at the end of each burst and after
   * each ACK are the sawtooth's peaks and troughs, at a third of the events a bulk sender writes.
   */
  private metricsDue = false;

  constructor(
    private readonly config: CoreConfig,
    /** Path-MTU discovery: the current datagram size, and told what became of probes and large packets. */
    private readonly mtu: PathMtu,
    firstPacketNumber: number,
    now: number,
    private readonly content: SentContent,
    private readonly counters: Counters,
    private readonly trace: Tracer | null = null,
    /** The first skip's draw (PacketNumbers); by default `config.random()`. A rebuild that must not draw passes one. */
    skipDraw?: number,
  ) {
    this.sent = new SentPackets(firstPacketNumber);
    this.packetNumbers = new PacketNumbers(firstPacketNumber, config, skipDraw ?? config.random());
    this.rtt = new RttEstimator(config.initialRtt);
    this.cc = createCongestionController(config.congestion, mtu.current, config.initialRtt);
    this.lastSentAt = now;
    // Written only when a PTO fires or flow control blocks: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['ptoCount', 'probesDue', 'blockedProbes']);
  }

  /** The datagram size in force (path-MTU discovery moves it). */
  private get maxDatagram(): number {
    return this.mtu.current;
  }

  // ------------------------------------------------------------------ sending

  allocatePacketNumber(): number {
    return this.packetNumbers.allocate(this.sent);
  }

  /**
   * What holds new data back now: `SendBlock.None` if nothing does. `queued` is what the send
   * scheduler has (`SendScheduler.sendable()`): with nothing it may send (`FlowControl`,
   * `Application`) that is the answer; with data, the congestion window is full or the pacer
   * asks to wait (then `pacingDeadline` says until when). A PTO probe (`probe`) goes regardless
   * (None) and asks the pacer nothing.
   *
   * Nothing queued with room in the window: the sender is application-limited, unless data
   * waits for the peer's flow-control credit: then the receiver limits the rate, and the rate
   * samples measure it, as in Linux's tcp_rate_check_app_limited (data queued but not sendable
   * is not app-limited). Marking them app-limited kept BBR in Startup for as long as the receive
   * window bound it: its bandwidth filter and full-pipe check skip app-limited samples, so it
   * never saw the plateau, and the queue it kept building delayed every loss repair and so the
   * credit (test/core/flow-limited-startup.test.ts). And the pacer forfeits what late wake-ups
   * were owed when it is not what limits (nothing queued, or the window full).
   *
   * One path whatever is queued: every load, comparison and call runs on every call, the stores
   * that only some answers make as selects that keep the old value. The first time the queue
   * runs dry after this was compiled (a bulk sender's application late with its next write, the
   * end of every transfer) then runs code with type feedback instead of deoptimising
   * `nextDatagram` (send-decision.ts), where this is inlined (issue 11;
   * test/core/queue-dry-deopts.test.ts).
   */
  sendBlock(now: number, queued: SendBlock, probe: boolean, size = this.maxDatagram): SendBlock {
    const inFlight = this.bytesInFlight;
    const window = this.cc.window;
    const hasData = queued === NONE;
    const windowFull = inFlight + size > window;
    const room = inFlight < window;
    this.rate.markAppLimited(queued === APPLICATION && room, inFlight);
    const pacing = this.config.pacing;
    const capacity = pacing ? this.pacingCapacity() : 0;
    // The pacer is asked only for a packet with data, room in the window, and not a probe.
    const paced = pacing && hasData && !probe && !windowFull;
    if (pacing) this.pacer.forfeit(capacity, !hasData || (!probe && windowFull));
    const wait = paced ? this.pacer.delay(now, size, this.pacingRate(), capacity, this.config.timerGranularity) : 0;
    const held = wait > 0;
    this.pacingDeadline = held ? now + wait : this.pacingDeadline;
    const block = hasData ? (windowFull ? CONGESTION_WINDOW : held ? PACING : NONE) : queued;
    return probe ? NONE : block;
  }

  /**
   * Would a packet of `size` bytes leave no room for another in a window small enough (under
   * two ACK intervals of the peer, `ackEveryPackets` being our estimate of its) that the flight
   * then waits for a delayed ACK? The packet builder asks for an immediate ACK then (ACK-only
   * packets are not in flight: only packets with data count).
   */
  fillsSmallWindow(size: number): boolean {
    const window = this.cc.window;
    return window < 2 * this.config.ackEveryPackets * this.maxDatagram && this.bytesInFlight + size + this.maxDatagram > window;
  }

  /**
   * May a path-MTU probe of `size` bytes leave now? It counts as at most two ordinary datagrams
   * for the window, the pacer and bytes in flight: a 9,000-byte probe early in slow start, or
   * into a full window, would otherwise never find room, stall the pacer, or (lost) hold the
   * window shut until a PTO.
   */
  probeAllowed(now: number, size: number): boolean {
    return this.sendBlock(now, NONE, false, this.probeCharge(size)) === NONE;
  }

  private probeCharge(size: number): number {
    return Math.min(size, 2 * this.maxDatagram);
  }

  /** A packet left. Ack-eliciting ones are tracked, counted in flight and congestion controlled. */
  onPacketSent(
    now: number,
    pn: number,
    size: number,
    ackEliciting: boolean,
    /** What it carried: `fragments[0 … fragmentCount)`, copied into the packet's record. */
    fragments: readonly SentFragment[] | null,
    close: boolean,
    retransmission: boolean,
    mtuProbe = 0,
    fragmentCount = fragments === null ? 0 : fragments.length,
  ): void {
    this.lastSentAt = now;
    if (mtuProbe > 0) size = this.probeCharge(size);
    // ACK-only: no record, not congestion controlled, never acknowledged (RFC 9002 §3). Both
    // kinds go through the one `sent.push` below, so the first ACK-only packet after this was
    // compiled (a duplicate's ACK, after a PTO) finds that call compiled too (mutable-fields.ts).
    const packet = ackEliciting ? this.newRecord(now, pn, size, fragments, fragmentCount, close, retransmission, mtuProbe) : null;
    this.sent.push(pn, packet);
    if (packet === null) return;
    this.bytesInFlight += size;
    this.lastAckElicitingSentAt = now;
    this.cc.onPacketSent(now, size, this.bytesInFlight);
    if (this.config.pacing) this.pacer.consume(size);
    if (this.trace !== null) this.metricsDue = true;
  }

  private traceMetrics(now: number): void {
    this.metricsDue = false;
    this.trace!.metrics(now, this);
  }

  /** Traced: the metrics_updated the packets sent since the last one are owed (see `metricsDue`). */
  traceDeferredMetrics(now: number): void {
    if (this.metricsDue) this.traceMetrics(now);
  }

  /** The (recycled) record of an ack-eliciting packet being sent; the delivery-rate sampler sees the send. */
  private newRecord(
    now: number,
    pn: number,
    size: number,
    fragments: readonly SentFragment[] | null,
    fragmentCount: number,
    close: boolean,
    retransmission: boolean,
    mtuProbe: number,
  ): SentPacket {
    const rate = this.rate;
    rate.onPacketSent(now, this.bytesInFlight);
    const packet = newSentPacket();
    packet.pn = pn;
    packet.sentAt = now;
    packet.size = size;
    packet.ackEliciting = true;
    packet.inFlight = true;
    packet.state = PacketState.Outstanding;
    if (fragments === null) clearFragments(packet);
    else setFragments(packet, fragments, fragmentCount);
    packet.close = close;
    packet.retransmission = retransmission;
    packet.mtuProbe = mtuProbe;
    packet.delivered = rate.delivered;
    packet.deliveredTime = rate.deliveredTime;
    packet.firstSentTime = rate.firstSentTime;
    packet.appLimited = rate.appLimitedUntil !== 0;
    return packet;
  }

  /** A packet with data was built: one probe fewer is due. */
  onProbeSpent(): void {
    // Without a branch of its own: the first probe spent (after a PTO) deoptimises nothing.
    this.probesDue = Math.max(0, this.probesDue - 1);
  }

  /** Ask for an ack-eliciting packet now even with nothing to send (keepalive). */
  requestProbe(): void {
    this.probesDue = Math.max(this.probesDue, 1);
  }

  // ------------------------------------------------------------------ ACKs

  /** The peer raised its flow-control credit: flow-control probes start from scratch. */
  onCreditRaised(): void {
    this.blockedProbes = 0;
  }

  /**
   * Process an ACK frame. Returns null, or the reason it is a protocol violation (an ACK of a
   * packet number never sent or skipped, a range below zero); the ranges before the offending
   * one are processed already, as the abort follows at once.
   */
  onAck(now: number, frame: AckFrame): string | null {
    const largest = expand32(frame.largest, this.packetNumbers.largestSent + 1);
    if (largest > this.packetNumbers.largestSent) return 'ACK of a packet number never sent';
    let newlyAckedBytes = 0;
    let largestNewlyAcked: SentPacket | null = null;
    /** The newly acknowledged packet sent last: it gives this ACK's delivery-rate sample. */
    let sample: SentPacket | null = null;
    let ackElicitingNewlyAcked = false;
    let hi = largest;
    let lo = largest - frame.firstRange;
    for (let i = -2; ; i += 2) {
      if (i >= 0) {
        hi = lo - frame.ranges[i]! - 2;
        lo = hi - frame.ranges[i + 1]!;
      }
      if (lo < 0) return 'ACK range below zero';
      if (this.packetNumbers.skippedIn(lo, hi)) return 'ACK of a skipped packet number (optimistic ACK)';
      const from = Math.max(lo, this.sent.first);
      for (let pn = Math.min(hi, this.sent.end - 1); pn >= from; pn--) {
        const p = this.sent.get(pn);
        if (p === null || p.state === PacketState.Acked) continue;
        const wasLost = p.state === PacketState.Lost;
        sample = this.rate.onPacketAcked(now, p, sample);
        if (!wasLost) {
          this.sent.markDone(p, PacketState.Acked);
          if (p.mtuProbe > 0) this.mtu.onProbeAcked(now, p.mtuProbe);
          else this.mtu.onPacketAcked(p.pn, p.size);
          if (p.inFlight) {
            this.bytesInFlight -= p.size;
            newlyAckedBytes += p.size;
          }
          if (largestNewlyAcked === null) largestNewlyAcked = p;
          if (p.ackEliciting) ackElicitingNewlyAcked = true;
        } else {
          p.state = PacketState.Acked;
        }
        this.content.onAcked(p);
      }
      if (i + 2 >= frame.ranges.length) break;
    }
    if (largestNewlyAcked !== null) this.onNewlyAcked(now, frame, largest, largestNewlyAcked, ackElicitingNewlyAcked, sample, newlyAckedBytes);
    this.sent.trim();
    return null;
  }

  private onNewlyAcked(
    now: number,
    frame: AckFrame,
    largest: number,
    largestNewlyAcked: SentPacket,
    ackElicitingNewlyAcked: boolean,
    sample: SentPacket | null,
    newlyAckedBytes: number,
  ): void {
    if (largest > this.largestAckedPn) this.largestAckedPn = largest;
    // RFC 9002 §5.1: an RTT sample when the largest acknowledged is newly acked and ack-eliciting.
    let rttSample = 0;
    if (largestNewlyAcked.pn === largest && ackElicitingNewlyAcked) {
      const ackDelay = Math.min(frame.ackDelay / 1000, this.config.maxAckDelay);
      rttSample = Math.max(now - largestNewlyAcked.sentAt, 0.001);
      this.rtt.update(rttSample, ackDelay);
      if (this.firstRttSampleAt < 0) this.firstRttSampleAt = now;
    }
    if (newlyAckedBytes > 0 && sample !== null) {
      this.cc.onAck(
        this.rate.sample(now, sample, newlyAckedBytes, largestNewlyAcked.sentAt, rttSample, this.bytesInFlight, this.rtt),
      );
    }
    // The packets this ACK acknowledged at the front are done with (nothing below reads them):
    // loss detection need not walk them (it would skip each one).
    this.sent.dropAcked();
    this.detectLosses(now);
    this.ptoCount = 0;
    if (this.trace !== null) this.traceMetrics(now);
  }

  // ------------------------------------------------------------------ loss detection

  /** RFC 9002 §6.1: declare lost what is far enough behind the largest acknowledged packet. */
  private detectLosses(now: number): void {
    this.lossTime = Infinity;
    if (this.largestAckedPn < 0) return;
    const lossDelay = Math.max(TIME_THRESHOLD * Math.max(this.rtt.latest, this.rtt.smoothed), GRANULARITY);
    let lostBytes = 0;
    let newestLostSentAt = -Infinity;
    // RFC 9002 §7.6: the longest period between two lost ack-eliciting packets, both sent after
    // the first RTT sample, with nothing sent between them acknowledged (or still outstanding).
    let runStart = NaN;
    let longestRun = 0;
    const sampled = this.firstRttSampleAt;
    const last = Math.min(this.sent.end - 1, this.largestAckedPn);
    let blackHole = false;
    for (let pn = this.sent.first; pn <= last; pn++) {
      const p = this.sent.get(pn);
      if (p === null) continue;
      if (p.state !== PacketState.Outstanding) {
        if (p.state === PacketState.Lost) {
          // A lost path-MTU probe says nothing about congestion.
          if (p.mtuProbe === 0 && sampled >= 0 && p.sentAt > sampled) {
            if (Number.isNaN(runStart)) runStart = p.sentAt;
            longestRun = Math.max(longestRun, p.sentAt - runStart);
          }
        } else {
          runStart = NaN; // acknowledged: the path delivered in between
        }
        continue;
      }
      // Written as sentAt + lossDelay (not now − lossDelay) so that the loss timer computed below
      // is due exactly when this test passes, whatever the floating-point rounding.
      if (p.sentAt + lossDelay <= now || this.largestAckedPn >= p.pn + PACKET_THRESHOLD) {
        this.sent.markDone(p, PacketState.Lost);
        if (p.mtuProbe > 0) {
          // Too big for the path, most likely: not a congestion signal (RFC 8899 §3, RFC 9000 §14.4).
          this.bytesInFlight -= p.size;
          this.mtu.onProbeLost(now, p.mtuProbe);
          continue;
        }
        if (this.mtu.onPacketLost(now, p.pn, p.size)) blackHole = true;
        this.counters.packetsLost++;
        if (this.trace !== null) this.trace.packetLost(now, p.pn, p.size, this.largestAckedPn < p.pn + PACKET_THRESHOLD);
        if (p.inFlight) {
          this.bytesInFlight -= p.size;
          lostBytes += p.size;
          newestLostSentAt = Math.max(newestLostSentAt, p.sentAt);
        }
        if (sampled >= 0 && p.sentAt > sampled) {
          if (Number.isNaN(runStart)) runStart = p.sentAt;
          longestRun = Math.max(longestRun, p.sentAt - runStart);
        }
        this.content.onLost(p);
      } else {
        this.lossTime = Math.min(this.lossTime, p.sentAt + lossDelay);
        runStart = NaN;
      }
    }
    if (lostBytes > 0) {
      // RFC 9002 §7.6.1: persistent congestion duration = PTO without backoff × 3.
      const persistent = longestRun > this.basePto() * PERSISTENT_CONGESTION_THRESHOLD;
      this.cc.onCongestionEvent(now, newestLostSentAt, lostBytes, persistent);
    }
    if (blackHole) this.dropOversized();
    this.sent.trim();
  }

  /**
   * A black hole was just found (path-mtu.ts): every packet still outstanding that is larger
   * than the size now in force is lost too. Declare them so at once, so that their content is
   * sent again (in pieces) now rather than a loss timer or PTO later. Not a congestion signal:
   * they were too big, not too many.
   */
  private dropOversized(): void {
    const max = this.maxDatagram;
    for (let pn = this.sent.first; pn < this.sent.end; pn++) {
      const p = this.sent.get(pn);
      if (p === null || p.state !== PacketState.Outstanding || p.size <= max) continue;
      this.sent.markDone(p, PacketState.Lost);
      this.counters.packetsLost++;
      if (p.inFlight) this.bytesInFlight -= p.size;
      this.content.onLost(p);
    }
    this.content.sortRetransmissions();
  }

  /**
   * The connection moved to a new path (RFC 9000 §9.4, docs/protocol.md §23): a fresh congestion
   * controller, RTT estimate, pacer and PTO backoff, as for a new connection. Packets still
   * outstanding went to the old path: they leave bytes in flight (they must not hold the new
   * window shut, nor their loss count as congestion on the new path), and with `declareLost`
   * (the peer's old address stopped answering: the packets sent there are gone) they are
   * declared lost at once so that their content goes again now on the new path, rather than a
   * loss timer later.
   *
   * `keepState`: only the peer's port changed (a NAT rebinding that kept the address): RFC 9000
   * §9.4 lets the congestion controller and RTT estimate stay, it is the same path (the packets
   * still outstanding are settled as above, their loss is not congestion). `rttSample`: a round
   * trip measured on the new path (its PATH_CHALLENGE answered, docs/protocol.md §23), the first
   * sample of the fresh estimate instead of the configured initial RTT.
   */
  onPathChange(now: number, declareLost: boolean, keepState = false, rttSample = 0): void {
    for (let pn = this.sent.first; pn < this.sent.end; pn++) {
      const p = this.sent.get(pn);
      if (p === null || p.state !== PacketState.Outstanding) continue;
      if (p.inFlight) {
        this.bytesInFlight -= p.size;
        p.inFlight = false;
      }
      if (!declareLost) continue;
      this.sent.markDone(p, PacketState.Lost);
      if (p.mtuProbe > 0) continue; // path-MTU discovery starts over anyway
      this.counters.packetsLost++;
      if (this.trace !== null) this.trace.packetLost(now, p.pn, p.size, false);
      this.content.onLost(p);
    }
    if (declareLost) {
      this.content.sortRetransmissions();
      this.sent.trim();
    }
    if (!keepState) {
      this.rtt.reset(this.config.initialRtt);
      if (rttSample > 0) this.rtt.update(rttSample, 0);
      this.cc = createCongestionController(this.config.congestion, this.maxDatagram, this.rtt.smoothed);
      this.pacer = new Pacer();
      this.firstRttSampleAt = -1;
    }
    this.ptoCount = 0;
    this.blockedProbes = 0;
    this.lossTime = Infinity;
    this.lastAckElicitingSentAt = now;
    if (this.trace !== null) this.traceMetrics(now);
  }

  /**
   * The handshake measured a round trip before any DATA (RFC 9002 §5: the first RTT sample may
   * come from the handshake): the estimate starts from it rather than from `initialRtt`, as a
   * first ACK's sample would (no ACK delay to subtract).
   */
  onHandshakeRtt(now: number, sample: number): void {
    this.rtt.update(sample, 0);
    if (this.firstRttSampleAt < 0) this.firstRttSampleAt = now;
    this.handshakeRttToController();
  }

  /**
   * Server: the client's first packet came `bound` ms after the ACCEPT left. The client sends
   * nothing before it has the ACCEPT, so the round trip is at most that; but it may have waited
   * before sending (an application that connects and writes later), so it is no sample (a late
   * first packet would linger in the smoothed RTT for many ACKs). Below the configured initial
   * RTT, and with no sample yet, it becomes this connection's initial RTT (RFC 9002 §6.2.2 allows
   * one from elsewhere, e.g. an earlier connection): the PTO follows the path from the start, and
   * the first real sample replaces it as it would replace `initialRtt` (docs/protocol.md §14.1).
   */
  onHandshakeBound(bound: number): void {
    if (this.rtt.hasSample || !(bound < this.rtt.smoothed)) return;
    this.rtt.reset(Math.max(bound, 0.001));
    this.handshakeRttToController();
  }

  /**
   * Before any ACK, the controller knows the RTT only as the configured one it was made with
   * (BBR's first pacing rate: startup gain × initial window / RTT, the draft's
   * BBRInitPacingRate, which takes SRTT when there is one): tell it the handshake's.
   */
  private handshakeRttToController(): void {
    if (this.largestAckedPn < 0) this.cc.onHandshakeRtt?.(this.rtt.smoothed);
  }

  // ------------------------------------------------------------------ timers

  /** Probe timeout before backoff (RFC 9002 §6.2.1). */
  basePto(): number {
    return this.rtt.pto(this.config.maxAckDelay, this.config.minPto);
  }

  /**
   * The probe timeout in force: doubled per PTO without an ACK, up to maxPto. `noBackoff`: the
   * peer's CLOSE arrived and only our tiny CLOSE is left to deliver, so it is repeated every
   * PTO without backoff, so that a draining peer (which lingers a few PTOs) hears one.
   */
  currentPto(noBackoff: boolean): number {
    const base = this.basePto();
    if (noBackoff) return base;
    return Math.min(base * backoff(this.ptoCount), this.config.maxPto);
  }

  /** The loss timer, else the PTO (Infinity: neither armed). */
  deadline(flowBlocked: boolean, noBackoff: boolean): number {
    return this.lossTime < Infinity ? this.lossTime : this.ptoDeadline(flowBlocked, noBackoff);
  }

  /** Run the loss timer or the PTO, whichever is due. */
  onTimeout(now: number, flowBlocked: boolean, noBackoff: boolean): void {
    if (now >= this.lossTime) {
      this.detectLosses(now);
      if (this.trace !== null) this.traceMetrics(now);
    } else if (now >= this.ptoDeadline(flowBlocked, noBackoff)) {
      this.onPto(now);
    }
  }

  private ptoDeadline(flowBlocked: boolean, noBackoff: boolean): number {
    if (this.sent.ackElicitingOutstanding > 0) {
      // currentPto's arithmetic written out (the same operations in the same order, so the same
      // doubles): this runs on every poll, and three tiny calls (currentPto, basePto, rtt.pto)
      // cost TurboFan more to inline than the sums themselves (issue 11).
      const rtt = this.rtt;
      const config = this.config;
      const base = Math.max(rtt.smoothed + Math.max(4 * rtt.variance, GRANULARITY) + config.maxAckDelay, config.minPto);
      const n = this.ptoCount;
      const pto = noBackoff ? base : Math.min(base * (n === 0 ? 1 : 2 ** n), config.maxPto);
      return this.lastAckElicitingSentAt + pto;
    }
    if (!flowBlocked) return Infinity;
    // Blocked by the peer's window with nothing in flight: probe for fresh credit, backing off
    // until the window moves (each probe's ACK would otherwise reset the backoff and keep a
    // stalled reader's connection busy every PTO forever).
    return this.lastSentAt + Math.min(this.basePto() * backoff(this.blockedProbes), this.config.maxPto);
  }

  /** RFC 9002 §6.2.4: send up to two probes; prefer data the peer has not acknowledged. */
  private onPto(now: number): void {
    this.ptoCount++;
    this.counters.ptoCount++;
    if (this.trace !== null) this.trace.ptoFired(now, this.ptoCount);
    const oldest = this.sent.oldestAckEliciting();
    // Resend the oldest unacknowledged content without declaring it lost (no CC reaction).
    if (oldest) this.content.onProbe(oldest);
    this.probesDue = oldest ? 2 : 1;
    if (!oldest) this.blockedProbes++;
    this.lastAckElicitingSentAt = now; // re-arm from now even if the probe is delayed
  }

  // ------------------------------------------------------------------ pacing (RFC 9002 §7.7)

  pacingRate(): number {
    const explicit = this.cc.pacingRate;
    if (explicit !== Infinity) return explicit;
    // N × cwnd / srtt with N = 1.25 so that pacing does not limit the window.
    return (1.25 * this.cc.window) / Math.max(this.rtt.smoothed, 0.001);
  }

  private pacingCapacity(): number {
    const burst = (this.cc.window * BURST_INTERVAL) / Math.max(this.rtt.smoothed, 0.001);
    return Math.min(Math.max(burst, 10 * this.maxDatagram), Math.max(this.cc.window, 10 * this.maxDatagram));
  }
}
