import { parseArgs } from 'node:util';
import { InvalidArgValueError } from '../errors.js';
import type { Impairment } from './impairment.js';
import type { ImpairProxyOptions } from './impair-proxy.js';

/** Command-line parsing of the `reliable-dgram-impair` proxy (kept apart from the bin to test it). */

export const IMPAIR_USAGE = `Usage: reliable-dgram-impair --target HOST:PORT [options]

A UDP proxy that loses, delays, reorders, duplicates, corrupts and rate-limits datagrams.
Clients send to --listen; datagrams go to --target; replies come back to each client.

  --listen HOST:PORT    where clients send (default 127.0.0.1:0, an ephemeral port)
  --target HOST:PORT    where datagrams are forwarded (required)
  --seed N              seed of every random choice (default 1): same seed, same run
  --client-idle MS      forget a silent client after MS (default 60000)
  --quiet               no warnings on standard error
  --help                this text

Impairment (both directions; --up-NAME / --down-NAME for one direction only, e.g. --down-rate):
  --loss P              independent loss probability (0.05 or 5%)
  --burst P,R[,H]       Gilbert-Elliott burst loss: P good->bad, R bad->good, H loss in bad (1)
  --delay MS            one-way delay (10, 10ms, 0.5s)
  --jitter MS           delay varies uniformly by +-MS
  --keep-order          jitter without reordering (FIFO)
  --dup P               duplicate probability
  --reorder P           probability to hold a datagram back by --reorder-delay (default 10ms)
  --reorder-delay MS
  --corrupt P           probability to flip 1-3 bits
  --rate RATE           bandwidth: 10mbit, 512kbit, 2mbps (bytes/s), or plain bytes/s
  --queue SIZE          bottleneck queue: 64kb, 1mb, or bytes (needs --rate); overflow is reported
  --blackhole UP:DOWN   link passes UP ms, then drops everything DOWN ms, repeating
  --mtu BYTES           largest datagram the link carries; larger ones are dropped (path MTU)

On SIGINT/SIGTERM the counters are printed to standard output as JSON and the proxy exits.
`;

export interface ParsedImpairArgs {
  help: boolean;
  quiet: boolean;
  options: ImpairProxyOptions;
}

function fail(message: string): never {
  throw new InvalidArgValueError(message);
}

/** "0.05" or "5%" → 0.05. */
export function parseProbability(text: string, name = 'probability'): number {
  const percent = text.endsWith('%');
  const value = Number(percent ? text.slice(0, -1) : text) / (percent ? 100 : 1);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) fail(`${name}: expected a probability (0.05 or 5%), got "${text}"`);
  return value;
}

/** "10", "10ms", "1.5s" → milliseconds. */
export function parseDuration(text: string, name = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/i.exec(text.trim());
  if (m === null) fail(`${name}: expected milliseconds (10, 10ms, 1.5s), got "${text}"`);
  return Number(m[1]) * (m[2]?.toLowerCase() === 's' ? 1000 : 1);
}

const RATE_UNITS: Record<string, number> = {
  '': 1,
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  bps: 1,
  kbps: 1e3,
  mbps: 1e6,
  gbps: 1e9,
};

/** Bandwidth in bytes per second: bits with "bit" (10mbit), bytes with "bps" (2mbps), as `tc`. */
export function parseRate(text: string, name = 'rate'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = RATE_UNITS[m?.[2]?.toLowerCase() ?? 'x'];
  if (m === null || unit === undefined) fail(`${name}: expected e.g. 10mbit, 512kbit, 2mbps or bytes/s, got "${text}"`);
  const rate = Number(m[1]) * unit;
  if (!(rate > 0)) fail(`${name}: must be positive, got "${text}"`);
  return rate;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 * 1024, mb: 1024 * 1024 };

/** Bytes: "65536", "64kb", "1mb" (binary multiples, as `tc`). */
export function parseSize(text: string, name = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = SIZE_UNITS[m?.[2]?.toLowerCase() ?? 'x'];
  if (m === null || unit === undefined) fail(`${name}: expected bytes, 64kb or 1mb, got "${text}"`);
  return Math.floor(Number(m[1]) * unit);
}

/** "HOST:PORT" (IPv6 as "[::1]:PORT") → parts. */
export function parseHostPort(text: string, name = 'address'): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (m === null || !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    fail(`${name}: expected HOST:PORT, got "${text}"`);
  }
  return { address: (m[1] ?? m[2])!, port };
}

const IMPAIRMENT_FLAGS = [
  'loss',
  'burst',
  'delay',
  'jitter',
  'dup',
  'reorder',
  'reorder-delay',
  'corrupt',
  'rate',
  'queue',
  'blackhole',
  'mtu',
] as const;

