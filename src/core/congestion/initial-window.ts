/**
 * The initial congestion window (RFC 9002 §7.2): ten datagrams, limited to the larger of
 * 14,720 bytes and two datagrams. 12,000 bytes at QUIC's 1,200-byte floor, 14,520 at 1,452.
 */
export function initialWindowFor(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14_720, 2 * maxDatagramSize));
}

/**
 * The window after the datagram size changed from `oldSize` to `newSize`. RFC 9002 §7.2: "If the
 * maximum datagram size changes during the connection, the initial congestion window SHOULD be
 * recalculated with the new size." A window that has not moved since the connection began (it
 * still equals the old initial window: nothing was acknowledged or lost yet) becomes the new
 * initial window, as Cloudflare's quiche does (`update_max_datagram_size`); a window that moved
 * keeps its size in bytes. Path-MTU discovery's first probe is acknowledged by the first ACK,
 * before that ACK grows the window, so the first round trip after it starts from ten datagrams of
 * the size discovered, as a sender counting its window in packets does (libudx, Linux TCP).
 */
export function windowAfterSizeChange(window: number, oldSize: number, newSize: number): number {
  return window === initialWindowFor(oldSize) ? initialWindowFor(newSize) : window;
}
