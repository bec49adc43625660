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
 * Rule, per epoch (an epoch starts at a check): once the application released more than half the
 * window since the epoch began, the fraction f = released / window was consumed in `elapsed` ms;
 * when elapsed < 4 · f · srtt (a whole window in under 4 RTTs: the peer, which needs ~1 RTT per
 * window of credit plus ~2 RTTs per loss repair, waits on credit) the window doubles, if the
 * endpoint's budget gives it that much (`WindowAllowance`). Then a new epoch starts.
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

export class WindowTuner {
  /** The receive window now, bytes (starts at `initial`, never above `max`, never lowered). */
  window: number;
  /** Bytes the application released so far (reliable data). */
  private released = 0;
  private epochReleased = 0;
  /** When the epoch began (ms); -1 before the first release. */
  private epochStart = -1;

  constructor(
    initial: number,
    private readonly max: number,
    private readonly rtt: SmoothedRtt,
    private readonly allowance: WindowAllowance | null,
  ) {
    this.window = initial;
  }

  /** The application released `bytes` at `now`. True when the window grew. */
  onReleased(bytes: number, now: number): boolean {
    this.released += bytes;
    if (this.epochStart < 0) {
      this.epochStart = now;
      this.epochReleased = this.released - bytes;
      return false;
    }
    const inEpoch = this.released - this.epochReleased;
    if (inEpoch <= this.window / 2) return false;
    const fraction = inEpoch / this.window;
    const fast = now - this.epochStart < RTTS_PER_WINDOW * fraction * this.rtt.smoothed;
    const next = Math.min(2 * this.window, this.max);
    let grew = false;
    if (fast && next > this.window && (this.allowance === null || this.allowance.allowsWindow(next))) {
      this.window = next;
      grew = true;
    }
    this.epochStart = now;
    this.epochReleased = this.released;
    return grew;
  }
}