type Values = Record<string, string | boolean | undefined>;

/** Build the impairment of one direction: `--up-x`/`--down-x` override `--x`. */
function impairmentFrom(values: Values, prefix: 'up-' | 'down-'): Impairment {
  const get = (flag: string): string | undefined => {
    const v = values[prefix + flag] ?? values[flag];
    return typeof v === 'string' ? v : undefined;
  };
  const flagName = (flag: string) => `--${values[prefix + flag] !== undefined ? prefix : ''}${flag}`;
  const imp: Impairment = {};
  const str = (flag: (typeof IMPAIRMENT_FLAGS)[number], apply: (text: string, name: string) => void) => {
    const v = get(flag);
    if (v !== undefined) apply(v, flagName(flag));
  };
  str('loss', (v, n) => (imp.loss = parseProbability(v, n)));
  str('delay', (v, n) => (imp.delay = parseDuration(v, n)));
  str('jitter', (v, n) => (imp.jitter = parseDuration(v, n)));
  str('dup', (v, n) => (imp.duplicate = parseProbability(v, n)));
  str('reorder', (v, n) => (imp.reorder = parseProbability(v, n)));
  str('reorder-delay', (v, n) => (imp.reorderDelay = parseDuration(v, n)));
  str('corrupt', (v, n) => (imp.corrupt = parseProbability(v, n)));
  str('rate', (v, n) => (imp.rate = parseRate(v, n)));
  str('queue', (v, n) => (imp.queue = parseSize(v, n)));
  str('mtu', (v, n) => {
    const bytes = Number(v);
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 65535) fail(`${n}: expected a datagram size in bytes, got "${v}"`);
    imp.mtu = bytes;
  });
  str('burst', (v, n) => {
    const parts = v.split(',');
    if (parts.length < 2 || parts.length > 3) fail(`${n}: expected P,R or P,R,H, got "${v}"`);
    imp.burst = { enter: parseProbability(parts[0]!, n), exit: parseProbability(parts[1]!, n) };
    if (parts[2] !== undefined) imp.burst.loss = parseProbability(parts[2], n);
  });
  str('blackhole', (v, n) => {
    const parts = v.split(':');
    if (parts.length !== 2) fail(`${n}: expected UP:DOWN in ms, got "${v}"`);
    imp.blackhole = { up: parseDuration(parts[0]!, n), down: parseDuration(parts[1]!, n) };
  });
  const keepOrder = values[`${prefix}keep-order`] ?? values['keep-order'];
  if (keepOrder === true) imp.preserveOrder = true;
  if (imp.queue !== undefined && imp.rate === undefined) fail(`${flagName('queue')} needs a rate (--rate)`);
  return imp;
}

/** Parse the proxy's command line (without `node` and the script). Throws on bad flags. */
export function parseImpairArgs(argv: readonly string[]): ParsedImpairArgs {
  type Opt = { type: 'string' | 'boolean' };
  const options: Record<string, Opt> = {
    listen: { type: 'string' },
    target: { type: 'string' },
    seed: { type: 'string' },
    'client-idle': { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean' },
    'keep-order': { type: 'boolean' },
    'up-keep-order': { type: 'boolean' },
    'down-keep-order': { type: 'boolean' },
  };
  for (const flag of IMPAIRMENT_FLAGS) {
    options[flag] = { type: 'string' };
    options[`up-${flag}`] = { type: 'string' };
    options[`down-${flag}`] = { type: 'string' };
  }
  let values: Values;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    fail((err as Error).message);
  }
  const help = values.help === true;
  const quiet = values.quiet === true;
  if (help) return { help, quiet, options: { target: { address: '127.0.0.1', port: 1 } } };
  if (typeof values.target !== 'string') fail('--target HOST:PORT is required (see --help)');
  const target = parseHostPort(values.target, '--target');
  if (target.port === 0) fail('--target: port 0 is not a destination');
  const listen = typeof values.listen === 'string' ? parseHostPort(values.listen, '--listen') : { address: '127.0.0.1', port: 0 };
  const parsed: ImpairProxyOptions = {
    listen,
    target,
    up: impairmentFrom(values, 'up-'),
    down: impairmentFrom(values, 'down-'),
  };
  if (typeof values.seed === 'string') {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed: expected an integer 0..4294967295, got "${values.seed}"`);
    parsed.seed = seed;
  }
  if (typeof values['client-idle'] === 'string') parsed.clientIdleMs = parseDuration(values['client-idle'], '--client-idle');
  return { help, quiet, options: parsed };
}
