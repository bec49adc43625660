import type { ConnectionId, TransportParams } from '../../wire/types.js';
import {
  decodeAcceptPayload,
  decodeHelloPayload,
  encodeAcceptPayload,
  encodeHelloPayload,
  secureInitialPrologue,
  type HandshakePatternName,
} from '../../wire/secure.js';
import { NoiseHandshake, firstPayloadEncrypted, type HandshakeResult, type KeyPair } from './noise.js';
import type { CryptoSuite } from './suite.js';

/**
 * The secure handshake of reliable-dgram (docs/protocol.md §22): which Noise pattern a client
 * uses, what the two messages carry, and the per-direction secrets that come out.
 *
 *   client knows the server's key   no client key: NK     client key: IK
 *   client does not know it         no client key: NX     client key: IX   (server key learned,
 *                                                                           then judged by verifyPeer)
 *
 * Message 1 (in SECURE_INITIAL) binds the clear header (version, type, client CID, transport
 * parameters, pattern) as prologue; its payload is the client's 16-byte stateless-reset token
 * when the pattern encrypts it (NK, IK; NX and IX clients cannot send stateless resets), then the
 * client's optional parameters. Message 2 (SECURE_ACCEPT) carries the server's CID and transport
 * parameters, optional ones included, encrypted.
 */

export function choosePattern(hasServerKey: boolean, hasClientKey: boolean): HandshakePatternName {
  if (hasServerKey) return hasClientKey ? 'IK' : 'NK';
  return hasClientKey ? 'IX' : 'NX';
}

/** Per-direction traffic secrets of one side. */
export interface SessionSecrets {
  sendSecret: Uint8Array;
  recvSecret: Uint8Array;
  remoteStatic: Uint8Array | null;
  handshakeHash: Uint8Array;
}

function secrets(result: HandshakeResult, initiator: boolean): SessionSecrets {
  return {
    sendSecret: initiator ? result.initiatorKey : result.responderKey,
    recvSecret: initiator ? result.responderKey : result.initiatorKey,
    remoteStatic: result.remoteStatic,
    handshakeHash: result.handshakeHash,
  };
}

export interface ClientHello {
  pattern: HandshakePatternName;
  /** Noise message 1, for SECURE_INITIAL. */
  message: Uint8Array;
  state: NoiseHandshake;
}

export function startClientHandshake(
  suite: CryptoSuite,
  init: {
    cid: ConnectionId;
    params: TransportParams;
    ePrivate: Uint8Array;
    serverKey: Uint8Array | null;
    staticKey: KeyPair | null;
    /** The client's stateless-reset token, sent when the pattern encrypts message 1. */
    resetToken: Uint8Array;
  },
): ClientHello {
  const pattern = choosePattern(init.serverKey !== null, init.staticKey !== null);
  const state = new NoiseHandshake(suite, {
    pattern,
    initiator: true,
    prologue: secureInitialPrologue(init.cid, init.params, pattern),
    ePrivate: init.ePrivate,
    ...(init.staticKey ? { s: init.staticKey } : {}),
    ...(init.serverKey ? { rs: init.serverKey } : {}),
  });
  const payload = encodeHelloPayload(firstPayloadEncrypted(pattern) ? init.resetToken : null, init.params);
  return { pattern, message: state.writeMessage(payload), state };
}

export interface ServerHandshake {
  /** Noise message 2, for SECURE_ACCEPT. */
  message: Uint8Array;
  secrets: SessionSecrets;
  /** The client's stateless-reset token, or null when its pattern could not carry one. */
  clientResetToken: Uint8Array | null;
  /** The client's transport parameters: the clear ones with its optional ones from message 1. */
  clientParams: TransportParams;
}

/**
 * Answer message 1. Returns null when it does not authenticate (it was not made for this
 * server's key, or was altered). `accept(remoteStatic)` is asked before message 2 is written:
 * false refuses the client's key.
 */
export function respondToClient(
  suite: CryptoSuite,
  init: {
    cid: ConnectionId;
    params: TransportParams;
    pattern: HandshakePatternName;
    message: Uint8Array;
    staticKey: KeyPair;
    ePrivate: Uint8Array;
    serverCid: ConnectionId;
    serverParams: TransportParams;
  },
): { ok: true; handshake: ServerHandshake; remoteStatic: Uint8Array | null } | { ok: false } {
  const state = new NoiseHandshake(suite, {
    pattern: init.pattern,
    initiator: false,
    prologue: secureInitialPrologue(init.cid, init.params, init.pattern),
    ePrivate: init.ePrivate,
    s: init.staticKey,
  });
  const payload = state.readMessage(init.message);
  if (payload === null) return { ok: false };
  const hello = decodeHelloPayload(payload, firstPayloadEncrypted(init.pattern), init.params);
  if (hello === null) return { ok: false };
  const message = state.writeMessage(encodeAcceptPayload(init.serverCid, init.serverParams));
  const s = secrets(state.result(), false);
  return {
    ok: true,
    remoteStatic: s.remoteStatic,
    handshake: { message, secrets: s, clientResetToken: hello.resetToken, clientParams: hello.params },
  };
}

/** Read message 2. Null when it does not authenticate or its payload disagrees with the header. */
export function finishClientHandshake(
  hello: ClientHello,
  message: Uint8Array,
  headerScid: ConnectionId,
): { secrets: SessionSecrets; params: TransportParams } | null {
  const payload = hello.state.readMessage(message);
  if (payload === null) return null;
  const decoded = decodeAcceptPayload(payload);
  if (!decoded || decoded.scid !== headerScid) return null;
  return { secrets: secrets(hello.state.result(), true), params: decoded.params };
}

/**
 * Read message 2 on a copy of the client's state, leaving `hello` as it was whatever the
 * outcome: for an answer that must authenticate before it may change the attempt (one from
 * another address than the one dialled, docs/protocol.md §22.6).
 */
export function tryClientHandshake(
  hello: ClientHello,
  message: Uint8Array,
  headerScid: ConnectionId,
): { secrets: SessionSecrets; params: TransportParams } | null {
  return finishClientHandshake({ ...hello, state: hello.state.fork() }, message, headerScid);
}
