import { DEFAULT_CHANNEL_SETUP, resolveChannelOptions } from '../core/channel-options.js';
import type { ChannelOptions } from '../core/types.js';
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { rejectUnknownOptions } from '../unknown-options.js';

/** The options of `setChannel()` (and of each entry of a `channels` option). */
export const CHANNEL_OPTIONS = ['priority', 'weight', 'redundancy'] as const;

/**
 * Channel settings given up front, by channel number: `{ 1: { priority: 1 }, 0: { redundancy: 1 } }`.
 * The `channels` option of `createEndpoint()` (every connection of the endpoint) and of
 * `connect()` (that connection, after the endpoint's): each entry is applied with
 * `setChannel()` before the connection is handed to the application.
 */
export type ChannelsOption = Readonly<Record<number, ChannelOptions>>;

/** One validated entry of a `channels` option. */
export type ChannelEntry = readonly [channel: number, options: ChannelOptions];

/**
 * Validate a `channels` option (`label`: its name in messages, e.g. 'options.channels') and
 * return its entries in channel order. Throws TypeError / RangeError with a `code`.
 */
export function parseChannels(value: unknown, label: string): ChannelEntry[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgTypeError(`${label} must be an object mapping channel numbers to { priority, weight, redundancy }`);
  }
  const out: ChannelEntry[] = [];
  for (const [key, options] of Object.entries(value as Record<string, unknown>)) {
    const channel = Number(key);
    if (!/^(0|[1-9]\d*)$/.test(key) || channel > 255) {
      throw new InvalidArgValueError(`${label} keys must be channel numbers from 0 to 255, got '${key}'`);
    }
    const name = `${label}[${key}]`;
    if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError(`${name} must be an object`);
    rejectUnknownOptions(options, CHANNEL_OPTIONS, name);
    const given = options as ChannelOptions;
    resolveChannelOptions(DEFAULT_CHANNEL_SETUP, given, `${name}.`);
    out.push([channel, { ...given }]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}
