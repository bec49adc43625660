import type { CongestionController } from '../types.js';

/**
 * No congestion control: a fixed window (KCP's "fast" mode). Only for links you own; it does
 * not back off under congestion. Flow control still bounds what is in flight.
 */
export class NoCongestionControl implements CongestionController {
  readonly name = 'none';
  readonly pacingRate = Infinity;
  window: number;

  constructor(
    maxDatagramSize: number,
    private readonly windowPackets = 4096,
  ) {
    this.window = windowPackets * maxDatagramSize;
  }

  onMaxDatagramSizeChanged(size: number): void {
    this.window = this.windowPackets * size;
  }

  onPacketSent(): void {}
  onAck(): void {}
  onCongestionEvent(): void {}
}
