/**
 * Test-only: CHAT_TEST_LOSS=<0..1> (with CHAT_TEST_SEED) wraps the server's UDP socket in
 * reliable-dgram's LossySocket, so the end-to-end tests can run a whole conversation over a
 * network that drops that share of datagrams in both directions. Unset in production.
 */
import type { EndpointOptions } from '../transport/reliable-dgram.js';
import type { Logger } from './log.js';

export function testEndpointOptions(log: Logger): (() => Promise<EndpointOptions>) | undefined {
  const raw = process.env['CHAT_TEST_LOSS'];
  if (raw === undefined || raw === '') return undefined;
  const loss = Number(raw);
  if (!(loss >= 0 && loss < 1)) throw new Error('CHAT_TEST_LOSS must be a number in [0, 1)');
  const seed = Number(process.env['CHAT_TEST_SEED'] ?? '1');
  log('warning', { message: `CHAT_TEST_LOSS=${loss}: dropping datagrams on purpose, for tests only`, seed });
  return async () => {
    const testing = (await import('reliable-dgram/testing')) as unknown as Record<string, unknown>;
    const make = testing['createLossySocket'] ?? testing['LossySocket'];
    if (typeof make !== 'function') throw new Error('reliable-dgram/testing has no LossySocket yet');
    throw new Error('LossySocket wiring: pending the library API');
  };
}
