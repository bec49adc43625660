/**
 * Runs the impairment proxy (src/bin/impair.ts, issue 6) as its own process between a sender and
 * a receiver. The command line is built in one place, `proxyArgs`, so that it follows the CLI.
 * The proxy's counters (printed when it exits) are kept verbatim in the results.
 */
import { existsSync } from 'node:fs';
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
