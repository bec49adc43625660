/**
 * A cheap timeline of one reliable-dgram connection in a benchmark child, for diagnosis
 * (issue 11, impaired goodput): with BENCH_RD_SAMPLE=<path prefix> set, every 2 ms (or as late as
 * the event loop gets to it) the sender records its congestion controller's state, window and
 * pacing rate, what is in flight and what it has sent, and the receiver what it has received;
 * written as JSON to `<prefix>.<role>.<pid>.json` when the role ends. Reads the core's fields
 * directly rather than stats() or a trace: a qlog of every packet costs the starved processes
 * enough to halve their goodput, which is the thing being looked at. Off (no timer) unless the
 * variable is set.
 */
import { writeFileSync } from 'node:fs';
import { wallNow } from './measure.js';

const PREFIX = process.env.BENCH_RD_SAMPLE;
const INTERVAL_MS = 2;

interface CoreView {
  recovery: { bytesInFlight: number; cc: { state?: string; window: number; pacingRate: number } };
  stats(): { bytesSent: number; bytesReceived: number; packetsLost: number };
}

export class CcSampler {
  private readonly rows: (string | number)[][] = [];
  private readonly events: (string | number)[][] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  /** Starts sampling `conn` (a node Connection) if BENCH_RD_SAMPLE is set; otherwise does nothing. */
  static start(conn: unknown, role: 'sender' | 'receiver'): CcSampler | null {
    if (PREFIX === undefined || PREFIX === '') return null;
    const core = (conn as { record?: { core?: CoreView } }).record?.core;
    if (core === undefined) return null;
    return new CcSampler(core, role);
  }

  private constructor(private readonly core: CoreView, private readonly role: string) {
    // BBR's mode changes are too short-lived for a 2 ms sample (Drain lasts a few ms): note each
    // call of its private transitions, with the estimate and Startup's baseline at that moment.
    const cc = core.recovery.cc as unknown as Record<string, unknown>;
    for (const name of ['reenterStartup', 'enterProbeBw']) {
      const original = cc[name];
      if (typeof original !== 'function') continue;
      cc[name] = (...args: unknown[]): unknown => {
        this.events.push([wallNow(), name, cc.btlBw as number, cc.fullBw as number, cc.extraAcked as number, cc.window as number]);
        return (original as (...a: unknown[]) => unknown).apply(cc, args);
      };
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
  }

  private sample(): void {
    const r = this.core.recovery;
    const s = this.core.stats();
    this.rows.push([wallNow(), r.cc.state ?? '', r.cc.window, r.cc.pacingRate, r.bytesInFlight, s.bytesSent, s.bytesReceived, s.packetsLost]);
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.sample();
    const columns = ['wall', 'state', 'window', 'pacingRate', 'inFlight', 'bytesSent', 'bytesReceived', 'packetsLost'];
    writeFileSync(`${PREFIX}.${this.role}.${process.pid}.json`, JSON.stringify({ columns, rows: this.rows, events: this.events }));
  }
}
