/**
 * Runs the impairment proxy (src/bin/impair.ts, issue 6) as its own process between a sender and
 * a receiver. The command line is built in one place, `proxyArgs`, so that it follows the CLI.
 * The proxy's counters (printed when it exits) are kept verbatim in the results.
 */
import { existsSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { IMPAIR_BIN } from './paths.js';
import { spawnNode } from './spawn.js';

export interface ProxySettings {
  listenPort: number;
  targetPort: number;
  host: string;
  delayMs: number;
  /** Random loss as a fraction (0.05 = 5 %), applied in both directions. */
  loss: number;
  seed: number;
}

export function proxyAvailable(): boolean {
  return existsSync(IMPAIR_BIN);
}

export function proxyArgs(s: ProxySettings): string[] {
  return [
    '--listen', `${s.host}:${s.listenPort}`,
    '--target', `${s.host}:${s.targetPort}`,
    '--delay', String(s.delayMs),
    '--loss', String(s.loss),
    '--seed', String(s.seed),
  ];
}

/** A free UDP port on `host` (bound and released): the proxy is told where to listen. */
export async function freeUdpPort(host: string): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, host);
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on every Linux build Node runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

export class ProxyProcess {
  private readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<void>;

  constructor(settings: ProxySettings) {
    this.child = spawnNode(IMPAIR_BIN, proxyArgs(settings), { timeoutMs: 0, label: 'impair proxy' });
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString()).slice(-8000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Resolves once the proxy printed something that looks like "listening", or after `ms`. */
  async started(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (/listen/i.test(this.output)) return;
      if (this.child.exitCode !== null) throw new Error(`impair proxy exited: ${this.output.trim().slice(-500)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * CPU time (user + system, all threads) the proxy process has used so far, ms, from
   * /proc/<pid>/stat (clock ticks: 10 ms resolution); NaN where that is not available (not Linux,
   * or the process has gone). Read before and after a run: the proxy's share of the two cores.
   */
  cpuMs(): number {
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return NaN;
    }
  }

  /** Stops the proxy (SIGINT, so it prints its counters) and returns what it printed. */
  async stop(): Promise<string> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(timer);
    }
    return this.output;
  }
}
