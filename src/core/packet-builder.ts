import { ackFrameSize, writeAckFrame, writePathFrame } from '../wire/frames.js';
import { writeTrailer } from '../wire/checksum.js';
import { sealAt, writeDataHeader, writeDataHeaderAt } from '../wire/packet.js';
import { cidHigh, cidLow } from '../wire/cid-halves.js';
import { truncate32 } from '../wire/packet-number.js';
import { CHECKSUM_SIZE, DATA_HEADER_SIZE, FrameType, PATH_FRAME_SIZE, type ConnectionId } from '../wire/types.js';
import type { AckScheduler } from './ack-scheduler.js';
import { SendBlock } from './blocked-time.js';
import type { Counters } from './counters.js';
import type { LossRecovery } from './loss-recovery.js';
import { BASE_PLPMTU, type PathMtu } from './path-mtu.js';
import type { SendScheduler } from './send-scheduler.js';
import type { SentFragment } from './sent-packets.js';
import { sharedSlab } from './slab.js';
import type { Tracer } from './trace.js';

/**
 * Assembles one DATA packet (quic-go's `packet_packer`): header and packet number, the ACK
 * frame if one is due or has news, the frames the send scheduler picks, a PING where the
 * packet must be acknowledged promptly, then the checksum; and records the packet with loss
 * recovery. Also the one-off RESET packet. Datagrams are cut from the shared slab.
 *
 * docs/protocol.md "Packets" and "Frames"; RFC 9002 §3 (ACK-only packets are not in flight),
 * §6.2.4 (probes).
 */
export class PacketBuilder {
  private readonly slab = sharedSlab;
  private readonly remoteCidHi: number;
  private readonly remoteCidLo: number;

  constructor(
    private readonly remoteCid: ConnectionId,
    /** Path-MTU discovery: the size packets are built to. */
    private readonly mtu: PathMtu,
    private readonly recovery: LossRecovery,
    private readonly acks: AckScheduler,
    private readonly sender: SendScheduler,
    private readonly counters: Counters,
    /** Packet protection seals every datagram: its CRC field is left zero, not computed (CoreConfig.sealed). */
    private readonly sealed: boolean,
    private readonly trace: Tracer | null = null,
  ) {
    this.remoteCidHi = cidHigh(remoteCid);
    this.remoteCidLo = cidLow(remoteCid);
  }

  /** A packet with an ACK (`withAck`, or when the ACK has news) and, `withData`, the sender's frames. */
  build(now: number, withAck: boolean, withData: boolean): Uint8Array {
    let max = this.mtu.current;
    if (withData) {
      // A sentinel now and then, and the last PTO probe of a round, are kept to the base size:
      // if large packets stopped getting through (a black hole), these still do, and their ACKs
      // reveal it (path-mtu.ts).
      max = this.mtu.nextPacketLimit();
      // `Math.min` on every such packet, not under an if: the first PTO probe after this was
      // compiled (a bulk sender's, mid-transfer) then finds it with feedback (mutable-fields.ts).
      max = Math.min(max, this.recovery.probesDue === 1 ? BASE_PLPMTU : max);
    }
    // Written in place in the shared slab, at offsets from `start`: the datagram is the one view
    // made of it, at the end.
    const start = this.slab.reserve(max);
    const buf = this.slab.current;
    const pn = this.recovery.allocatePacketNumber();
    let o = writeDataHeaderAt(buf, start, this.remoteCidHi, this.remoteCidLo, truncate32(pn));
    const limit = start + max - CHECKSUM_SIZE;

    let withAckFrame = false;
    // Asked every time (not only when no ACK is due): the first packet built without a due ACK
    // (a PTO probe) then finds this compiled instead of deoptimising build (mutable-fields.ts).
    const news = this.acks.hasNews();
    if (withAck || news) {
      const ack = this.acks.buildAckFrame(now);
      if (ack && o + ackFrameSize(ack) <= limit) {
        o = writeAckFrame(buf, o, ack);
        this.acks.onAckSent(pn);
        withAckFrame = true;
      }
    }

    let ackEliciting = false;
    // The sender's scratch list (copied into the packet's record): fragments[0 … fragmentCount).
    let fragments: readonly SentFragment[] | null = null;
    let fragmentCount = 0;
    let carriesClose = false;
    let retransmission = false;
    if (withData) {
      const sender = this.sender;
      // This packet fills a small congestion window: keep a byte for the PING below. Only when
      // new data comes next: it is cut to the room there is, whereas a retransmitted or
      // unreliable fragment of full size would no longer fit, and would wait for ever.
      const fillsWindow = sender.onlyNewDataQueued() && this.recovery.fillsSmallWindow(max);
      o = sender.writeFrames(buf, o, fillsWindow ? limit - 1 : limit, pn, now);
      fragments = sender.packetFragments;
      fragmentCount = sender.packetFragmentCount;
      carriesClose = sender.packetClose;
      retransmission = sender.packetRetransmission;
      ackEliciting = fragmentCount > 0 || carriesClose || sender.packetUnreliable;
      if (!ackEliciting && this.recovery.probesDue > 0) {
        buf[o++] = FrameType.Ping;
        ackEliciting = true;
      } else if (ackEliciting && o < limit && (fillsWindow || sender.sendable() !== SendBlock.None)) {
        // The last packet of a burst: a PING asks the peer to acknowledge at once instead of
        // after its delayed-ACK timer, so the end of every message or request is confirmed in
        // one RTT (and never mistaken for a loss by the PTO). Likewise the packet that fills a
        // small congestion window: the peer acknowledges only every few packets
        // (docs/protocol.md §13), and a window of fewer than twice that many would otherwise
        // wait for its delayed-ACK timer. A larger window keeps moving on the regular ACKs.
        buf[o++] = FrameType.Ping;
      }
      this.recovery.onProbeSpent();
    }

    const datagram = this.cutDatagram(start, o);
    const size = datagram.length;
    this.slab.commit(size);
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    // Added every time (0 or 1), not under an if: the first retransmission after warm-up would
    // otherwise meet a counter update without feedback and deoptimise the compiled `build`.
    this.counters.packetsRetransmitted += retransmission ? 1 : 0;
    this.recovery.onPacketSent(now, pn, size, ackEliciting, fragments, carriesClose, retransmission, 0, fragmentCount);
    if (this.trace !== null) {
      const carried = fragments === null || fragmentCount === 0 ? null : fragments.slice(0, fragmentCount);
      this.trace.packetSent(now, pn, size, withAckFrame, carried, carriesClose, ackEliciting);
    }
    // Unconditional (nothing to do without fragments): a call site that every packet reaches
    // has type feedback before `build` is optimised, so it deoptimises nothing later.
    this.sender.releasePacketFragments();
    return datagram;
  }

