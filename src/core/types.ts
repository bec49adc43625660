/**
 * Types shared by the sans-IO engine and its shells. Nothing here performs I/O or reads a clock:
 * every instant is a number of milliseconds on a monotonic clock supplied by the caller (`now`).
 */

/** How a message is delivered. */
export type Delivery = 'ordered' | 'unordered' | 'unreliable';

/** How one message is sent: `ConnectionCore.send()`'s options. */
export interface CoreSendOptions {
  /** Default 'ordered'. */
  delivery?: Delivery;
  /** Ordering scope, integer 0–255. Default 0. */
  channel?: number;
  /** Unreliable only: drop the message (counted in `unreliableExpired`) if not sent within this many ms. */
  maxAge?: number;
  /** Report the message's fate as a 'receipt' event with this id (integer > 0). */
  receipt?: number;
}

/** A channel's share of the sender (`ConnectionCore.setChannel()`). */
export interface ChannelOptions {
  /** Lower is served first (strict priority). Integer 0–255. Default 0. */
  priority?: number;
  /** Share among the channels of one priority (weighted fair). Integer 1–65535. Default 1. */
  weight?: number;
  /**
   * Extra copies of each small reliable message (≤ 512 bytes) of this channel, sent in the next
   * packets, so that a lost packet costs no retransmission delay. Integer 0–3. Default 0.
   */
  redundancy?: number;
}

/** Congestion-control algorithm names built in. */
export type CongestionAlgorithm = 'bbr' | 'newreno' | 'ledbat' | 'none';

/**
 * What one ACK told the sender, as a congestion controller sees it. `deliveryRate` is the
 * delivery-rate sample of draft-cheng-iccrg-delivery-rate-estimation (bytes/ms), computed by
 * the connection from per-packet bookkeeping.
 */
export interface AckEvent {
  now: number;
  /** Bytes newly acknowledged by this ACK. */
  ackedBytes: number;
  /** When the newest packet this ACK newly acknowledged was sent. */
  newestSentAt: number;
  /** Bytes in flight after this ACK. */
  bytesInFlight: number;
  /** Bytes acknowledged over the whole connection so far. */
  delivered: number;
  /** `delivered` when the newest acknowledged packet was sent (one round trip ago). */
  priorDelivered: number;
  /** Delivery rate over that interval, bytes/ms; 0 when there is no valid sample. */
  deliveryRate: number;
  /** The sample was limited by the application (too little data), not by the network. */
  appLimited: boolean;
  /** RTT sample taken from this ACK, ms, or 0 when it gave none. */
  rttSample: number;
  rtt: RttView;
}

/**
 * The contract between the loss-recovery machinery and a congestion controller
 * (RFC 9002 §7, quinn-proto `congestion::Controller`). All sizes are bytes, times milliseconds.
 */
export interface CongestionController {
  /** Bytes that may be in flight. */
  readonly window: number;
  /** Bytes per millisecond at which to pace, or Infinity to let the pacer derive it from the window. */
  readonly pacingRate: number;
  /** A packet that counts toward bytes in flight was sent. */
  onPacketSent(now: number, bytes: number, bytesInFlight: number): void;
  /** An ACK newly acknowledged in-flight packets. */
  onAck(ack: AckEvent): void;
  /** Packets were declared lost; `lostSentAt` is when the newest of them was sent. */
  onCongestionEvent(now: number, lostSentAt: number, lostBytes: number, persistentCongestion: boolean): void;
  /**
   * Path-MTU discovery changed the datagram size (bytes): windows counted in datagrams (minimum
   * window, per-RTT increase) follow it. Optional for custom controllers.
   */
  onMaxDatagramSizeChanged?(maxDatagramSize: number): void;
  /**
   * The handshake gave an RTT estimate (ms) before any ACK arrived (docs/protocol.md §14.1): a
   * controller that derived anything from the configured initial RTT (BBR: its first pacing
   * rate) derives it again from this one. Optional for custom controllers.
   */
  onHandshakeRtt?(rtt: number): void;
  /** Human-readable name for stats. */
  readonly name: string;
  /**
   * The controller's phase (e.g. 'slow_start', 'congestion_avoidance', 'recovery'; BBR's modes),
   * reported in traces as qlog's congestion_state_updated. Optional: custom controllers may omit it.
   */
  readonly state?: string;
}

