/**
 * The arguments of a Connection's methods, checked synchronously (TypeError/RangeError with a
 * `code`; an unknown option name is ERR_INVALID_ARG_VALUE with a suggestion): send()'s and
 * destroy()'s public option types and the names each knows, setChannel()'s and messages()'
 * options. Out of line of send() on purpose: the refusals' messages are built here, not in the
 * per-message function.
 */
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { optionsObject, rejectUnknownOptions } from '../unknown-options.js';
import { CHANNEL_OPTIONS } from './channel-options.js';
import { checkedChannel } from '../core/send-options.js';
import type { ChannelOptions, Delivery } from '../core/types.js';

/** Options of {@link Connection.send}. */
export interface SendOptions {
  /** 'ordered' (default), 'unordered' or 'unreliable'. */
  delivery?: Delivery;
  /**
   * Ordering scope, an integer 0–255 (default 0). Ordering and duplicate suppression are per
   * channel: a loss on one channel never delays delivery on another. See `setChannel()`.
   */
  channel?: number;
  /**
   * Unreliable only: if the message has not been sent within this many milliseconds (it waited
   * behind congestion or higher priorities), drop it instead of sending it late. Counted in
   * `stats().unreliableExpired`.
   */
  maxAge?: number;
}

/** Options of {@link Connection.destroy}. */
export interface DestroyOptions {
  /**
   * Text sent to the peer in the RESET frame (its `'error'` message), at most 256 UTF-8 bytes
   * (longer text is cut at a character boundary). Default: none. The `Error` given to
   * `destroy()` is never sent: it is for this side's listeners only.
   */
  reason?: string;
}

const SEND_OPTIONS = ['delivery', 'channel', 'maxAge'] as const;
const DESTROY_OPTIONS = ['reason'] as const;

/** send()'s options object: an object of known options, with a known delivery. */
export function checkSendOptions(options: SendOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError('options must be an object');
  rejectUnknownOptions(options, SEND_OPTIONS);
  const delivery = options.delivery ?? 'ordered';
  if (delivery !== 'ordered' && delivery !== 'unordered' && delivery !== 'unreliable') {
    throw new InvalidArgValueError(`options.delivery must be 'ordered', 'unordered' or 'unreliable', got ${String(delivery)}`);
  }
}

/** destroy()'s arguments: `err` an Error if given, `options` of known names; returns the RESET's reason. */
export function checkDestroyArgs(err: Error | undefined, options: DestroyOptions | undefined): string | undefined {
  if (err !== undefined && !(err instanceof Error)) throw new InvalidArgTypeError('err must be an Error');
  const { reason } = optionsObject(options);
  if (options !== undefined) rejectUnknownOptions(options, DESTROY_OPTIONS);
  if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgTypeError('options.reason must be a string');
  return reason;
}

/** setChannel()'s options: an object of known names. */
export function checkChannelOptions(options: ChannelOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError('options must be an object');
  rejectUnknownOptions(options, CHANNEL_OPTIONS);
}

/** messages()' options: an AbortSignal, a channel number 0–255. */
export function checkMessagesOptions(options: { signal?: AbortSignal; channel?: number } | undefined): {
  signal: AbortSignal | undefined;
  channel: number | undefined;
} {
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgTypeError('options.signal must be an AbortSignal');
  }
  const channel = options?.channel;
  if (channel !== undefined) checkedChannel(channel, 'options.channel');
  return { signal, channel };
}
