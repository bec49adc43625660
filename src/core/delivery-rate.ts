import type { SentPacket } from './sent-packets.js';
import type { RttEstimator } from './rtt.js';
import type { AckEvent } from './types.js';

/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation §3): how many bytes were
 * delivered, and when, so that each ACK yields a rate sample for the congestion controller.
 * The per-packet snapshot (`delivered`, `deliveredTime`, `firstSentTime`, `appLimited`) is kept
 * on the sent-packet record itself, and the AckEvent is one record shared by every connection
 * (the congestion controller reads it during onAck and keeps nothing of it), so sampling
 * allocates nothing.
 */
let SHARED_EVENT: AckEvent | undefined;

export class DeliveryRate {
  /** Bytes delivered (acknowledged) over the connection. */
  delivered = 0;
  /** When `delivered` last grew. */
  deliveredTime = 0;
  /** Send time of the first packet of the current flight. */
  firstSentTime = 0;
  /** Non-zero while the sender is application-limited: the `delivered` value that ends it. */
  appLimitedUntil = 0;

  /** A packet that counts toward bytes in flight is sent; `bytesInFlight` is before it. */
  onPacketSent(now: number, bytesInFlight: number): void {
    // Both stores on every packet (the old value kept but when nothing is in flight): a bulk
    // sender's flight fully acknowledged mid-transfer then finds them compiled, instead of
    // deoptimising the packet's record (LossRecovery.newRecord, onPacketSent) where this is
    // inlined (issue 11, the warm-up). `+now`, not `now`: a select between a double field's
    // value and the argument as passed (a tagged value of unknown type to TurboFan) is a tagged
    // value, so each store made a heap number of the kept value (two per packet sent, 32 bytes:
    // the sender's largest own garbage after the payload view); between two numbers, it stays a
    // double and is written into the fields' own boxes (test/core/send-garbage.test.ts).
    const idle = bytesInFlight === 0;
    const t = +now;
    this.firstSentTime = idle ? t : this.firstSentTime;
    this.deliveredTime = idle ? t : this.deliveredTime;
  }

  /**
   * `limited`: nothing to send with room in the window, so rate samples from now on measure the
   * application, not the network (§3.4). Asked on every send decision, the value computed and
   * stored every time (the old one kept when not limited): the first time a bulk sender's queue
   * runs dry after this was compiled then deoptimises nothing (LossRecovery.sendBlock).
   */
  markAppLimited(limited: boolean, bytesInFlight: number): void {
    const until = Math.max(this.delivered + bytesInFlight, 1);
    this.appLimitedUntil = limited ? until : this.appLimitedUntil;
  }

  /**
   * An ACK reached `p`: count it delivered. Returns the packet that gives this ACK's sample so
   * far: the one sent last among those newly acknowledged (`sample`, or `p`).
   */
  onPacketAcked(now: number, p: SentPacket, sample: SentPacket | null): SentPacket {
    this.delivered += p.size;
    this.deliveredTime = now;
    if (sample === null || p.delivered > sample.delivered || (p.delivered === sample.delivered && p.sentAt > sample.sentAt)) {
      return p;
    }
    return sample;
  }

  /**
   * The delivery-rate sample of this ACK (§3.3): data delivered since `sample` was sent, over
   * the longer of its send and ACK intervals, so that neither ACK compression nor send bursts
   * inflate it.
   */
  sample(
    now: number,
    sample: SentPacket,
    ackedBytes: number,
    newestSentAt: number,
    rttSample: number,
    bytesInFlight: number,
    rtt: RttEstimator,
  ): AckEvent {
    this.firstSentTime = sample.sentAt;
    // Compared before the test of 0 (not short-circuited): a bulk warm-up that is never
    // app-limited still leaves feedback here, and the compiled onNewlyAcked survives the end.
    const pastAppLimited = this.delivered > this.appLimitedUntil;
    if (this.appLimitedUntil !== 0 && pastAppLimited) this.appLimitedUntil = 0;
    const interval = Math.max(sample.sentAt - sample.firstSentTime, now - sample.deliveredTime);
    const deliveredBytes = this.delivered - sample.delivered;
    const valid = interval > 0 && (!rtt.hasSample || interval >= rtt.min);
    const ev = (SHARED_EVENT ??= { now: 0, ackedBytes: 0, newestSentAt: 0, bytesInFlight: 0, delivered: 0, priorDelivered: 0, deliveryRate: 0, appLimited: false, rttSample: 0, rtt });
    ev.now = now;
    ev.ackedBytes = ackedBytes;
    ev.newestSentAt = newestSentAt;
    ev.bytesInFlight = bytesInFlight;
    ev.delivered = this.delivered;
    ev.priorDelivered = sample.delivered;
    ev.deliveryRate = valid ? deliveredBytes / interval : 0;
    ev.appLimited = sample.appLimited;
    ev.rttSample = rttSample;
    ev.rtt = rtt;
    return ev;
  }
}