  /**
   * A path-MTU probe of exactly `size` bytes: a PING padded with PADDING frames, carrying no
   * data (docs/protocol.md "MTU probes"). Ack-eliciting and in flight; its loss is not congestion.
   */
  buildProbe(now: number, size: number): Uint8Array {
    const buf = this.slab.take(size);
    const pn = this.recovery.allocatePacketNumber();
    let o = writeDataHeader(buf, this.remoteCid, truncate32(pn));
    buf[o++] = FrameType.Ping;
    const end = size - CHECKSUM_SIZE;
    buf.fill(FrameType.Padding, o, end);
    const datagram = this.trailer(buf, 0, end);
    this.slab.commit(size);
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    this.recovery.onPacketSent(now, pn, size, true, null, false, false, size);
    if (this.trace !== null) this.trace.mtuProbeSent(now, pn, size);
    return datagram;
  }

  /**
   * A packet holding one PATH_CHALLENGE or PATH_RESPONSE frame and nothing else (docs/protocol.md
   * §5.10): not ack-eliciting, not in flight, not congestion controlled (path validation repeats
   * a challenge on its own timer). Alone in its packet, so that a peer that does not know the
   * frame discards nothing but it.
   */
  buildPath(now: number, frame: 'path-challenge' | 'path-response', data: Uint8Array, toCandidate: boolean): Uint8Array {
    const size = DATA_HEADER_SIZE + PATH_FRAME_SIZE + CHECKSUM_SIZE;
    const buf = this.slab.take(size);
    const pn = this.recovery.allocatePacketNumber();
    let o = writeDataHeader(buf, this.remoteCid, truncate32(pn));
    o = writePathFrame(buf, o, frame === 'path-challenge' ? FrameType.PathChallenge : FrameType.PathResponse, data);
    const datagram = this.trailer(buf, 0, o);
    this.slab.commit(size);
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    this.recovery.onPacketSent(now, pn, size, false, null, false, false);
    if (this.trace !== null) this.trace.pathFrameSent(now, pn, size, frame, toCandidate);
    return datagram;
  }

  /** The RESET packet of an abort: sent once, not tracked (docs/protocol.md "RESET"). */
  buildReset(now: number, code: number, text: string): Uint8Array {
    let reason = new TextEncoder().encode(text);
    if (reason.length > 256) {
      // Cut at a character boundary: the peer rejects a RESET whose reason is not valid UTF-8.
      let end = 256;
      while (end > 0 && (reason[end]! & 0xc0) === 0x80) end--;
      reason = reason.subarray(0, end);
    }
    const buf = new Uint8Array(DATA_HEADER_SIZE + 1 + 2 + 2 + reason.length + CHECKSUM_SIZE);
    const pn = this.recovery.allocatePacketNumber();
    let o = writeDataHeader(buf, this.remoteCid, truncate32(pn));
    buf[o++] = FrameType.Reset;
    buf[o++] = code >>> 8;
    buf[o++] = code & 0xff;
    // Reason length as a 2-byte varint (0x40 prefix), so any length up to 16,383 fits.
    buf[o++] = 0x40 | (reason.length >>> 8);
    buf[o++] = reason.length & 0xff;
    buf.set(reason, o);
    o += reason.length;
    this.counters.packetsSent++;
    const datagram = this.trailer(buf, 0, o);
    if (this.trace !== null) this.trace.packetSent(now, pn, datagram.length, false, null, true, false);
    return datagram;
  }

  /**
   * The datagram `slab[start, end + 4)` with its trailer (see `trailer`), as the slab cuts it:
   * the released last datagram's own view when it had the same place and size (slab.ts).
   */
  private cutDatagram(start: number, end: number): Uint8Array {
    const datagram = this.slab.cut(start, end + CHECKSUM_SIZE - start);
    if (this.sealed) datagram.fill(0, end - start);
    else writeTrailer(datagram);
    return datagram;
  }

  /**
   * The datagram `buf[start, end + 4)` with its trailer: the CRC-32 of the bytes before it, or,
   * when packet protection will seal it, zeros (the sealed packet carries the AEAD tag instead,
   * docs/protocol.md "PROTECTED", so a checksum here would be computed only to be dropped).
   */
  private trailer(buf: Uint8Array, start: number, end: number): Uint8Array {
    if (!this.sealed) return sealAt(buf, start, end);
    buf.fill(0, end, end + CHECKSUM_SIZE);
    return buf.subarray(start, end + CHECKSUM_SIZE);
  }
}