/** A read-only view of the RTT estimator a controller may consult. */
export interface RttView {
  readonly smoothed: number;
  readonly min: number;
  readonly latest: number;
  readonly variance: number;
}

/** Makes one {@link CongestionController} per connection (`createEndpoint({ congestion })`). */
export type CongestionControllerFactory = (config: { maxDatagramSize: number }) => CongestionController;

/** Engine configuration. Every field has a default in `src/core/config.ts`. */
export interface CoreConfig {
  /**
   * Largest datagram this side sends and accepts, checksum included: the ceiling of path-MTU
   * discovery, which starts at 1,200 and probes up to min(this, the peer's). 1,200 disables it.
   * Default 1452.
   */
  maxDatagramSize: number;
  /**
   * Largest message `send()` accepts, and the largest this side accepts from the peer (announced
   * as transport parameter maxMessageSize, at most `receiveWindow`). Default 4 MiB.
   */
  maxMessageSize: number;
  /**
   * Receive window in bytes this side grants the peer at first (announced). Default 4 MiB.
   */
  receiveWindow: number;
  /**
   * Bytes the receive window may grow to (window-tuner.ts): it doubles while the application
   * consumes a whole window in under ~4 RTTs, within the endpoint's budget. At most
   * `receiveWindow` disables growth. Default 16 MiB.
   */
  maxReceiveWindow: number;
  /** RTT assumed before the first sample, ms. Default 100 (LAN-friendly; RFC 9002 uses 333). */
  initialRtt: number;
  /** Floor for the probe timeout, ms. Default 5 (the 1 s floor of RFC 6298 is for the Internet of 2000). */
  minPto: number;
  /** Ceiling for the probe timeout after backoff, ms. Default 10,000. */
  maxPto: number;
  /** Longest this side delays an ACK, ms. Default 5. */
  maxAckDelay: number;
  /**
   * ACK at the latest after this many ack-eliciting packets, once the first 100 arrived (those
   * are acknowledged every second packet, or every packet if this is 1). Default 10.
   */
  ackEveryPackets: number;
  /** Close the connection when nothing was heard for this long, ms (0 disables). Default 30,000. */
  idleTimeout: number;
  /** Send a PING when nothing was sent for this long, ms (0 disables). Default 10,000. */
  keepAliveInterval: number;
  /** Congestion controller. Default 'bbr'. */
  congestion: CongestionAlgorithm | CongestionControllerFactory;
  /** Pace packets over the RTT instead of sending a window as one burst. Default true. */
  pacing: boolean;
  /**
   * The shortest wait the host's timers can give, ms: the pacer never asks for a wake-up
   * sooner (src/core/pacer.ts). Default 0 (exact timers, as in virtual time); the Node endpoint
   * sets its clock's granularity (1 ms for the real clock: `setTimeout`).
   */
  timerGranularity: number;
  /**
   * Bytes of unreliable data kept per connection: incomplete messages being reassembled plus
   * delivered ones not yet released; so also the largest unreliable message received.
   * Default 4 MiB (the endpoint sets min(maxMessageSize, receiveWindow)).
   */
  maxUnreliableReassembly: number;
  /**
   * After the peer's CLOSE, stay open for sending until the application closes (a half-open
   * connection, docs/protocol.md §18.1). Default false: close at once, as the peer did.
   */
  allowHalfOpen: boolean;
  /** Random source in [0, 1) for packet-number skipping. Seed it in tests. */
  random: () => number;
  /**
   * Set by the endpoint for an encrypted connection: packet protection seals every DATA datagram
   * the engine builds, and a sealed packet carries an AEAD tag instead of the CRC-32
   * (docs/protocol.md "PROTECTED"), so the engine leaves the CRC field zero instead of computing
   * a checksum that is thrown away. Default false.
   */
  sealed: boolean;
  /**
   * Allocates the buffer of a message reassembled from several fragments; the engine writes
   * every byte of it before delivering it, so it need not be zeroed. Default
   * `new Uint8Array(size)`; the Node endpoint passes `Buffer.allocUnsafeSlow` (no zero-fill of
   * each 64 KiB message of a bulk flow, and the 'message' event's Buffer is this one: no
   * wrapper object per message).
   */
  allocateMessage: (size: number) => Uint8Array;
}

