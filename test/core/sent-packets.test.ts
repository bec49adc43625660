import { describe, expect, it } from 'vitest';
import { newSentPacket, PacketState, SentPackets } from '../../src/core/sent-packets.js';

function history(states: PacketState[]): SentPackets {
  const h = new SentPackets(0);
  states.forEach((state, pn) => {
    const p = newSentPacket();
    p.pn = pn;
    p.state = state;
    p.ackEliciting = false;
    h.push(pn, p);
  });
  return h;
}

describe('SentPackets.dropAcked (the front an ACK acknowledged, before loss detection walks the history)', () => {
  it('drops the acknowledged front and stops at the first outstanding packet', () => {
    const h = history([PacketState.Acked, PacketState.Acked, PacketState.Outstanding, PacketState.Acked]);
    h.dropAcked();
    expect(h.first).toBe(2);
    expect(h.end).toBe(4);
    expect(h.get(2)?.state).toBe(PacketState.Outstanding);
  });

  it('keeps a lost packet at the front for loss detection (its persistent-congestion run); trim drops it', () => {
    const h = history([PacketState.Acked, PacketState.Lost, PacketState.Acked, PacketState.Outstanding]);
    h.dropAcked();
    expect(h.first).toBe(1);
    expect(h.get(1)?.state).toBe(PacketState.Lost);
    h.trim();
    expect(h.first).toBe(3);
  });

  it('passes skipped numbers (null slots) and empties a history acknowledged to its end', () => {
    const h = new SentPackets(0);
    const p = newSentPacket();
    p.pn = 2;
    p.state = PacketState.Acked;
    p.ackEliciting = false;
    h.push(2, p); // 0 and 1 skipped: null slots
    h.dropAcked();
    expect(h.first).toBe(3);
    expect(h.end).toBe(3);
    expect(h.get(2)).toBeNull();
  });
});
