import type { ConnectionCore } from '../../src/core/connection.js';
import type { CoreConfig } from '../../src/core/types.js';
import { Rng } from '../../src/testing/rng.js';
import { makeCores } from './pair.js';

/**
 * A loopback bulk transfer between two processes that are each one CPU, in virtual time: the
 * case where the link is free and the bound is the receiver's CPU per datagram (bench/pipe.ts
 * measures the real one). Each side is an event loop as the Node shell runs it: it reads up to
 * `batch` datagrams that have arrived (libuv's 32 per poll), handling each for `recvUs` (the
 * sender: `ackUs` per ACK), asking `pollTransmit(now, true)` after each; then, at the batch's
 * end, sends what the engine has (each datagram costs `sendUs` of the sending side's CPU and
 * reaches the peer's socket `wireUs` later); timers fire once the side is free. A side is idle
 * only when nothing has arrived and no timer is due: the receiver's idle time is goodput the
 * protocol lost (the data was not there).
 *
 * `pauses` models what stops a real sender now and then (a scavenge, a compile, being
 * descheduled): every `everyMs` on average (seeded), the sender's loop stops for `ms`.
 */
export interface LoopbackModel {
  recvUs: number;
  ackUs: number;
  sendUs: number;
  wireUs: number;
  batch: number;
  pauses?: { everyMs: number; ms: number; seed: number };
  /** The same for the receiver (its scavenges: ~25 per 100 MB, 1-4 ms each on the benchmark machine). */
  receiverPauses?: { everyMs: number; ms: number; seed: number };
  /**
   * The JIT warm-up: every cost starts `factor` times higher and decays to the steady one with
   * time constant `ms` (a cold receiver reads ~50 MB/s in its first tens of milliseconds).
   */
  warmup?: { factor: number; ms: number };
}

/** Per-datagram costs measured on the benchmark machine once compiled (bench/pipe.ts, second half, µs). */
export const STEADY: LoopbackModel = { recvUs: 6, ackUs: 8, sendUs: 4, wireUs: 15, batch: 32 };
/** The same with the JIT's warm-up (a cold receiver reads ~50 MB/s at first). */
export const MEASURED: LoopbackModel = { ...STEADY, warmup: { factor: 5, ms: 40 } };

export interface LoopbackResult {
  ms: number;
  goodputMBps: number;
  receiverIdleMs: number;
  senderIdleMs: number;
  /** Receiver idle in the first 100 ms of the transfer. */
  receiverIdleFirst100Ms: number;
}

interface Proc {
  core: ConnectionCore;
  /** The datagrams on their way to this side, arrival times ascending. */
  inbox: { at: number; data: Uint8Array }[];
  head: number;
  /** The side's clock: when it is next free. */
  t: number;
  idle: number;
  idleFirst100: number;
}

const CHUNK = new Uint8Array(64 * 1024);

export function loopbackTransfer(bytes: number, model: LoopbackModel = MEASURED, config: Partial<CoreConfig> = {}, seed = 1): LoopbackResult {
  const [a, b] = makeCores(seed, {
    config: { maxDatagramSize: 1452, timerGranularity: 1, idleTimeout: 0, keepAliveInterval: 0, ...config },
  });
  const procs: [Proc, Proc] = [
    { core: a, inbox: [], head: 0, t: 0, idle: 0, idleFirst100: 0 },
    { core: b, inbox: [], head: 0, t: 0, idle: 0, idleFirst100: 0 },
  ];
  const warm = model.warmup;
  /** A cost of `c` µs at the side's time `t`, in ms. */
  const cost = (c: number, t: number): number => (warm ? c * (1 + (warm.factor - 1) * Math.exp(-t / warm.ms)) : c) * 1e-3;
  const rng = model.pauses ? new Rng(model.pauses.seed) : null;
  let nextPause = rng ? rng.next() * 2 * model.pauses!.everyMs : Infinity;
  const rrng = model.receiverPauses ? new Rng(model.receiverPauses.seed + 1000) : null;
  let nextReceiverPause = rrng ? rrng.next() * 2 * model.receiverPauses!.everyMs : Infinity;
  let queued = 0;
  let delivered = 0;
  // The application keeps 1 MB queued (it writes 64 KiB chunks until send() says stop).
  const topUp = (): void => {
    while (queued < bytes && a.bufferedAmount < 1_000_000) {
      const n = Math.min(CHUNK.length, bytes - queued);
      a.send(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      queued += n;
    }
  };
  const transmit = (from: 0 | 1, batch: boolean): void => {
    const p = procs[from];
    const peer = procs[from === 0 ? 1 : 0];
    for (let n = 0; n < 100_000; n++) {
      const d = p.core.pollTransmit(p.t, batch);
      if (d === null) break;
      p.t += cost(model.sendUs, p.t);
      peer.inbox.push({ at: p.t + model.wireUs * 1e-3, data: d.slice() });
    }
    for (let e = p.core.pollEvent(); e !== null; e = p.core.pollEvent()) {
      if (e.type === 'message') {
        delivered += e.data.length;
        p.core.release(e.credit, e.delivery, e.channel);
      }
    }
    if (from === 0) topUp();
  };
  topUp();
  transmit(0, false);
  for (let steps = 0; delivered < bytes; steps++) {
    if (steps > 50_000_000) throw new Error('loopback model: no progress');
    // The side that acts next: its first arrival or its timer, once it is free.
    let who: 0 | 1 = 0;
    let at = Infinity;
    for (const i of [0, 1] as const) {
      const p = procs[i];
      const arrival = p.head < p.inbox.length ? p.inbox[p.head]!.at : Infinity;
      const timer = p.core.pollTimeout() ?? Infinity;
      const next = Math.max(p.t, Math.min(arrival, timer));
      if (next < at) {
        at = next;
        who = i;
      }
    }
    if (at === Infinity) throw new Error('loopback model: nothing will happen');
    const p = procs[who];
    if (at > p.t) {
      p.idle += at - p.t;
      p.idleFirst100 += Math.max(0, Math.min(at, 100) - Math.min(p.t, 100));
      p.t = at;
    }
    if (who === 0 && p.t >= nextPause) {
      p.t += model.pauses!.ms;
      nextPause = p.t + rng!.next() * 2 * model.pauses!.everyMs;
    }
    if (who === 1 && p.t >= nextReceiverPause) {
      p.t += model.receiverPauses!.ms;
      nextReceiverPause = p.t + rrng!.next() * 2 * model.receiverPauses!.everyMs;
    }
    // One turn of the event loop: a batch of datagrams (those already there), then timers.
    let read = 0;
    while (read < model.batch && p.head < p.inbox.length && p.inbox[p.head]!.at <= p.t) {
      const d = p.inbox[p.head++]!.data;
      p.t += cost(who === 1 ? model.recvUs : model.ackUs, p.t);
      p.core.handleDatagram(p.t, d);
      transmit(who, true);
      read++;
    }
    if (p.head > 4096) {
      p.inbox.splice(0, p.head);
      p.head = 0;
    }
    transmit(who, false);
    const timer = p.core.pollTimeout();
    if (timer !== null && timer <= p.t) {
      p.core.handleTimeout(p.t);
      transmit(who, false);
    }
  }
  const ms = procs[1].t;
  return {
    ms,
    goodputMBps: bytes / 1000 / ms,
    receiverIdleMs: procs[1].idle,
    senderIdleMs: procs[0].idle,
    receiverIdleFirst100Ms: procs[1].idleFirst100,
  };
}
