import { describe, expect, it } from 'vitest';
import {
  AMPLIFICATION_FACTOR,
  MAX_CHALLENGES,
  MAX_HELD_PACKETS,
  PathKind,
  PathValidator,
} from '../../src/core/path-validation.js';
import { Rng } from '../../src/testing/rng.js';

/** PathValidator on its own (src/core/path-validation.ts): no engine, no network. */

const SIZE = 23; // a packet with one path frame: header 14 + frame 9 + checksum... as the engine passes it

function validator(seed = 1): { v: PathValidator; drawn: Uint8Array[] } {
  const rng = new Rng(seed);
  const drawn: Uint8Array[] = [];
  const v = new PathValidator('10.0.0.1', 5000, (n) => {
    const b = rng.bytes(n);
    drawn.push(b);
    return b;
  });
  return { v, drawn };
}

describe('PathValidator', () => {
  it('classifies the current path, the candidate and other addresses', () => {
    const { v } = validator();
    expect(v.classify('10.0.0.1', 5000)).toBe(PathKind.Current);
    expect(v.classify('10.0.0.1', 5001)).toBe(PathKind.Other);
    expect(v.onForeignDatagram(0, '10.9.9.9', 7000, 100, 900)).toBe(PathKind.Candidate);
    expect(v.classify('10.9.9.9', 7000)).toBe(PathKind.Candidate);
    // One candidate at a time.
    expect(v.onForeignDatagram(0, '10.6.6.6', 6000, 100, 900)).toBe(PathKind.Other);
    expect(v.classify('10.6.6.6', 6000)).toBe(PathKind.Other);
  });

  it('challenges both paths with bytes from the injected randomness, and moves on the candidate\'s echo from the candidate', () => {
    const { v, drawn } = validator(7);
    v.onForeignDatagram(0, '10.9.9.9', 7000, 1200, 900);
    const current = v.nextTransmit(SIZE)!;
    expect(current).toMatchObject({ frame: 'path-challenge', toCandidate: false });
    v.onSent(0, current, SIZE);
    const challenge = v.nextTransmit(SIZE)!;
    expect(challenge).toMatchObject({ frame: 'path-challenge', toCandidate: true });
    v.onSent(0, challenge, SIZE);
    // Both 8-byte payloads are what randomBytes gave, and differ.
    expect(drawn.map((b) => Buffer.from(b).toString('hex')).sort()).toEqual(
      [challenge.data, current.data].map((b) => Buffer.from(b).toString('hex')).sort(),
    );
    expect(Buffer.from(challenge.data).equals(Buffer.from(current.data))).toBe(false);
    // Then one ACK for the candidate.
    expect(v.nextTransmit(SIZE)).toMatchObject({ frame: 'ack', toCandidate: true });
    expect(v.nextTransmit(SIZE)).toBeNull();
    // The right bytes from the wrong address, or wrong bytes from the candidate: nothing.
    expect(v.onResponse(challenge.data, PathKind.Other)).toBe('none');
    expect(v.onResponse(new Uint8Array(8), PathKind.Candidate)).toBe('none');
    expect(v.onResponse(challenge.data, PathKind.Candidate)).toBe('moved');
    expect(v.classify('10.9.9.9', 7000)).toBe(PathKind.Current);
    expect(v.classify('10.0.0.1', 5000)).toBe(PathKind.Other);
    expect([v.changes, v.validationsFailed, v.challengesSent]).toEqual([1, 0, 2]);
    expect([v.previousAddress, v.previousPort]).toEqual(['10.0.0.1', 5000]);
  });

  it('another seed gives other challenge bytes', () => {
    const a = validator(1).v;
    const b = validator(2).v;
    for (const v of [a, b]) v.onForeignDatagram(0, '10.9.9.9', 7000, 1200, 900);
    expect(Buffer.from(a.nextTransmit(SIZE)!.data).equals(Buffer.from(b.nextTransmit(SIZE)!.data))).toBe(false);
  });

  it(`sends the candidate at most ${AMPLIFICATION_FACTOR}× the bytes it received from it`, () => {
    const { v } = validator();
    v.onForeignDatagram(0, '10.9.9.9', 7000, 20, 900); // 3 × 20 = 60 bytes allowed
    v.onSent(0, v.nextTransmit(SIZE)!, SIZE); // the current path's challenge: not counted
    const first = v.nextTransmit(SIZE)!;
    expect(first.toCandidate).toBe(true);
    v.onSent(0, first, SIZE); // 23
    const ack = v.nextTransmit(SIZE)!;
    v.onSent(0, ack, SIZE); // 46
    // A retry is due later, but 46 + 23 > 60: it waits for more bytes from the candidate.
    v.onTimeout(300);
    expect(v.nextTransmit(SIZE)).toBeNull();
    v.onForeignDatagram(300, '10.9.9.9', 7000, 20, 900); // now 120 allowed
    expect(v.nextTransmit(SIZE)).toMatchObject({ frame: 'path-challenge', toCandidate: true });
    expect(v.candidateBytes.sent).toBeLessThanOrEqual(AMPLIFICATION_FACTOR * v.candidateBytes.received);
  });

  it('measures the new path\'s round trip from its challenge to the response, unless the challenge was repeated (Karn)', () => {
    const { v } = validator();
    v.onForeignDatagram(100, '10.9.9.9', 7000, 1200, 900);
    let challenge: Uint8Array | null = null;
    for (let t = v.nextTransmit(SIZE); t !== null; t = v.nextTransmit(SIZE)) {
      if (t.frame === 'path-challenge' && t.toCandidate) challenge = t.data;
      v.onSent(104, t, SIZE);
    }
    expect(v.onResponse(challenge!, PathKind.Candidate, 127)).toBe('moved');
    expect(v.lastMoveRtt).toBe(23);
    // Challenged twice: which one was answered is unknown, no sample.
    v.onForeignDatagram(200, '10.8.8.8', 7000, 10_000, 900);
    for (const now of [200, 500]) {
      v.onTimeout(now);
      for (let t = v.nextTransmit(SIZE); t !== null; t = v.nextTransmit(SIZE)) {
        if (t.frame === 'path-challenge' && t.toCandidate) challenge = t.data;
        v.onSent(now, t, SIZE);
      }
    }
    expect(v.onResponse(challenge!, PathKind.Candidate, 520)).toBe('moved');
    expect(v.lastMoveRtt).toBe(0);
  });

  it(`repeats the challenge every third of the timeout, ${MAX_CHALLENGES} in all, then gives up`, () => {
    const { v } = validator();
    v.onForeignDatagram(0, '10.9.9.9', 7000, 10_000, 900);
    const sentAt: number[] = [];
    for (let now = 0; now <= 1000; now += 10) {
      if (v.onTimeout(now) === 'abandoned') break;
      for (let t = v.nextTransmit(SIZE); t !== null; t = v.nextTransmit(SIZE)) {
        if (t.frame === 'path-challenge' && t.toCandidate) sentAt.push(now);
        v.onSent(now, t, SIZE);
      }
    }
    expect(sentAt).toEqual([0, 300, 600]);
    expect(v.validationsFailed).toBe(1);
    expect(v.lastFailure).toBe('timeout');
    expect(v.candidateAddress).toBeNull();
    expect(v.deadline).toBe(Infinity);
  });

  it('gives the candidate up when the current path answers its challenge, or just sends a packet', () => {
    const { v } = validator();
    v.onForeignDatagram(0, '10.9.9.9', 7000, 1200, 900);
    const current = v.nextTransmit(SIZE)!;
    v.onSent(0, current, SIZE);
    expect(v.onResponse(current.data, PathKind.Current)).toBe('abandoned');
    expect(v.lastFailure).toBe('peer-on-current-path');
    v.onForeignDatagram(10, '10.9.9.9', 7000, 1200, 900);
    expect(v.onCurrentPathPacket()).toBe('abandoned');
    expect(v.validationsFailed).toBe(2);
    expect(v.changes).toBe(0);
  });

  it('holds a bounded number of the candidate\'s packets, hands them over after the move, forgets them otherwise', () => {
    const { v } = validator();
    v.onForeignDatagram(0, '10.9.9.9', 7000, 100, 900);
    let held = 0;
    for (let i = 0; i < MAX_HELD_PACKETS + 10; i++) if (v.hold(new Uint8Array(100).fill(i))) held++;
    expect(held).toBe(MAX_HELD_PACKETS);
    v.onCurrentPathPacket();
    expect(v.takeHeld()).toEqual([]);
    v.onForeignDatagram(0, '10.9.9.9', 7000, 100, 900);
    v.hold(new Uint8Array([1, 2, 3]));
    v.onSent(0, v.nextTransmit(SIZE)!, SIZE);
    const challenge = v.nextTransmit(SIZE)!;
    v.onSent(0, challenge, SIZE);
    v.onResponse(challenge.data, PathKind.Candidate);
    expect(v.takeHeld()).toEqual([new Uint8Array([1, 2, 3])]);
    expect(v.takeHeld()).toEqual([]);
  });

  it('echoes a PATH_CHALLENGE on the path it came by (never to an address it is not validating)', () => {
    const { v } = validator();
    v.onChallenge(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), PathKind.Current);
    v.onChallenge(new Uint8Array(8), PathKind.Other);
    expect(v.nextTransmit(SIZE)).toMatchObject({ frame: 'path-response', toCandidate: false, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
    expect(v.nextTransmit(SIZE)).toBeNull();
  });
});
