/**
 * Anti-replay window for received packet numbers, after RFC 6479: a ring of 32-bit blocks
 * behind the largest number accepted. A number is fresh if it is above the largest, or within
 * the window and its bit is clear. `check` never changes state: the caller marks a number with
 * `accept` only after its packet authenticated, so forged packets cannot move the window.
 *
 * Window: (BLOCKS − 1) × 32 = 8,160 numbers below the largest. The reliable engine never needs
 * an older one: a packet that late has long been declared lost and its data resent.
 */
const BLOCKS = 256;
const BLOCK_BITS = 32;
export const REPLAY_WINDOW = (BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly bits = new Uint32Array(BLOCKS);
  /** Largest number accepted, or −1 before the first. */
  private top = -1;

  get largest(): number {
    return this.top;
  }

  /** 'fresh', 'replay' (seen before) or 'old' (below the window). */
  check(pn: number): 'fresh' | 'replay' | 'old' {
    if (pn > this.top) return 'fresh';
    if (pn + REPLAY_WINDOW <= this.top) return 'old';
    const block = Math.floor(pn / BLOCK_BITS) % BLOCKS;
    return this.bits[block]! & (1 << pn % BLOCK_BITS) ? 'replay' : 'fresh';
  }

  /** Mark `pn` as received (call only after `check` said 'fresh' and the packet authenticated). */
  accept(pn: number): void {
    if (pn > this.top) {
      const topBlock = this.top < 0 ? -1 : Math.floor(this.top / BLOCK_BITS);
      const newBlock = Math.floor(pn / BLOCK_BITS);
      // Clear the blocks the window slides over (at most the whole ring).
      const clear = Math.min(newBlock - topBlock, BLOCKS);
      for (let i = 1; i <= clear; i++) this.bits[(newBlock - clear + i) % BLOCKS] = 0;
      this.top = pn;
    }
    const block = Math.floor(pn / BLOCK_BITS) % BLOCKS;
    this.bits[block] = this.bits[block]! | (1 << pn % BLOCK_BITS);
  }
}
