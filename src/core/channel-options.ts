import { InvalidArgValueError } from '../errors.js';
import { DEFAULT_CHANNEL_SETTINGS } from './channel-scheduler.js';
import { MAX_REDUNDANCY } from './redundancy.js';
import type { ChannelOptions } from './types.js';

/** Every setting of one channel, as `setChannel()` leaves it. */
export interface ChannelSetup {
  priority: number;
  weight: number;
  redundancy: number;
}

/** A channel nobody configured. */
export const DEFAULT_CHANNEL_SETUP: Readonly<ChannelSetup> = { ...DEFAULT_CHANNEL_SETTINGS, redundancy: 0 };

/**
 * `current` with `options` applied (options left out keep their value), validated: priority
 * integer 0–255, weight 1–65535, redundancy 0–{@link MAX_REDUNDANCY}. Throws RangeError
 * (ERR_INVALID_ARG_VALUE) naming `label`'s field.
 */
export function resolveChannelOptions(current: Readonly<ChannelSetup>, options: ChannelOptions, label = ''): ChannelSetup {
  const priority = options.priority ?? current.priority;
  const weight = options.weight ?? current.weight;
  const redundancy = options.redundancy ?? current.redundancy;
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) {
    throw new InvalidArgValueError(`${label}priority must be an integer from 0 to 255, got ${String(priority)}`);
  }
  if (!Number.isInteger(weight) || weight < 1 || weight > 65535) {
    throw new InvalidArgValueError(`${label}weight must be an integer from 1 to 65535, got ${String(weight)}`);
  }
  if (!Number.isInteger(redundancy) || redundancy < 0 || redundancy > MAX_REDUNDANCY) {
    throw new InvalidArgValueError(`${label}redundancy must be an integer from 0 to ${MAX_REDUNDANCY}, got ${String(redundancy)}`);
  }
  return { priority, weight, redundancy };
}
