/**
 * The options of Endpoint.connect() and Endpoint.rebind(): their public types, the names each
 * knows, and their synchronous validation (TypeError/RangeError with a `code`; a misspelled
 * name is ERR_INVALID_ARG_VALUE with a suggestion). Nothing here touches the endpoint's state:
 * the endpoint checks that it is open after the arguments, as before.
 */
import { InvalidArgTypeError, InvalidArgValueError } from '../errors.js';
import { rejectUnknownOptions } from '../unknown-options.js';
import { parseKey, type KeyInput } from '../crypto/keys.js';
import { parseChannels, type ChannelEntry, type ChannelsOption } from './channel-options.js';
import type { QlogChoice } from './qlog.js';
import type { DatagramSocket } from './socket.js';

/** Options of `connect(port, host, options)`. */
export interface ConnectOptions {
  /** Abort the handshake: connect() rejects with an AbortError (code ABORT_ERR). */
  signal?: AbortSignal;
  /**
   * The server's static public key (32 bytes or base64). The connection is encrypted, and
   * connect() rejects with ERR_AUTHENTICATION_FAILED unless the server proves it holds this key.
   */
  serverKey?: KeyInput;
  /**
   * This connection's own qlog file, whatever the endpoint's `qlogDir` and `qlogFilter` say:
   * `true` writes it into the endpoint's `qlogDir` (which must be set), `{ dir }` into `dir`
   * (created if missing), `false` writes none. Default: as the endpoint decides (`qlogDir`,
   * filtered by `qlogFilter`). The `trace` callback sees every connection either way.
   */
  qlog?: boolean | { dir: string };
  /**
   * Channel settings of this connection, by channel number (`{ 1: { priority: 1 } }`), applied
   * with `setChannel()` before connect() resolves, after the endpoint's `channels` option.
   */
  channels?: ChannelsOption;
}

/** The options form, `connect({ port, host, signal, serverKey })`, as `net.connect(options)`. */
export interface ConnectTarget extends ConnectOptions {
  /** The peer's UDP port. */
  port: number;
  /** The peer's host name or IP address. Default: the loopback address of the socket's family. */
  host?: string;
}

const CONNECT_OPTIONS = ['signal', 'serverKey', 'channels', 'qlog'] as const;
const CONNECT_TARGET_OPTIONS = ['port', 'host', ...CONNECT_OPTIONS] as const;

/** Options of {@link Endpoint.rebind}. */
export interface RebindOptions {
  /** Local port of the new socket (0, the default: an ephemeral one). */
  port?: number;
  /** Local address of the new socket. Default: the endpoint's `host` option (all interfaces if none). */
  host?: string;
  /** Use this socket instead of binding one (as createEndpoint's `socket` option). */
  socket?: DatagramSocket;
}

/** The options {@link Endpoint.rebind} knows (others throw ERR_UNKNOWN_OPTION). */
const REBIND_OPTIONS = ['port', 'host', 'socket'] as const;

const NO_CHANNELS: ChannelEntry[] = [];

/** connect()'s arguments, checked, in either form (`connect(port, host, options)` or `connect(target)`). */
export interface ConnectArgs {
  port: number;
  host: string | undefined;
  signal: AbortSignal | undefined;
  serverKey: Uint8Array | undefined;
  channels: ChannelEntry[];
  qlog: QlogChoice | undefined;
}

/** Check connect()'s arguments; `qlogDir` is the endpoint's (a `qlog: true` needs one). */
export function checkConnectArgs(
  portOrTarget: number | ConnectTarget,
  hostArg: string | undefined,
  optionsArg: ConnectOptions | undefined,
  qlogDir: string | undefined,
): ConnectArgs {
  let port: number;
  let host: string | undefined;
  let options: ConnectOptions | undefined;
  if (typeof portOrTarget === 'object' && portOrTarget !== null) {
    rejectUnknownOptions(portOrTarget, CONNECT_TARGET_OPTIONS);
    ({ port, host } = portOrTarget);
    options = portOrTarget;
    if (port === undefined) throw new InvalidArgTypeError('options.port must be a number, got undefined');
  } else {
    port = portOrTarget;
    host = hostArg;
    options = optionsArg;
    if (options !== undefined && typeof options === 'object' && options !== null) rejectUnknownOptions(options, CONNECT_OPTIONS);
  }
  if (typeof port !== 'number') throw new InvalidArgTypeError(`port must be a number, got ${typeof port}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgValueError(`port must be an integer in [1, 65535], got ${port}`);
  }
  if (host !== undefined && typeof host !== 'string') throw new InvalidArgTypeError('host must be a string');
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidArgTypeError('options must be an object');
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgTypeError('options.signal must be an AbortSignal');
  }
  const serverKey = options?.serverKey === undefined ? undefined : parseKey(options.serverKey, 'options.serverKey');
  const channels = options?.channels === undefined ? NO_CHANNELS : parseChannels(options.channels, 'options.channels');
  const qlog = qlogChoice(options?.qlog, qlogDir);
  return { port, host, signal, serverKey, channels, qlog };
}

/** connect()'s `qlog` option, checked: undefined (the endpoint decides), false, true, or a directory. */
function qlogChoice(qlog: unknown, qlogDir: string | undefined): QlogChoice | undefined {
  if (qlog === undefined || qlog === false) return qlog;
  if (qlog === true) {
    if (qlogDir === undefined) throw new InvalidArgValueError('options.qlog is true but the endpoint has no qlogDir: pass { dir } instead');
    return true;
  }
  if (typeof qlog !== 'object' || qlog === null) throw new InvalidArgTypeError('options.qlog must be a boolean or { dir }');
  rejectUnknownOptions(qlog, ['dir'], 'options.qlog');
  const dir = (qlog as { dir?: unknown }).dir;
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgTypeError('options.qlog.dir must be a non-empty string (a directory path)');
  return dir;
}


/** rebind()'s options, checked (TypeError/RangeError with a `code`; unknown names ERR_INVALID_ARG_VALUE). */
export function checkRebindOptions(options: RebindOptions): { port: number; host: string | undefined; socket: DatagramSocket | undefined } {
  if (typeof options !== 'object' || options === null) throw new InvalidArgTypeError('options must be an object');
  rejectUnknownOptions(options, REBIND_OPTIONS);
  const { port = 0, host, socket } = options;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgValueError(`options.port must be an integer in [0, 65535], got ${String(port)}`);
  }
  if (host !== undefined && typeof host !== 'string') throw new InvalidArgTypeError('options.host must be a string');
  if (socket !== undefined && (typeof socket !== 'object' || socket === null || typeof socket.send !== 'function')) {
    throw new InvalidArgTypeError('options.socket must be a datagram socket');
  }
  return { port, host, socket };
}
