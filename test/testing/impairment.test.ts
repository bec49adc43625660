import { describe, expect, it } from 'vitest';
import { LinkModel, Rng, validateImpairment } from '../../src/testing/index.js';
import type { Impairment, LinkDelivery } from '../../src/testing/index.js';

const packet = (i: number, size = 100): Uint8Array => {
  const p = new Uint8Array(size);
  new DataView(p.buffer).setUint32(0, i);
  return p;
};
const idOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset).getUint32(0);

/** Offer `n` packets, one every `gap` ms, and collect what comes out. */
function drive(imp: Impairment, n: number, gap = 1, seed = 1, size = 100) {
  const link = new LinkModel(imp, new Rng(seed));
  const out: Array<LinkDelivery & { sentAt: number; id: number }> = [];
  for (let i = 0; i < n; i++) {
    const now = i * gap;
    for (const d of link.admit(now, packet(i, size))) out.push({ ...d, sentAt: now, id: i });
  }
  return { link, out };
}

describe('LinkModel', () => {
  it('a perfect link delivers everything at once, untouched, in the sender\'s own buffer', () => {
    const link = new LinkModel({}, 1);
    const p = packet(5);
    const out = link.admit(12, p);
    expect(out).toEqual([{ at: 12, data: p }]);
    expect(out[0]!.data).toBe(p);
    expect(link.counters).toMatchObject({ sent: 1, delivered: 1, dropped: 0, sentBytes: 100, deliveredBytes: 100 });
  });

  it('loses close to `loss` of 10 000 datagrams', () => {
    const { link, out } = drive({ loss: 0.1 }, 10_000);
    // Binomial(10 000, 0.1): mean 1000, sd 30; ±150 is 5 sd.
    expect(link.counters.droppedLoss).toBeGreaterThan(850);
    expect(link.counters.droppedLoss).toBeLessThan(1150);
    expect(link.counters.dropped).toBe(link.counters.droppedLoss);
    expect(out.length + link.counters.dropped).toBe(10_000);
  });

  it('is deterministic: the same seed drops the same datagrams, another seed others', () => {
    const ids = (seed: number) => drive({ loss: 0.2, jitter: 3, duplicate: 0.05 }, 2000, 1, seed).out.map((d) => `${d.id}@${d.at}`);
    expect(ids(5)).toEqual(ids(5));
    expect(ids(5)).not.toEqual(ids(6));
  });

  it('Gilbert-Elliott loss comes in bursts of the expected mean length', () => {
    // Stationary bad-state share = enter / (enter + exit) = 0.02 / 0.27 ≈ 7.4 %; mean burst 1/exit = 4.
    const { link, out } = drive({ burst: { enter: 0.02, exit: 0.25 } }, 100_000);
    const lost = new Array<boolean>(100_000).fill(true);
    for (const d of out) lost[d.id] = false;
    let bursts = 0;
    for (let i = 0; i < lost.length; i++) if (lost[i] && (i === 0 || !lost[i - 1])) bursts++;
    const rate = link.counters.droppedLoss / 100_000;
    const meanBurst = link.counters.droppedLoss / bursts;
    expect(rate).toBeGreaterThan(0.06);
    expect(rate).toBeLessThan(0.09);
    expect(meanBurst).toBeGreaterThan(3.4);
    expect(meanBurst).toBeLessThan(4.6);
  });

  it('delay and jitter stay within bounds and jitter really varies', () => {
    const { out } = drive({ delay: 50, jitter: 10 }, 5000);
    const delays = out.map((d) => d.at - d.sentAt);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(40);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    // Uniform ±10: sd of the mean ≈ 5.8 / sqrt(5000) ≈ 0.08.
    expect(Math.abs(mean - 50)).toBeLessThan(0.5);
    expect(new Set(delays.map(Math.round)).size).toBeGreaterThan(15);
  });

  it('jitter alone reorders; preserveOrder keeps FIFO with the same jitter', () => {
    const inversions = (imp: Impairment) => {
      const { out } = drive(imp, 3000, 0.5);
      const sorted = [...out].sort((a, b) => a.at - b.at || 0);
      let inv = 0;
      for (let i = 1; i < sorted.length; i++) if (sorted[i]!.id < sorted[i - 1]!.id) inv++;
      return { inv, out };
    };
    expect(inversions({ delay: 20, jitter: 10 }).inv).toBeGreaterThan(100);
    const kept = inversions({ delay: 20, jitter: 10, preserveOrder: true });
    expect(kept.inv).toBe(0);
    for (let i = 1; i < kept.out.length; i++) expect(kept.out[i]!.at).toBeGreaterThanOrEqual(kept.out[i - 1]!.at);
    for (const d of kept.out) expect(d.at - d.sentAt).toBeGreaterThanOrEqual(10);
  });

  it('reorder holds some datagrams back so later ones pass them', () => {
    const { link, out } = drive({ delay: 5, reorder: 0.1, reorderDelay: 20, preserveOrder: true }, 2000);
    expect(link.counters.reordered).toBeGreaterThan(130);
    expect(link.counters.reordered).toBeLessThan(270);
    const held = out.filter((d) => d.at - d.sentAt === 25);
    expect(held).toHaveLength(link.counters.reordered);
    const byArrival = [...out].sort((a, b) => a.at - b.at || a.id - b.id);
    let overtaken = 0;
    for (let i = 1; i < byArrival.length; i++) if (byArrival[i]!.id < byArrival[i - 1]!.id) overtaken++;
    expect(overtaken).toBeGreaterThan(100);
  });

  it('duplicates arrive twice and are counted', () => {
    const { link, out } = drive({ duplicate: 0.1 }, 5000);
    expect(link.counters.duplicated).toBeGreaterThan(400);
    expect(link.counters.duplicated).toBeLessThan(600);
    expect(out).toHaveLength(5000 + link.counters.duplicated);
    expect(link.counters.delivered).toBe(out.length);
  });

  it('a duplicate is a copy in a buffer of its own (a receiver may open one in place)', () => {
    const { out } = drive({ duplicate: 1 }, 3);
    expect(out).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) {
      expect(out[i + 1]!.data).toEqual(out[i]!.data);
      out[i]!.data.fill(0xee);
      expect(idOf(out[i + 1]!.data)).toBe(i / 2);
    }
  });

  it('corruption flips 1–3 bits of a copy and never touches the sender\'s bytes', () => {
    const link = new LinkModel({ corrupt: 0.5 }, new Rng(3));
    const flips = new Set<number>();
    let corrupted = 0;
    for (let i = 0; i < 500; i++) {
      const original = packet(i, 64);
      const before = Uint8Array.from(original);
      const [d] = link.admit(i, original);
      expect(original).toEqual(before);
      if (d!.data !== original) {
        corrupted++;
        let bits = 0;
        for (let j = 0; j < 64; j++) {
          let x = d!.data[j]! ^ original[j]!;
          while (x) {
            bits += x & 1;
            x >>= 1;
          }
        }
        flips.add(bits);
      } else {
        expect(d!.data).toEqual(before);
      }
    }
    expect(corrupted).toBe(link.counters.corrupted);
    expect(corrupted).toBeGreaterThan(200);
    expect([...flips].sort()).toEqual([1, 2, 3]);
  });

  it('a rate limit serialises datagrams: never more than rate × time delivered', () => {
    const rate = 100_000; // bytes/s → a 1000-byte datagram takes 10 ms
    const { out } = drive({ rate }, 500, 0, 1, 1000);
    expect(out).toHaveLength(500);
    out.forEach((d, i) => expect(d.at).toBeCloseTo((i + 1) * 10, 6));
    for (const d of out) {
      const deliveredBy = out.filter((e) => e.at <= d.at).length * 1000;
      expect(deliveredBy).toBeLessThanOrEqual((rate * d.at) / 1000 + 1e-6);
    }
  });

  it('a full queue drops and counts the overflow', () => {
    const link = new LinkModel({ rate: 10_000, queue: 5000 }, 1);
    let delivered = 0;
    for (let i = 0; i < 20; i++) delivered += link.admit(0, packet(i, 1000)).length;
    expect(delivered).toBe(5);
    expect(link.counters.droppedQueue).toBe(15);
    expect(link.counters.queuePeakBytes).toBe(5000);
    expect(link.queuedBytes(0)).toBe(5000);
    // 300 ms later 3000 bytes have drained: room for three more.
    for (let i = 0; i < 5; i++) delivered += link.admit(300, packet(i, 1000)).length;
    expect(delivered).toBe(8);
    expect(link.counters.droppedQueue).toBe(17);
  });

  it('a periodic blackhole drops exactly the down periods', () => {
    const { link, out } = drive({ blackhole: { up: 100, down: 50 } }, 300);
    expect(link.counters.droppedBlackhole).toBe(100);
    for (const d of out) expect(d.sentAt % 150).toBeLessThan(100);
  });

  it('blackhole windows are measured from the start time', () => {
    const link = new LinkModel({ blackhole: { windows: [[1000, 2000]] } }, 1, 500);
    expect(link.admit(1400, packet(1))).toHaveLength(1);
    expect(link.admit(1500, packet(2))).toHaveLength(0);
    expect(link.admit(2499, packet(3))).toHaveLength(0);
    expect(link.admit(2500, packet(4))).toHaveLength(1);
    expect(link.counters.droppedBlackhole).toBe(2);
  });

  it('configure() changes the impairment and keeps the counters', () => {
    const link = new LinkModel({ loss: 1 }, 1);
    link.admit(0, packet(0));
    link.configure({});
    expect(link.admit(1, packet(1))).toHaveLength(1);
    expect(link.counters).toMatchObject({ sent: 2, droppedLoss: 1, delivered: 1 });
  });

  it('rejects bad impairments with coded errors', () => {
    expect(() => validateImpairment({ loss: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => validateImpairment({ delay: -1 })).toThrow(RangeError);
    expect(() => validateImpairment({ rate: 0 })).toThrow(RangeError);
    expect(() => validateImpairment({ loss: '0.1' as unknown as number })).toThrow(TypeError);
    expect(() => validateImpairment({ burst: { enter: 0.1 } as never })).toThrow(RangeError);
    expect(() => validateImpairment({ blackhole: { up: 0, down: 0 } })).toThrow(RangeError);
    expect(() => new LinkModel({ jitter: Number.NaN }, 1)).toThrow(RangeError);
  });
});
