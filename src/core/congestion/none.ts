import type { CongestionController } from '../types.js';

/**
 * No congestion control: a fixed window (KCP's "fast" mode). Only for links you own; it does
 * not back off under congestion. Flow control still bounds what is in flight.
 */
export class NoCongestionControl implements CongestionController {
  readonly name = 'none';
  readonly pacingRate = Infinity;
  readonly window: number;

  constructor(maxDatagramSize: number, windowPackets = 4096) {
    this.window = windowPackets * maxDatagramSize;
  }

  onPacketSent(): void {}
  onAck(): void {}
  onCongestionEvent(): void {}
}
