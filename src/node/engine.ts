import { ConnectionCore } from '../core/connection.js';
import type { ConnectionCoreFactory } from '../core/endpoint.js';

/**
 * The one place the Node shell names the engine: the endpoint core takes a factory, so the
 * handshake and routing code stays independent of (and testable without) the reliability engine.
 */
export const createConnectionCore: ConnectionCoreFactory = (init) => new ConnectionCore(init);
