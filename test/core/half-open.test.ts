// allowHalfOpen (issue 15): after the peer's CLOSE a side may keep sending until its application
// closes; the side that closed first goes on receiving and acknowledging. No wire change: the
// CLOSE frame already meant "I will send no new messages" (docs/protocol.md §18.1).
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';

const text = (b: Uint8Array) => Buffer.from(b).toString();

describe('half-open connections', () => {
  it('by default a peer CLOSE closes this side too: send() throws after peer-closed', () => {
    const pair = new Pair({ seed: 11, link: { delay: 5 } });
    pair.a.close(pair.now);
    pair.runUntil(() => pair.sides[1].events.some((e) => e.type === 'peer-closed'), 10_000);
    expect(pair.b.state).not.toBe('open');
    expect(() => pair.b.send(Buffer.from('late'), 'ordered')).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
    pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 60_000);
    expect(pair.sides[0].events.find((e) => e.type === 'closed')).toEqual({ type: 'closed' });
  });

  it('with allowHalfOpen the other side keeps sending after peer-closed, under loss; both then close cleanly', () => {
    const pair = new Pair({ seed: 12, link: { delay: 5, loss: 0.1 }, configB: { allowHalfOpen: true } });
    pair.a.send(Buffer.from('request'), 'ordered');
    pair.a.close(pair.now);
    pair.runUntil(() => pair.sides[1].events.some((e) => e.type === 'peer-closed'), 60_000);
    expect(pair.b.state).toBe('open');
    expect(pair.a.state).toBe('closing');
    const replies = Array.from({ length: 50 }, (_, i) => Buffer.from(`reply ${i} `.repeat(100)));
    for (const r of replies) pair.b.send(r, 'ordered');
    pair.runUntil(() => pair.sides[0].received.length === replies.length, 120_000);
    expect(pair.sides[0].received.map(text)).toEqual(replies.map((r) => r.toString()));
    // A is still waiting for B's CLOSE; B ends when it is done.
    expect(pair.sides[0].closed).toBe(false);
    pair.b.close(pair.now);
    pair.runUntil(() => pair.sides[0].closed && pair.sides[1].closed, 120_000);
    expect(pair.sides[0].events.find((e) => e.type === 'closed')).toEqual({ type: 'closed' });
    expect(pair.sides[1].events.find((e) => e.type === 'closed')).toEqual({ type: 'closed' });
    expect(pair.sides[1].received.map(text)).toEqual(['request']);
  });
});
