import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { announcedWindow, resolveCoreConfig } from '../../src/core/config.js';
import { createCounters } from '../../src/core/counters.js';
import { Deque } from '../../src/core/deque.js';
import type { ReceiveBuffer } from '../../src/core/receive-buffer.js';
import { Receiver } from '../../src/core/receiver.js';
import type { CoreEvent } from '../../src/core/types.js';

/**
 * The Receiver's credit rule reads running totals over channels 1–255 (bytes held, buffers
 * holding more than an unfinished message, buffers holding an assembly chunk) and over the
 * partial DATA_PART fragments, kept as each changes, instead of walking every buffer on every
 * frame and release (a peer using 256 channels made that 255 buffers per frame). Here they must
 * equal the walk after every step of seeded traffic: out of order, duplicates, unfinished and
 * unordered messages, pieces, releases, on a few channels; and the credit announced must be
 * the one the rule gives from that walk (the totals are read where they should be).
 */
interface Inside {
  buffer: ReceiveBuffer;
  active: ReceiveBuffer[] | null;
  partsIn: ({ retained: number } | undefined)[] | null;
  othersRetained: number;
  othersNotAssembling: number;
  otherChunks: number;
  partsBytes: number;
  maxTsn: number;
  consumed: number;
}

describe('Receiver running totals', () => {
  it('equal the walk over the channels and the partials after every frame and release', () => {
    const config = resolveCoreConfig({ receiveWindow: 256 * 1024 });
    const slots = announcedWindow(config);
    const step = fc.record({
      channel: fc.constantFrom(0, 1, 2, 7, 200),
      ahead: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.integer({ min: 1, max: 6 }), weight: 1 }),
      first: fc.boolean(),
      last: fc.boolean(),
      unordered: fc.boolean(),
      size: fc.integer({ min: 1, max: 1100 }),
      piece: fc.nat(3),
      release: fc.boolean(),
    });
    let checked = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 50, maxLength: 200 }), (steps) => {
        const events = new Deque<CoreEvent>();
        const r = new Receiver(config, 1, slots, config.maxDatagramSize, config.maxMessageSize, events, createCounters());
        const x = r as unknown as Inside;
        const next = new Map<number, number>();
        // Per channel: inside a message (as sent in order), so that most frames keep framing.
        const inside = new Map<number, boolean>();
        // The credit the rule gives from the walk (what updateCredit computed before the totals):
        // maxTsn is never lowered, so after each frame or release it is the larger of the two.
        const slotCost = x.buffer.slotCost;
        let credit = x.maxTsn;
        const expectCredit = (): void => {
          const all = x.active ?? [x.buffer];
          const held = all.reduce((n, b) => n + b.retained, 0) + (x.partsIn ?? []).reduce((n, p) => n + (p?.retained ?? 0), 0);
          const limit = all.every((b) => b.onlyAssembling) ? config.receiveWindow + x.buffer.slack : config.receiveWindow;
          credit = Math.max(credit, x.consumed + Math.max(0, Math.min(slots, Math.floor((limit - held) / slotCost))));
          expect(x.maxTsn).toBe(credit);
        };
        for (const s of steps) {
          const base = next.get(s.channel) ?? 1;
          const tsn = base + s.ahead;
          if (s.ahead === 0) {
            s.first = inside.get(s.channel) !== true;
            inside.set(s.channel, !s.last);
          } else if (inside.get(s.channel) !== true) {
            s.first = true;
            s.last = true;
          }
          let result: string;
          if (s.piece === 1) {
            result = r.onDataPart({ type: 'data-part', channel: s.channel === 0 ? undefined : s.channel, tsn, first: s.first, last: s.last, unordered: s.unordered, length: s.size, offset: 0, payload: new Uint8Array(Math.ceil(s.size / 2)) });
          } else {
            result = r.onData({ type: 'data', channel: s.channel === 0 ? undefined : s.channel, tsn, first: s.first, last: s.last, unordered: s.unordered, payload: new Uint8Array(s.size) });
          }
          if (s.ahead === 0 && (result === 'new' || result === 'duplicate')) next.set(s.channel, base + 1);
          if (result === 'malformed' || result === 'beyond-window') return;
          checked++;
          expectCredit();
          if (s.release) {
            for (let e = events.shift(); e !== undefined; e = events.shift()) {
              if (e.type !== 'message') continue;
              r.release(e.credit, e.delivery, e.channel);
              expectCredit();
            }
          }
          const others = (x.active ?? [x.buffer]).slice(1);
          expect(x.othersRetained).toBe(others.reduce((n, b) => n + b.retained, 0));
          expect(x.othersNotAssembling).toBe(others.filter((b) => !b.onlyAssembling).length);
          expect(x.otherChunks).toBe(others.filter((b) => b.holdsChunk).length);
          expect(x.partsBytes).toBe((x.partsIn ?? []).reduce((n, p) => n + (p?.retained ?? 0), 0));
        }
      }),
      { numRuns: 200, seed: 2712 },
    );
    // Most steps were checked (not cut short by a framing error the random flags made).
    expect(checked).toBeGreaterThan(200 * 40);
  });
});
