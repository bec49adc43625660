/**
 * reliable-dgram: reliable, ordered, congestion-controlled messaging over plain UDP.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export type * from './core/types.js';
export type { DatagramSocket, RemoteInfo, SocketAddress } from './node/socket.js';
export type { Clock, TimerHandle } from './node/clock.js';
export { realClock } from './node/clock.js';
export * as wire from './wire/index.js';
