// The dormant form of a quiet connection's stages (src/core/dormant.ts, issue 11 part 4): once a
// connection has been quiet for COMPACT_AFTER_MS it keeps only what its stages hold that a fresh
// build does not, and builds them again on its next input. These tests run the same scripted
// traffic twice in virtual time, once with the dormant form and once without it
// (setDormantStages(false): the connection only gives back its idle storage, as before), and
// require the same datagrams, byte for byte and at the same instants, the same events, the same
// stats(), and — after waking — the same stage objects, field by field.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Pair, type PairOptions } from '../helpers/pair.js';
import { ownObjects } from '../helpers/footprint.js';
import { COMPACT_AFTER_MS } from '../../src/core/state.js';
import { ConnectionCore } from '../../src/core/connection.js';
import { setDormantStages } from '../../src/core/dormant-stages.js';
import { wake } from '../../src/core/dormancy.js';
import { standInsChanged } from '../../src/core/stages.js';
import { LossRecovery } from '../../src/core/loss-recovery.js';
import { SendScheduler } from '../../src/core/send-scheduler.js';
import { Receiver } from '../../src/core/receiver.js';
import { Bbr } from '../../src/core/congestion/bbr.js';
import { PathMtu } from '../../src/core/path-mtu.js';
import { AckScheduler } from '../../src/core/ack-scheduler.js';
import type { CongestionController, CoreEvent } from '../../src/core/types.js';
import { TraceRecorder } from '../../src/testing/trace-recorder.js';

afterEach(() => setDormantStages(true));

/** Fields of the engine itself that only the dormant form uses (not compared). */
const DORMANT_FIELDS = new Set(['dormant', 'sleep']);
/**
 * Shared by every connection, not the connection's state (the datagram slab's bytes, the config
 * object, the scratch list of the packet being built); connection IDs differ per pair.
 */
const SKIP = new Set(['slab', 'config', 'packetFragments']);

function isDormant(core: ConnectionCore): boolean {
  return (core as unknown as { dormant: unknown }).dormant !== null;
}

/**
 * Every value reachable from the engine's own fields (the stages, their numbers, strings, the
 * arrays and records they hold), one line per field, objects numbered in the order first met:
 * two engines with equal graphs give equal lists. Reads fields only: does not wake the engine.
 */
function graph(core: ConnectionCore): string[] {
  const out: string[] = [];
  const ids = new Map<object, number>();
  const visit = (v: unknown, path: string): void => {
    if ((typeof v !== 'object' && typeof v !== 'function') || v === null) {
      const text = typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : typeof v === 'bigint' ? `${v}n` : String(JSON.stringify(v) ?? v);
      out.push(`${path} = ${text}`);
      return;
    }
    if (v === core) {
      out.push(`${path} = <engine>`);
      return;
    }
    const seen = ids.get(v);
    if (seen !== undefined) {
      out.push(`${path} = #${seen}`);
      return;
    }
    ids.set(v, ids.size);
    if (typeof v === 'function') {
      out.push(`${path} = function ${v.name}`);
      return;
    }
    if (ArrayBuffer.isView(v)) {
      out.push(`${path} = bytes ${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`);
      return;
    }
    if (v instanceof Map || v instanceof Set) {
      out.push(`${path} = ${v.constructor.name} of ${v.size}`);
      return;
    }
    out.push(`${path} = ${(v as object).constructor?.name ?? 'Object'} #${ids.get(v)}`);
    const record = v as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(v)) {
      if (SKIP.has(key) || /cid/i.test(key)) continue;
      // A sent packet's record comes from a pool all connections share: past its fragmentCount its list holds leftovers.
      if (key === 'fragments' && typeof record.fragmentCount === 'number') {
        visit((record.fragments as unknown[]).slice(0, record.fragmentCount), `${path}.fragments`);
        continue;
      }
      visit(record[key], `${path}.${key}`);
    }
  };
  for (const key of Object.getOwnPropertyNames(core)) {
    if (DORMANT_FIELDS.has(key) || SKIP.has(key) || /cid/i.test(key)) continue;
    visit((core as unknown as Record<string, unknown>)[key], key);
  }
  return out;
}

