import { ConnectionCore } from '../core/connection.js';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import type { ConnectionCoreFactory } from '../core/endpoint.js';
import type { CoreConfig } from '../core/types.js';
import { InvalidArgValueError } from '../errors.js';
import { primeVarintReader } from '../wire/reader.js';

/**
 * A buffer of node:dgram's making: datagrams from node:dgram are Buffers made in C++ (a Uint8Array
 * given Buffer's prototype afterwards), another hidden class than the Uint8Array the wire code
 * primes itself with at load (reader.ts), and than `Buffer.alloc`'s. For code that must show the
 * engine what real datagrams look like (the priming below, the warm-up's datagrams).
 */
export function receivedBuffer(length: number): Uint8Array {
  return Object.setPrototypeOf(new Uint8Array(length), Buffer.prototype) as Uint8Array;
}

primeVarintReader(receivedBuffer(8));

/**
 * The one place the Node shell names the engine: the endpoint core takes a factory, so the
 * handshake and routing code stays independent of (and testable without) the reliability engine.
 */
export const createConnectionCore: ConnectionCoreFactory = (init) => new ConnectionCore(init);

/**
 * Let the engine judge the engine options once, up front (e.g. an unknown congestion controller
 * name), instead of failing later inside a handshake. Throws ERR_INVALID_ARG_VALUE.
 */
export function checkCoreConfig(config: Partial<CoreConfig>): void {
  const params = {
    maxDatagramSize: config.maxDatagramSize ?? DEFAULT_CORE_CONFIG.maxDatagramSize,
    initialWindow: 16,
    idleTimeout: 0,
    initialPacketNumber: 0,
    initialTsn: 0,
    resetToken: new Uint8Array(16),
  };
  try {
    new ConnectionCore({ role: 'client', localCid: 1n, remoteCid: 2n, localParams: params, remoteParams: params, config, now: 0 });
  } catch (e) {
    throw new InvalidArgValueError(`invalid engine options: ${(e as Error).message}`);
  }
}