/** Events the engine reports through `pollEvent()`. */
export type CoreEvent =
  | {
      type: 'message';
      data: Uint8Array;
      delivery: Delivery;
      /** The channel it was sent on, 0–255. */
      channel: number;
      /**
       * Bytes this message holds until the application has consumed (or dropped) it; pass the
       * value to `release(credit, delivery)`. Reliable credit reopens the peer's window.
       */
      credit: number;
    }
  /**
   * The first `through` reliable messages (in send order) are all acknowledged; pushed once
   * when the mark given to `watchAcked()` is reached.
   */
  | { type: 'acked'; through: number }
  /**
   * The fate of a message sent with a receipt id: `ok` once the peer acknowledged all of it;
   * not `ok` (unreliable only) when it expired unsent or a packet carrying it was lost.
   */
  | { type: 'receipt'; receipt: number; ok: boolean }
  /** Path-MTU discovery changed the datagram size in force (a probe got through, or a black hole). */
  | { type: 'path-mtu'; size: number; reason: 'probe' | 'black-hole' | 'new-path' }
  /**
   * The connection moved to a new remote address, validated with PATH_CHALLENGE / PATH_RESPONSE
   * (the peer's NAT rebound, or it called migrate()): everything is sent to `address`:`port` now.
   */
  | { type: 'path-changed'; address: string; port: number; previousAddress: string; previousPort: number }
  /** The peer finished sending (its CLOSE arrived); no more messages will come. */
  | { type: 'peer-closed' }
  /** The connection is over. `error` is absent after a graceful close. */
  | { type: 'closed'; error?: CloseError };

export type CloseErrorCode =
  | 'ERR_CONNECTION_RESET'
  | 'ERR_IDLE_TIMEOUT'
  | 'ERR_PROTOCOL_VIOLATION'
  | 'ERR_CONNECTION_CLOSED';

export interface CloseError {
  code: CloseErrorCode;
  message: string;
  /** Who decided: this side ('local') or the peer ('remote'). */
  initiator: 'local' | 'remote';
}

/**
 * Counters and estimates of one connection, **as this side sees them**. Each side counts only
 * what it sent and what it received, so the two directions of a path show on different sides:
 *
 * - Loss on the way **to the peer** shows here: `packetsLost` (this side declared its packets
 *   lost), `packetsRetransmitted` / `bytesRetransmitted` (it sent their data again).
 * - Loss on the way **to this side** shows in the peer's stats. Here it is visible only as
 *   `duplicatesDropped`, when the peer resent data that had in fact arrived (a lost ACK, a
 *   late packet), and as gaps that the peer repaired.
 *
 * So a receiver under 20 % loss may show `packetsLost 0, packetsRetransmitted 0` and a large
 * `duplicatesDropped`: read the sender's stats for the loss. `Connection.stats()` adds
 * `lossRate` and `retransmissionRate`, the two figures to read first. docs/stats.md has a
 * worked example.
 */
