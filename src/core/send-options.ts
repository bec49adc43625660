import { InvalidArgValueError, rdError } from '../errors.js';
import type { CoreSendOptions, Delivery } from './types.js';

/**
 * The checks of the connection's commands' arguments (connection.ts `send`, `setChannel`): a
 * bad channel, maxAge or receipt id throws ERR_INVALID_ARG_VALUE, a message too large
 * ERR_MESSAGE_TOO_LARGE. The plain `send(data, delivery)` of the shell's common case reaches none
 * of the option checks.
 */

/** A channel number, checked: an integer from 0 to 255 (`label` names it in the error). */
export function checkedChannel(channel: number, label = 'channel'): number {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
    throw new InvalidArgValueError(`${label} must be an integer from 0 to 255, got ${String(channel)}`);
  }
  return channel;
}

/** When an unreliable message sent at `now` with `options.maxAge` expires (Infinity: no maxAge). */
export function checkedExpiry(options: CoreSendOptions, delivery: Delivery, now: number | undefined): number {
  if (options.maxAge === undefined) return Infinity;
  if (delivery !== 'unreliable') throw new InvalidArgValueError("maxAge applies to delivery 'unreliable' only");
  if (typeof options.maxAge !== 'number' || !(options.maxAge >= 0)) {
    throw new InvalidArgValueError(`maxAge must be a number ≥ 0, got ${String(options.maxAge)}`);
  }
  if (now === undefined) throw new InvalidArgValueError('send() with maxAge needs now');
  return now + options.maxAge;
}

/** A receipt id, checked: an integer ≥ 0 (0: no receipt). */
export function checkedReceipt(receipt: number): number {
  if (!Number.isInteger(receipt) || receipt < 0) throw new InvalidArgValueError(`receipt must be an integer ≥ 0 (0: no receipt), got ${String(receipt)}`);
  return receipt;
}

/** The error for a message of `size` bytes over `limit`, ours (`configured`) or the peer's (also the Node shell's `Connection.queue`, which refuses it before queueing). */
export function messageTooLarge(size: number, limit: number, configured: number): Error {
  return rdError(
    'ERR_MESSAGE_TOO_LARGE',
    limit < configured
      ? `message of ${size} bytes exceeds the peer's maxMessageSize (${limit})`
      : `message of ${size} bytes exceeds maxMessageSize (${configured})`,
  );
}