interface Transcript {
  datagrams: string[];
  events: string[];
  stats: unknown[];
  graphs: string[][];
  /** Times an engine went dormant. */
  dormantSeen: number;
  /** The same per side (a, b). */
  dormantSides: [number, number];
}

function describeEvent(e: CoreEvent): string {
  return JSON.stringify(e, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

/**
 * Runs `script` on a fresh pair, recording every datagram either side sends (time, side, bytes)
 * and every event. `checkpoint()` in the script records both engines' graphs (after waking them),
 * `look()` what reads return (without waking them).
 */
type Script = (pair: Pair, checkpoint: () => void, look: () => void) => void;

function transcript(dormant: boolean, options: PairOptions, script: Script): Transcript {
  setDormantStages(dormant);
  const t: Transcript = { datagrams: [], events: [], stats: [], graphs: [], dormantSeen: 0, dormantSides: [0, 0] };
  const was = [false, false];
  const pair = new Pair({
    ...options,
    check: (p) => {
      // A step that touched a dormant engine (or woke one) wrote nothing into the shared stand-ins.
      if (was[0] || was[1] || isDormant(p.a) || isDormant(p.b)) expect(standInsChanged()).toBeNull();
      for (const [i, core] of [p.a, p.b].entries()) {
        if (isDormant(core) && !was[i]) {
          t.dormantSeen++;
          t.dormantSides[i as 0 | 1]++;
        }
        was[i] = isDormant(core);
      }
    },
  });
  for (const i of [0, 1] as const) {
    const link = pair.links[i];
    const admit = link.admit.bind(link);
    link.admit = (now, d) => {
      // Past the connection ID (each pair gets its own: test/helpers/pair.ts) and before the CRC, which covers it.
      t.datagrams.push(`${now} ${i} ${d.length} ${d[1]} ${createHash('sha1').update(d.subarray(10, d.length - 4)).digest('hex').slice(0, 12)}`);
      return admit(now, d);
    };
  }
  const checkpoint = (): void => {
    for (const core of [pair.a, pair.b]) {
      if (isDormant(core)) wake(core);
      t.graphs.push(graph(core));
      t.stats.push(core.stats(pair.now));
    }
  };
  // Reads while dormant (stats, inspect, getters) see the stages as they were, and leave the engine dormant.
  const look = (): void => {
    for (const core of [pair.a, pair.b]) {
      const dormant = isDormant(core);
      t.stats.push([core.stats(pair.now), core.inspect(), core.remoteAddress, core.pathMtu, core.bufferedAmount, core.retainedBytes, core.ackedThrough, core.pollTimeout()]);
      expect(isDormant(core)).toBe(dormant);
    }
  };
  script(pair, checkpoint, look);
  checkpoint();
  for (const s of pair.sides) t.events.push(...s.events.map(describeEvent));
  return t;
}

function same(options: PairOptions, script: Script): Transcript {
  const asleep = transcript(true, options, script);
  const awake = transcript(false, options, script);
  expect(awake.dormantSeen).toBe(0);
  expect(asleep.graphs.length).toBe(awake.graphs.length);
  for (let i = 0; i < asleep.graphs.length; i++) {
    // The first line that differs (a whole graph is thousands of lines).
    const a = asleep.graphs[i]!;
    const b = awake.graphs[i]!;
    const k = a.findIndex((line, j) => line !== b[j]);
    expect(k < 0 ? null : `${i}: ${a[k]}`).toBe(k < 0 ? null : `${i}: ${b[k]}`);
    expect(a.length).toBe(b.length);
  }
  expect(asleep.datagrams.length).toBeGreaterThan(0);
  expect(asleep.datagrams).toEqual(awake.datagrams);
  expect(asleep.events).toEqual(awake.events);
  expect(asleep.stats).toEqual(awake.stats);
  return asleep;
}

const quiet = (pair: Pair, ms = COMPACT_AFTER_MS + 400): void => pair.runTo(pair.now + ms);

describe('a dormant connection behaves as one that never slept', () => {
  it('messages both ways with quiet periods between them: same datagrams, events, stats and stage objects', () => {
    const t = same({ seed: 11, link: { delay: 5 } }, (pair, checkpoint, look) => {
      pair.a.send(Buffer.from('hello'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      pair.b.send(Buffer.from('hello back'), 'ordered');
      pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
      quiet(pair);
      look();
      checkpoint();
      quiet(pair);
      for (let i = 0; i < 10; i++) {
        pair.a.send(new Uint8Array(2000 + i).fill(i), i % 2 === 0 ? 'ordered' : 'unordered');
        pair.b.send(new Uint8Array(300).fill(i), i % 3 === 0 ? 'unreliable' : 'ordered');
      }
      pair.runUntil(() => pair.sides[1].received.length === 11 && pair.sides[0].received.length === 11, 10_000);
      quiet(pair);
      pair.b.send(new Uint8Array(100_000).fill(5), 'ordered');
      pair.runUntil(() => pair.sides[0].received.length === 12, 20_000);
      quiet(pair, 2000);
      look();
    });
    // It did sleep (both sides, in each quiet period), and was compared after each wake.
    expect(t.dormantSeen).toBeGreaterThanOrEqual(6);
    expect(t.graphs.length).toBe(4);
  });

  it('a flow that starts after a long quiet start (as the second flow of a fairness run) and a lossy link', () => {
    same({ seed: 12, link: { delay: 20, loss: 0.03 } }, (pair) => {
      quiet(pair, 1000);
      for (let i = 0; i < 40; i++) pair.a.send(new Uint8Array(5000).fill(i), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 40, 60_000);
      quiet(pair, 3000);
      pair.a.send(Buffer.from('again'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 41, 10_000);
      // Compared once nothing is in flight (a sent packet's record comes from a pool all connections share).
      quiet(pair);
    });
  });

  for (const congestion of ['newreno', 'ledbat', 'none'] as const) {
    it(`with ${congestion} congestion control (its own controller's fields) and a path MTU above the base`, () => {
      const t = same({ seed: 14, link: { delay: 8, loss: 0.01 }, config: { congestion, maxDatagramSize: 1400 } }, (pair, checkpoint, look) => {
        for (let i = 0; i < 20; i++) pair.a.send(new Uint8Array(3000).fill(i), 'ordered');
        pair.runUntil(() => pair.sides[1].received.length === 20, 60_000);
        quiet(pair);
        look();
        checkpoint();
        pair.b.send(Buffer.from('back'), 'ordered');
        pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
        quiet(pair);
      });
      expect(t.dormantSeen).toBeGreaterThanOrEqual(3);
    });
  }

  it('a sender held by flow control (its reader does not read) stays awake without spinning, and sleeps once the data is through', () => {
    const t = same({ seed: 16, link: { delay: 5 }, config: { receiveWindow: 32 * 1024 } }, (pair, _checkpoint, look) => {
      pair.sides[1].autoRelease = false;
      for (let i = 0; i < 100; i++) pair.a.send(new Uint8Array(1000).fill(i), 'ordered');
      // Stuck-time detection (runUntil): a deadline that is due again at once would stop the clock.
      const until = pair.now + 3000;
      pair.runUntil(() => pair.now >= until, 10_000);
      expect(pair.sides[1].received.length).toBeLessThan(100);
      look();
      for (const e of pair.sides[1].events) if (e.type === 'message') pair.b.release(e.credit, e.delivery, e.channel, pair.now);
      pair.sides[1].autoRelease = true;
      pair.runUntil(() => pair.sides[1].received.length === 100, 60_000);
      quiet(pair);
    });
    expect(t.dormantSeen).toBeGreaterThanOrEqual(1);
  });

  it('keep-alive pings wake it and it sleeps again between them; the idle timeout closes it at the same instant', () => {
    const t = same({ seed: 13, link: { delay: 5 }, config: { keepAliveInterval: 400, idleTimeout: 5000 } }, (pair, _checkpoint, look) => {
      pair.a.send(Buffer.from('x'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      for (let i = 0; i < 10; i++) {
        quiet(pair, 290);
        look();
      }
      // b stops answering: a's idle timeout ends it.
      pair.links[1].admit = () => [];
      pair.runUntil(() => pair.sides[0].closed, 20_000);
    });
    expect(t.events.some((e) => e.includes('ERR_IDLE_TIMEOUT'))).toBe(true);
  });
});

describe('a connection sleeps again once what kept it awake is over (kept by reference, dormant.ts)', () => {
  it('a redundancy table (the channel asked for copies, then stopped): same datagrams, events, stats and stage objects', () => {
    const t = same({ seed: 31, link: { delay: 5, loss: 0.05 } }, (pair, checkpoint, look) => {
      pair.a.setChannel(0, { redundancy: 1 });
      for (let i = 0; i < 10; i++) pair.a.send(new Uint8Array(200).fill(i), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 10, 20_000);
      quiet(pair);
      look();
      checkpoint();
      pair.a.setChannel(0, { redundancy: 0 });
      pair.a.send(Buffer.from('after'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 11, 20_000);
      quiet(pair);
      look();
      pair.b.send(Buffer.from('back'), 'ordered');
      pair.runUntil(() => pair.sides[0].received.length === 1, 20_000);
      quiet(pair);
    });
    // a slept after each quiet period: with copies asked for, and after they stopped.
    expect(t.dormantSides[0]).toBeGreaterThanOrEqual(3);
    expect(t.events.some((e) => e.includes('"channel":0'))).toBe(true);
  });

  it('another channel, with its own priority, on both sides (the receiver\'s buffer of that channel points back at its Receiver: patched on wake)', () => {
    const t = same({ seed: 32, link: { delay: 5, loss: 0.02 } }, (pair, checkpoint, look) => {
      pair.a.setChannel(2, { priority: 1, weight: 3 });
      for (let i = 0; i < 6; i++) pair.a.send(new Uint8Array(3000).fill(i), { channel: i % 2 === 0 ? 2 : 0 });
      pair.runUntil(() => pair.sides[1].received.length === 6, 20_000);
      quiet(pair);
      look();
      checkpoint();
      for (let i = 0; i < 4; i++) pair.a.send(new Uint8Array(500).fill(i), { channel: 2, delivery: i % 2 === 0 ? 'ordered' : 'unordered' });
      pair.b.send(Buffer.from('back on 2'), { channel: 2 });
      pair.runUntil(() => pair.sides[1].received.length === 10 && pair.sides[0].received.length === 1, 20_000);
      quiet(pair);
      look();
    });
    expect(t.dormantSides[0]).toBeGreaterThanOrEqual(2);
    expect(t.dormantSides[1]).toBeGreaterThanOrEqual(2);
  });

  it('a path validator (the peer moved: a NAT rebinding, validated), then quiet, then traffic on the new path', () => {
    const t = same({ seed: 33, link: { delay: 5 }, addresses: true }, (pair, checkpoint, look) => {
      pair.a.send(Buffer.from('hello'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      pair.sides[0].address = '10.0.0.9';
      pair.a.send(Buffer.from('from elsewhere'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 2 && pair.b.remoteAddress === '10.0.0.9', 10_000);
      quiet(pair);
      look();
      checkpoint();
      pair.b.send(Buffer.from('to the new address'), 'ordered');
      pair.runUntil(() => pair.sides[0].received.length === 1, 10_000);
      quiet(pair);
      look();
      expect(pair.b.remoteAddress).toBe('10.0.0.9');
      expect(pair.b.stats(pair.now).pathChanges).toBe(1);
    });
    expect(t.dormantSides[1]).toBeGreaterThanOrEqual(2);
  });
});

describe('a traced connection', () => {
  it('writes the same qlog events whether it slept or not (a rebuild traces nothing)', () => {
    const script: Script = (pair, _checkpoint, look) => {
      pair.a.send(Buffer.from('hello'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      quiet(pair);
      look();
      for (let i = 0; i < 5; i++) pair.b.send(new Uint8Array(4000).fill(i), 'ordered');
      pair.runUntil(() => pair.sides[0].received.length === 5, 10_000);
      quiet(pair);
    };
    const traces: string[][] = [];
    let slept = 0;
    for (const dormant of [true, false]) {
      const recorder = new TraceRecorder();
      const t = transcript(dormant, { seed: 15, link: { delay: 5 }, trace: recorder }, script);
      if (dormant) slept = t.dormantSeen;
      // Connection IDs differ per pair: left out.
      traces.push(recorder.traces.map((r) => JSON.stringify(r.events, (k, v: unknown) => (/cid/i.test(k) ? undefined : typeof v === 'bigint' ? String(v) : v))));
    }
    expect(slept).toBeGreaterThanOrEqual(2);
    expect(traces[0]!.join('').length).toBeGreaterThan(1000);
    expect(traces[0]).toEqual(traces[1]);
  });
});

describe('what a dormant connection keeps', () => {
  it('no stage object of its own: the stage fields point at stand-ins every dormant connection shares', () => {
    const one = new Pair({ seed: 21, link: { delay: 5 } });
    const two = new Pair({ seed: 22, link: { delay: 5 } });
    for (const pair of [one, two]) {
      pair.a.send(Buffer.from('hello'), 'ordered');
      pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
      quiet(pair);
    }
    const own = (mine: ConnectionCore, other: ConnectionCore): string[] =>
      [...ownObjects(mine, other, (k) => k === 'config')].filter(([o]) => [LossRecovery, SendScheduler, Receiver, Bbr, PathMtu, AckScheduler].some((c) => o instanceof c)).map(([, path]) => path);
    for (const side of ['a', 'b'] as const) {
      expect(isDormant(one[side])).toBe(true);
      expect(own(one[side], two[side])).toEqual([]);
    }
    // Awake again (any input): its own stages.
    one.a.send(Buffer.from('again'), 'ordered');
    expect(isDormant(one.a)).toBe(false);
    expect(own(one.a, two.a).length).toBe(6);
    one.runUntil(() => one.sides[1].received.length === 2, 10_000);
  });

  it('pollTimeout and pollTransmit while dormant do not wake it; a connection whose stages cannot be rebuilt stays awake, and is tried again after new activity', () => {
    const pair = new Pair({ seed: 23, link: { delay: 5 } });
    // A field a fresh build does not have (different property lists): the walk cannot reproduce it.
    const scheduler = (pair.b as unknown as { sender: { scheduler: Record<string, unknown> } }).sender.scheduler;
    scheduler['extra'] = 1;
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    quiet(pair);
    expect(isDormant(pair.a)).toBe(true);
    expect(pair.a.pollTransmit(pair.now)).toBeNull();
    expect(pair.a.pollTimeout()).toBe(pair.a.pollTimeout());
    expect(isDormant(pair.a)).toBe(true);
    expect(isDormant(pair.b)).toBe(false);
    // It still gave back its idle storage, and is not tried again while nothing happens.
    expect(pair.b.inspect().idleStorage).toEqual({ queues: 0, slots: 0 });
    expect(pair.b.pollTimeout()).toBeGreaterThan(pair.now + 1000);
    // What held it is gone; after new activity and a quiet period it sleeps.
    delete scheduler['extra'];
    pair.a.send(Buffer.from('again'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 2, 10_000);
    quiet(pair);
    expect(isDormant(pair.b)).toBe(true);
  });

  it('a refused connection the application leaves alone is tried again at its keep-alive (its one timer but the idle timeout, which ends it): no timer of its own, no wait for the application', () => {
    const pair = new Pair({ seed: 29, link: { delay: 5 }, config: { keepAliveInterval: 2000, idleTimeout: 30_000 } });
    const scheduler = (pair.b as unknown as { sender: { scheduler: Record<string, unknown> } }).sender.scheduler;
    scheduler['extra'] = 1;
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    quiet(pair);
    expect(isDormant(pair.a)).toBe(true);
    expect(isDormant(pair.b)).toBe(false);
    // Refused: no deadline of its own before the keep-alive's.
    const keepAliveDue = pair.b.pollTimeout()!;
    expect(keepAliveDue).toBeGreaterThan(pair.now + 1000);
    // What held it goes away with no input at all; the keep-alive exchange is the activity after
    // which it is tried again, and it sleeps (no message from the application meanwhile).
    delete scheduler['extra'];
    const from = pair.now;
    pair.runUntil(() => isDormant(pair.b), 20_000);
    expect(isDormant(pair.b)).toBe(true);
    // At the first keep-alive (either side's: its PING and the ACK are activity for both), not at
    // the application's next message.
    expect(pair.now).toBeLessThanOrEqual(Math.max(keepAliveDue, from) + COMPACT_AFTER_MS + 100);
    expect(pair.sides[1].received.length).toBe(1);
    expect(pair.b.state).toBe('open');
  });

  it('a missing wake is loud: a write into a dormant connection\'s stages changes the shared stand-ins, and standInsChanged names the field', () => {
    const pair = new Pair({ seed: 26, link: { delay: 5 } });
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    quiet(pair);
    expect(isDormant(pair.a)).toBe(true);
    expect(standInsChanged()).toBeNull();
    // What an input path without `wake()` would do: use the stage fields as they are.
    const recovery = (pair.a as unknown as { recovery: { bytesInFlight: number } }).recovery;
    recovery.bytesInFlight += 1200;
    expect(standInsChanged()).toMatch(/^4\.bytesInFlight = 1200 /);
    // Every dormant connection now sees it: the stand-ins are one set for all.
    expect((pair.b as unknown as { recovery: unknown }).recovery).toBe(recovery);
    recovery.bytesInFlight -= 1200;
    expect(standInsChanged()).toBeNull();
  });

  it('a setting changed while dormant (setChannel) reaches the woken stages, not the shared stand-ins', () => {
    const pair = new Pair({ seed: 25, link: { delay: 5 } });
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    quiet(pair);
    expect(isDormant(pair.a)).toBe(true);
    pair.a.setChannel(0, { redundancy: 1 });
    pair.a.send(Buffer.from('small'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 2, 10_000);
    expect(pair.a.stats(pair.now).bytesRedundant).toBeGreaterThan(0);
  });

  it("the application's own congestion controller is never rebuilt: the connection stays awake (a rebuild would call the factory again, and the walk cannot see # fields)", () => {
    class Counting {
      #acks = 0;
      window = 64 * 1200;
      pacingRate = Infinity;
      get acks(): number {
        return this.#acks;
      }
      onPacketSent(): void {}
      onAck(): void {
        this.#acks++;
      }
      onCongestionEvent(): void {}
    }
    const made: Counting[] = [];
    const congestion = (): CongestionController => {
      const c = new Counting();
      made.push(c);
      return c as unknown as CongestionController;
    };
    const pair = new Pair({ seed: 24, link: { delay: 5 }, config: { congestion } });
    pair.a.send(Buffer.from('hello'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 1, 10_000);
    quiet(pair);
    pair.a.stats(pair.now);
    expect(isDormant(pair.a)).toBe(false);
    pair.a.send(Buffer.from('again'), 'ordered');
    pair.runUntil(() => pair.sides[1].received.length === 2, 10_000);
    // One controller per side, ever: the one the connection started with, still counting.
    expect(made.length).toBe(2);
    expect((pair.a as unknown as { recovery: { cc: unknown } }).recovery.cc).toBe(made[0]);
    expect(made[0]!.acks).toBeGreaterThan(0);
  });
});