export interface ConnectionStats {
  /** Smoothed RTT, ms (RFC 6298 / RFC 9002 estimator). */
  srtt: number;
  /** RTT variation, ms. */
  rttvar: number;
  /** Smallest RTT sample seen, ms. */
  minRtt: number;
  /** Most recent RTT sample, ms. */
  latestRtt: number;
  /** Current probe timeout (with backoff), ms. */
  pto: number;
  /** Congestion window, bytes: how much this side may have in flight. */
  cwnd: number;
  /** Bytes this side sent that are neither acknowledged nor declared lost. */
  bytesInFlight: number;
  /** Name of this side's congestion controller ('bbr', 'newreno', ...). */
  congestionController: string;
  /** Datagram size in force (path-MTU discovery), bytes, checksum included. */
  pathMtu: number;
  /** Times `pathMtu` changed. */
  pathMtuChanges: number;
  /** Path-MTU probes sent, and declared lost (neither counts in packetsLost). */
  mtuProbesSent: number;
  mtuProbesLost: number;
  /** Times large packets stopped getting through and `pathMtu` fell back to 1,200. */
  blackHolesDetected: number;
  /** Times the connection moved to a new remote address after validating it (migration). */
  pathChanges: number;
  /**
   * New remote addresses given up without moving: no PATH_RESPONSE in time, or the peer was
   * still heard on the current path (a spoofed or copied packet, most likely).
   */
  pathValidationsFailed: number;
  /** PATH_CHALLENGE frames sent (to new addresses, and to the current path while validating). */
  pathChallengesSent: number;
  /**
   * Plaintext packets from a remote address not (yet) validated: not read, not acknowledged
   * (held for reading if the address is then validated, else dropped).
   */
  packetsFromUnvalidatedPath: number;
  /** Packets (datagrams) this side sent: data, ACK-only, probes, CLOSE and RESET. */
  packetsSent: number;
  /** Valid packets this side received (duplicates and malformed ones excluded). */
  packetsReceived: number;
  /** Packets this side sent that carried retransmitted data (sender side). */
  packetsRetransmitted: number;
  /** Packets this side sent and then declared lost (time or packet threshold, RFC 9002 §6.1). */
  packetsLost: number;
  /** Datagram bytes this side sent, headers and checksum included. */
  bytesSent: number;
  /** Datagram bytes of the valid packets this side received. */
  bytesReceived: number;
  /** Bytes of message data sent again after a loss (sender side). */
  bytesRetransmitted: number;
  /**
   * Bytes of message data sent as redundant copies (`setChannel(channel, { redundancy })`),
   * beside the first transmission (sender side).
   */
  bytesRedundant: number;
  /**
   * Packets, or data fragments inside new packets, that this side had already received and
   * discarded (receiver side): the peer's spurious retransmissions, network duplicates.
   */
  duplicatesDropped: number;
  /** Datagrams whose checksum did not match (receiver side). */
  checksumFailures: number;
  /** Datagrams that failed to decode for another reason (receiver side). */
  malformedDropped: number;
  /** Messages the application queued with `send()` on this side. */
  messagesSent: number;
  /** Messages this side delivered to the application. */
  messagesReceived: number;
  /** Message payload bytes delivered to the application. */
  bytesDelivered: number;
  /**
   * Unreliable messages dropped by the receiver: incomplete ones evicted from reassembly, and
   * complete ones that did not fit the unreliable budget (`maxUnreliableReassembly`).
   */
  unreliableDropped: number;
  /** Unreliable messages this side dropped unsent because their `maxAge` had passed. */
  unreliableExpired: number;
  /**
   * Bytes the peer's data holds in this connection now: buffered fragments (with the datagram
   * buffers they keep alive), unfinished messages, and delivered messages not yet released.
   */
  retainedBytes: number;
  /** Probe timeouts fired on this side. */
  ptoCount: number;
  /** The rate the pacer lets packets out at, bytes/s (also when pacing is off: what it would be). */
  pacingRate: number;
  /**
   * Why a transfer is slow: time (ms, since the connection opened, until it started draining)
   * during which data waited because the congestion window was full...
   */
  timeBlockedByCongestion: number;
  /** ... because the pacer spaced packets out, ms ... */
  timeBlockedByPacing: number;
  /** ... because the peer's flow-control window was used up (a slow reader), ms ... */
  timeBlockedByFlowControl: number;
  /**
   * ... and time the application had nothing to send (app-limited), ms. The rest of the
   * connection's life the sender was sending. There is no anti-amplification cause: the cookie
   * handshake validates the peer's address before a connection exists.
   */
  timeAppLimited: number;
  /**
   * Packets with data left unprocessed and unacknowledged because the endpoint's
   * maxBufferedBytes was reached and this connection was over its fair share.
   */
  packetsDeferred: number;
}
