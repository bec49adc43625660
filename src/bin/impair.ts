#!/usr/bin/env node
/**
 * reliable-dgram-impair: a UDP impairment proxy for testing any UDP program against a bad
 * network. See `--help` and docs/testing.md.
 */
import { ImpairProxy } from '../testing/impair-proxy.js';
import { IMPAIR_USAGE, parseImpairArgs } from '../testing/impair-args.js';
import type { ParsedImpairArgs } from '../testing/impair-args.js';

async function main(): Promise<void> {
  let args: ParsedImpairArgs;
  try {
    args = parseImpairArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`impair: ${(err as Error).message}\n(see --help)\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(IMPAIR_USAGE);
    return;
  }
  const options = args.quiet ? { ...args.options, log: null } : args.options;
  let proxy: ImpairProxy;
  try {
    proxy = await ImpairProxy.start(options);
  } catch (err) {
    process.stderr.write(`impair: cannot listen: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const here = proxy.address();
  const { target } = args.options;
  process.stderr.write(
    `impair: listening on ${here.address}:${here.port} -> ${target.address}:${target.port}` +
      ` (seed ${args.options.seed ?? 1})\n` +
      `impair: up ${JSON.stringify(args.options.up)} down ${JSON.stringify(args.options.down)}\n`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void proxy.close().then((counters) => {
      process.stdout.write(`${JSON.stringify(counters, null, 2)}\n`);
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
