/**
 * reliable-dgram: reliable, ordered, congestion-controlled messaging over plain UDP.
 *
 * Start with {@link createEndpoint}: it returns an {@link Endpoint} (one UDP socket) whose
 * `connect()` and `'connection'` event give {@link Connection}s (message pipes). The test kit is
 * `reliable-dgram/testing`; the wire codec, for tools and other implementations, is
 * `reliable-dgram/wire`.
 *
 * ```ts
 * import { createEndpoint } from 'reliable-dgram';
 *
 * const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
 * server.on('connection', (conn) => conn.on('message', (msg) => conn.send(msg)));
 * const client = await createEndpoint();
 * const conn = await client.connect(server.address().port, '127.0.0.1');
 * conn.send('hello');
 * ```
 *
 * @packageDocumentation
 * @module reliable-dgram
 */
export { ReliableDgramError, InvalidArgTypeError, InvalidArgValueError, UnknownOptionError, AbortError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type {
  Delivery,
  CongestionAlgorithm,
  CongestionController,
  CongestionControllerFactory,
  AckEvent,
  RttView,
  ConnectionStats,
} from './core/types.js';
export type { DatagramSocket, RemoteInfo, SocketAddress } from './node/socket.js';
export type { Clock, TimerHandle } from './node/clock.js';
export { realClock } from './node/clock.js';
export { createEndpoint, Endpoint } from './node/endpoint.js';
export type { EndpointEvents, ConnectOptions, ConnectTarget, EndpointStatsWithSocket, RebindOptions } from './node/endpoint.js';
export { Connection } from './node/connection.js';
export { createStream, type StreamOptions } from './node/stream.js';
export type { ConnectionEvents, SendOptions, DestroyOptions, ConnectionStatsWithAddress, MessageInfo, ChannelOptions } from './node/connection.js';
export type { CloseOptions } from './node/close-options.js';
export type { ChannelsOption } from './node/channel-options.js';
export { ENDPOINT_DEFAULTS } from './options.js';
export { generateKeyPair } from './crypto/keys.js';
export type { KeyPair, KeyInput } from './crypto/keys.js';
export type { EndpointOptions } from './options.js';
export type { EndpointStats, DropReason } from './core/endpoint-types.js';
export type { TraceEvent, TraceSink, TracedConnection } from './core/trace.js';
