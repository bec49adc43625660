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
export { createEndpoint, Endpoint } from './node/endpoint.js';
export type { EndpointEvents, ConnectOptions, EndpointStatsWithSocket } from './node/endpoint.js';
export { Connection } from './node/connection.js';
export { createStream, type StreamOptions } from './node/stream.js';
export type { ConnectionEvents, SendOptions, ConnectionStatsWithAddress, MessageInfo, ChannelOptions } from './node/connection.js';
export { ENDPOINT_DEFAULTS } from './options.js';
export type { EndpointOptions } from './options.js';
export type { EndpointStats, DropReason } from './core/endpoint-types.js';
export type { TraceEvent, TraceSink, TracedConnection } from './core/trace.js';
