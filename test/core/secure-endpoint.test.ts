import { describe, expect, it } from 'vitest';
import type { EndpointConnection, EndpointEvent } from '../../src/core/endpoint.js';
import type { CryptoSuite } from '../../src/core/secure/suite.js';
import { createNodeSuite } from '../../src/crypto/node-suite.js';
import { Rng } from '../../src/testing/rng.js';
import { encodePacket, expand32, verifyChecksum } from '../../src/wire/index.js';
import { SecurePacketType, decodeSecurePacket, encodeSecurePacket } from '../../src/wire/secure.js';
import { VirtualNet, endpointConfig, type Node, type Wire } from './endpoint-harness.js';

/**
 * The secure handshake and packet protection inside EndpointCore, on the virtual-time network:
 * what goes on the wire, what an attacker can and cannot do, and key updates under loss.
 */
const SERVER = '10.0.0.2';
const CLIENT = '10.0.0.1';

/** A suite that counts X25519 operations (the expensive part a spoofed source must not trigger). */
function countingSuite(): CryptoSuite & { dh: number } {
  const inner = createNodeSuite();
  const suite = {
    ...inner,
    dh: 0,
    x25519(priv: Uint8Array, pub: Uint8Array) {
      suite.dh++;
      return inner.x25519(priv, pub);
    },
  };
  return suite;
}

const serverKeys = (() => {
  const privateKey = new Rng(77).bytes(32);
  return { privateKey, publicKey: createNodeSuite().x25519Public(privateKey) };
})();

function setup(options: { latency?: number; client?: Parameters<typeof endpointConfig>[0]; server?: Parameters<typeof endpointConfig>[0] } = {}) {
  const net = new VirtualNet(options.latency ?? 5);
  const serverSuite = countingSuite();
  const server = net.add(SERVER, endpointConfig({ keyPair: serverKeys, ...options.server }), 1, 4000, serverSuite);
  const client = net.add(CLIENT, endpointConfig(options.client), 2, 5000, createNodeSuite());
  return { net, server, client, serverSuite };
}

function connected(node: Node): EndpointConnection | undefined {
  const ev = node.events.find((e) => e.type === 'connected');
  return ev?.type === 'connected' ? ev.connection : undefined;
}
function accepted(node: Node): EndpointConnection[] {
  return node.events.flatMap((e) => (e.type === 'accepted' ? [e.connection] : []));
}
function failure(node: Node): string | undefined {
  const ev = node.events.find((e): e is Extract<EndpointEvent, { type: 'connect-failed' }> => e.type === 'connect-failed');
  return ev?.error.code;
}
function messages(node: Node): string[] {
  return node.events.flatMap((e) =>
    e.type === 'connection-event' && e.event.type === 'message' ? [Buffer.from(e.event.data).toString()] : [],
  );
}
const typeOf = (w: Wire): number => w.data[1]!;

function connect(net: VirtualNet, client: Node, serverKey: Uint8Array | null = serverKeys.publicKey): EndpointConnection {
  expect(client.core.connect(net.now, SERVER, 4000, serverKey ? { serverKey } : {}).ok).toBe(true);
  net.run(net.now + 5000, () => connected(client) !== undefined || failure(client) !== undefined);
  return connected(client)!;
}

function send(node: Node, c: EndpointConnection, text: string): void {
  c.core.send(new TextEncoder().encode(text));
  node.core.touch(c);
}

describe('EndpointCore secure handshake', () => {
  it('SECURE_INITIAL → RETRY → SECURE_INITIAL(cookie) → SECURE_ACCEPT, then only PROTECTED packets, no plaintext on the wire', () => {
    const { net, server, client } = setup();
    const c = connect(net, client);
    expect(c.encrypted).toBe(true);
    expect(Buffer.from(c.remotePublicKey!).equals(Buffer.from(serverKeys.publicKey))).toBe(true);
    expect(net.log.slice(0, 4).map(typeOf)).toEqual([
      SecurePacketType.SecureInitial,
      0x02, // RETRY
      SecurePacketType.SecureInitial,
      SecurePacketType.SecureAccept,
    ]);
    expect(net.log[0]!.data.length).toBe(1200);
    send(client, c, 'a secret only the server may read');
    net.run(net.now + 2000, () => messages(server).length > 0);
    expect(messages(server)).toEqual(['a secret only the server may read']);
    const s = accepted(server)[0]!;
    send(server, s, 'and the answer');
    net.run(net.now + 2000, () => messages(client).length > 0);
    expect(messages(client)).toEqual(['and the answer']);
    const after = net.log.slice(4);
    expect(after.length).toBeGreaterThan(0);
    for (const w of after) expect([SecurePacketType.Protected, SecurePacketType.ProtectedPhase1]).toContain(typeOf(w));
    for (const w of net.log) expect(Buffer.from(w.data).includes(Buffer.from('secret'))).toBe(false);
    expect(server.core.stats().dropped.decrypt).toBe(0);
  });

  it('spoofed SECURE_INITIALs (no cookie, bad cookie, many ports) cost no X25519 and create no state', () => {
    const { net, server, serverSuite } = setup();
    // A real client's first SECURE_INITIAL, replayed from other ports with and without a cookie.
    const probe = setup();
    probe.client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    probe.net.flush();
    const first = decodeSecurePacket(probe.net.log[0]!.data);
    if (!first.ok || first.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    const badCookie = encodeSecurePacket({ ...first.value, cookie: new Uint8Array(20).fill(9) });
    let received = 0;
    for (let port = 1000; port < 1300; port++) {
      for (const d of [probe.net.log[0]!.data, badCookie]) {
        net.inject('10.9.9.9', port, server, d);
        received += d.length;
      }
    }
    net.flush();
    expect(serverSuite.dh).toBe(0);
    expect(server.core.connectionCount).toBe(0);
    const sent = net.log.reduce((n, w) => n + w.data.length, 0);
    expect(sent).toBeLessThan(received / 3);
    expect(server.core.stats().dropped['bad-cookie']).toBe(300);
  });

  it('a lost SECURE_ACCEPT is repeated byte for byte, without a second Diffie-Hellman', () => {
    const { net, server, client, serverSuite } = setup();
    let dropped = 0;
    net.filter = (w) => !(typeOf(w) === SecurePacketType.SecureAccept && dropped++ === 0);
    const c = connect(net, client);
    expect(c).toBeDefined();
    const accepts = net.log.filter((w) => typeOf(w) === SecurePacketType.SecureAccept);
    expect(accepts.length).toBe(2);
    expect(Buffer.from(accepts[0]!.data).equals(Buffer.from(accepts[1]!.data))).toBe(true);
    // NK: es and ee on the server, once.
    expect(serverSuite.dh).toBe(2);
    expect(server.core.connectionCount).toBe(1);
  });

  it('a client pinning another key fails with ERR_AUTHENTICATION_FAILED, and the server keeps nothing', () => {
    const { net, server, client } = setup();
    const other = createNodeSuite().x25519Public(new Rng(5).bytes(32));
    expect(connect(net, client, other)).toBeUndefined();
    expect(failure(client)).toBe('ERR_AUTHENTICATION_FAILED');
    expect(server.core.stats().dropped['handshake-failed']).toBe(1);
    expect(server.core.connectionCount).toBe(0);
  });

  it('a forged REFUSE (wrong token) or a plaintext ACCEPT does not downgrade: the client waits for the real server', () => {
    const { net, server, client } = setup();
    client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    net.flush();
    const hello = decodeSecurePacket(net.log[0]!.data);
    if (!hello.ok || hello.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    net.inject(SERVER, 4000, client, encodeSecurePacket({ type: 'refuse', dcid: hello.value.scid, token: new Uint8Array(16), reason: 2 }));
    net.flush();
    expect(client.core.stats().dropped['bad-reset-token']).toBe(1);
    net.run(5000, () => connected(client) !== undefined);
    expect(connected(client)?.encrypted).toBe(true);
    expect(server.core.connectionCount).toBe(1);
  });

  it('a forged SECURE_ACCEPT or plaintext ACCEPT from the dialled address does not end the attempt: dropped, counted, and the real answer still connects', () => {
    const { net, server, client } = setup();
    client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    net.flush();
    const hello = decodeSecurePacket(net.log[0]!.data);
    if (!hello.ok || hello.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    const cid = hello.value.scid;
    // Whoever saw the CID answers first, from the server's address: message 2 made for no key
    // of ours, and a plaintext ACCEPT (a downgrade).
    net.inject(SERVER, 4000, client, encodeSecurePacket({ type: 'secure-accept', dcid: cid, scid: 77n, noise: new Uint8Array(96).fill(5) }));
    net.inject(SERVER, 4000, client, encodePacket({ type: 'accept', dcid: cid, scid: 78n, params: hello.value.params }));
    net.flush();
    expect(failure(client)).toBeUndefined();
    expect(client.core.pendingConnectCount).toBe(1);
    expect(client.core.stats().dropped['handshake-failed']).toBe(1);
    expect(client.core.stats().dropped.unencrypted).toBe(1);
    net.run(5000, () => connected(client) !== undefined || failure(client) !== undefined);
    expect(failure(client)).toBeUndefined();
    expect(connected(client)?.encrypted).toBe(true);
    expect(connected(client)?.remoteCid).not.toBe(77n);
    expect(server.core.connectionCount).toBe(1);
  });

  it('a burst of forged RETRYs from the dialled address does not use up a secure attempt either', () => {
    const { net, server, client } = setup();
    client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    net.flush();
    const hello = decodeSecurePacket(net.log[0]!.data);
    if (!hello.ok || hello.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    for (let i = 0; i < 3; i++) net.inject(SERVER, 4000, client, encodePacket({ type: 'retry', dcid: hello.value.scid, cookie: new Uint8Array(20).fill(i + 1) }));
    net.run(8000, () => connected(client) !== undefined || failure(client) !== undefined);
    expect(connected(client)?.encrypted).toBe(true);
    expect(net.now).toBeLessThan(500);
    expect(server.core.connectionCount).toBe(1);
  });

  it('answers that never authenticate fail the connect at connectTimeout, with ERR_AUTHENTICATION_FAILED naming them', () => {
    const { net, client } = setup({ client: { connectTimeout: 3000 } });
    // The real server is unreachable; a forger answers each SECURE_INITIAL it sees.
    net.filter = (w) => w.from !== CLIENT;
    client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    net.flush();
    const hello = decodeSecurePacket(net.log[0]!.data);
    if (!hello.ok || hello.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    for (let i = 0; i < 3; i++) {
      net.inject(SERVER, 4000, client, encodeSecurePacket({ type: 'secure-accept', dcid: hello.value.scid, scid: 77n, noise: new Uint8Array(96).fill(i) }));
    }
    net.run(10_000, () => failure(client) !== undefined);
    expect(failure(client)).toBe('ERR_AUTHENTICATION_FAILED');
    expect(net.now).toBeGreaterThanOrEqual(3000);
    const f = client.events.find((e) => e.type === 'connect-failed');
    expect(f?.type === 'connect-failed' && f.error.message).toContain('3 answers from there did not');
    expect(client.core.stats().dropped['handshake-failed']).toBe(3);
  });

  it('with no answer at all the connect still fails with ERR_CONNECTION_TIMEOUT', () => {
    const { net, client } = setup({ client: { connectTimeout: 3000 } });
    net.filter = (w) => w.from !== CLIENT;
    client.core.connect(0, SERVER, 4000, { serverKey: serverKeys.publicKey });
    net.run(10_000, () => failure(client) !== undefined);
    expect(failure(client)).toBe('ERR_CONNECTION_TIMEOUT');
  });

  it('a plaintext client is refused by a server that requires encryption (a refusal it believes)', () => {
    const { net, server, client } = setup();
    expect(connect(net, client, null)).toBeUndefined();
    expect(failure(client)).toBe('ERR_CONNECTION_REFUSED');
    expect(server.core.stats().dropped.unencrypted).toBe(1);
  });
});

describe('EndpointCore packet protection', () => {
  it('the injection attack: DATA, RESET and CLOSE with the live CID from another port change nothing', () => {
    const { net, server, client } = setup();
    const c = connect(net, client);
    const s = accepted(server)[0]!;
    const forged = [
      encodePacket({ type: 'data', dcid: s.localCid, packetNumber: 1, frames: [{ type: 'reset', code: 7, reason: 'injected' }] }),
      encodePacket({ type: 'data', dcid: s.localCid, packetNumber: 2, frames: [{ type: 'close' }] }),
      encodePacket({ type: 'data', dcid: s.localCid, packetNumber: 3, frames: [{ type: 'data', tsn: 0, first: true, last: true, unordered: false, payload: new TextEncoder().encode('evil') }] }),
    ];
    // The same bytes dressed as PROTECTED packets: they do not authenticate either.
    const dressed = forged.map((d) => {
      const p = Uint8Array.from(d);
      p[1] = SecurePacketType.Protected;
      return p;
    });
    for (const d of [...forged, ...dressed]) net.inject('10.6.6.6', 31337, server, d);
    for (const d of [...forged, ...dressed]) net.inject(CLIENT, 5000, server, d);
    net.flush();
    expect(server.core.stats().dropped.decrypt).toBe(12);
    expect(s.core.state).toBe('open');
    send(client, c, 'still here');
    net.run(net.now + 2000, () => messages(server).length > 0);
    expect(messages(server)).toEqual(['still here']);
  });

  it('a replayed or altered PROTECTED packet is dropped and counted; the data arrives once', () => {
    const { net, server, client } = setup();
    const c = connect(net, client);
    let captured: Uint8Array | null = null;
    let flipped = false;
    net.filter = (w) => {
      if (w.to !== SERVER || typeOf(w) !== SecurePacketType.Protected) return true;
      if (captured === null) {
        captured = Uint8Array.from(w.data);
      } else if (!flipped) {
        // Alter one byte of the next packet in flight (the engine will resend its data).
        flipped = true;
        w.data = Uint8Array.from(w.data);
        w.data[w.data.length - 20]! ^= 0x40;
      }
      return true;
    };
    send(client, c, 'once');
    net.run(net.now + 3000, () => messages(server).length >= 1);
    send(client, c, 'twice');
    net.run(net.now + 3000, () => messages(server).length >= 2);
    expect(flipped).toBe(true);
    net.inject(CLIENT, 5000, server, captured!);
    net.inject(CLIENT, 5000, server, captured!.subarray(0, captured!.length - 1));
    net.flush();
    expect(messages(server)).toEqual(['once', 'twice']);
    // Both carry a packet number already accepted: the replay window rejects them before any AEAD work.
    expect(server.core.stats().dropped.replay).toBe(2);
    // The altered packet failed its tag.
    expect(server.core.stats().dropped.decrypt).toBe(1);
  });

  it('the engine computes no CRC-32 for a packet that protection seals (the tag replaces it); plaintext packets keep theirs', () => {
    const { net, server, client } = setup();
    const c = connect(net, client);
    const s = accepted(server)[0]!;
    // What the engine hands to packet protection: header, frames and a trailer that is never sent.
    const trailers: number[] = [];
    for (const p of [c.protection!, s.protection!]) {
      const seal = p.seal.bind(p);
      p.seal = (now, plain) => {
        trailers.push(Buffer.from(plain.subarray(plain.length - 4)).readUInt32BE(0));
        return seal(now, plain);
      };
    }
    for (let i = 0; i < 20; i++) send(client, c, `m${i} `.repeat(100));
    net.run(net.now + 3000, () => messages(server).length >= 20);
    expect(messages(server)).toHaveLength(20);
    expect(trailers.length).toBeGreaterThanOrEqual(5);
    expect(trailers.every((t) => t === 0)).toBe(true);
    // A plaintext connection's datagrams still carry their checksum.
    const plain = new VirtualNet(5);
    const ps = plain.add(SERVER, endpointConfig(), 1, 4000, createNodeSuite());
    const pc = plain.add(CLIENT, endpointConfig(), 2, 5000, createNodeSuite());
    expect(pc.core.connect(plain.now, SERVER, 4000).ok).toBe(true);
    plain.run(plain.now + 5000, () => connected(pc) !== undefined);
    send(pc, connected(pc)!, 'hello');
    plain.run(plain.now + 3000, () => messages(ps).length >= 1);
    const data = plain.log.filter((w) => w.data[1] === 0x04);
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((w) => verifyChecksum(w.data))).toBe(true);
  });

  it('keys update every 30 packets through 10% loss and reordering; no packet number (nonce) is ever reused per direction', () => {
    const { net, server, client } = setup({
      client: { protection: { keyUpdatePackets: 30 } },
      server: { keyPair: serverKeys, protection: { keyUpdatePackets: 30 } },
    });
    const c = connect(net, client);
    const rng = new Rng(99);
    const held: Wire[] = [];
    net.filter = (w) => {
      if (w.data[1]! < SecurePacketType.Protected) return true;
      const r = rng.next();
      if (r < 0.1) return false;
      if (r < 0.2) {
        held.push(w);
        return false;
      }
      return true;
    };
    const texts = Array.from({ length: 60 }, (_, i) => `message ${i} `.repeat(200));
    for (const t of texts) send(client, c, t);
    for (let round = 0; round < 2000 && messages(server).length < texts.length; round++) {
      net.run(net.now + 7);
      // Deliver the held packets late and in reverse: reordering across key phases.
      for (const w of held.splice(0).reverse()) {
        const to = w.to === SERVER ? server : client;
        net.inject(w.from, w.fromPort, to, w.data);
      }
    }
    expect(messages(server)).toEqual(texts);
    const s = accepted(server)[0]!;
    expect(c.protection!.stats().keyGeneration).toBeGreaterThanOrEqual(3);
    expect(Math.abs(c.protection!.stats().keyGeneration - s.protection!.stats().keyGeneration)).toBeLessThanOrEqual(1);
    // Every PROTECTED packet a side sent has a new packet number: a nonce is never reused.
    for (const from of [CLIENT, SERVER]) {
      let last = -1;
      for (const w of net.log) {
        if (w.from !== from || w.data[1]! < SecurePacketType.Protected) continue;
        const pn = expand32(((w.data[10]! << 24) | (w.data[11]! << 16) | (w.data[12]! << 8) | w.data[13]!) >>> 0, last + 1);
        expect(pn).toBeGreaterThan(last);
        last = pn;
      }
    }
    expect(server.core.stats().dropped['internal-error'] + client.core.stats().dropped['internal-error']).toBe(0);
  });

  it('a stateless reset still needs the secret token, which never travels in clear', () => {
    const { net, server, client } = setup();
    const c = connect(net, client);
    const s = accepted(server)[0]!;
    // The token the server gave the client came inside the encrypted SECURE_ACCEPT payload.
    const token = c.remoteResetToken;
    for (const w of net.log) expect(Buffer.from(w.data).includes(Buffer.from(token))).toBe(false);
    // The client's token likewise (it went inside the encrypted Noise payload of message 1).
    for (const w of net.log) expect(Buffer.from(w.data).includes(Buffer.from(s.remoteResetToken))).toBe(false);
    net.inject(SERVER, 4000, client, encodePacket({ type: 'stateless-reset', dcid: s.localCid, token: new Uint8Array(16) }));
    net.flush();
    expect(c.closed).toBe(false);
    net.inject(SERVER, 4000, client, encodePacket({ type: 'stateless-reset', dcid: s.localCid, token }));
    net.flush();
    expect(c.closed).toBe(true);
  });
});

describe('EndpointCore secure handshake: answers from another address (docs/protocol.md §22.6)', () => {
  const ALT = '10.0.0.9';

  /** The client's SECURE_INITIAL: its CID and the refusal token its clear parameters carry. */
  function dialled(net: VirtualNet, client: Node): { cid: bigint; refusalToken: Uint8Array } {
    expect(client.core.connect(net.now, SERVER, 4000, { serverKey: serverKeys.publicKey }).ok).toBe(true);
    net.flush();
    const hello = decodeSecurePacket(net.log[net.log.length - 1]!.data);
    if (!hello.ok || hello.value.type !== 'secure-initial') throw new Error('no SECURE_INITIAL');
    return { cid: hello.value.scid, refusalToken: hello.value.params.resetToken };
  }

  it('no unauthenticated answer from elsewhere fails the attempt, even one carrying the CID and the refusal token: it then connects to the dialled server', () => {
    const { net, server, client } = setup();
    const { cid, refusalToken } = dialled(net, client);
    const forged = [
      encodePacket({ type: 'retry', dcid: cid, cookie: new Uint8Array(20).fill(3) }),
      encodePacket({ type: 'version-negotiation', dcid: cid, versions: [7] }),
      encodePacket({ type: 'stateless-reset', dcid: cid, token: refusalToken }),
      encodeSecurePacket({ type: 'refuse', dcid: cid, token: refusalToken, reason: 1 }),
      encodeSecurePacket({ type: 'secure-accept', dcid: cid, scid: 77n, noise: new Uint8Array(96).fill(5) }),
    ];
    for (const [from, port] of [[ALT, 4000], [SERVER, 4001]] as const) {
      for (const d of forged) net.inject(from, port, client, d);
    }
    net.flush();
    expect(failure(client)).toBeUndefined();
    expect(client.core.pendingConnectCount).toBe(1);
    expect(client.core.stats().dropped['handshake-failed']).toBe(2);
    // The forged RETRYs moved one SECURE_INITIAL each to the dialled server (with their cookie),
    // and changed nothing of the attempt: the real handshake completes, on the Noise state the
    // forged SECURE_ACCEPTs were tried on copies of.
    net.run(5000, () => connected(client) !== undefined || failure(client) !== undefined);
    expect(failure(client)).toBeUndefined();
    expect(connected(client)?.encrypted).toBe(true);
    expect(server.core.stats().dropped['bad-cookie']).toBe(2);
    expect(server.core.connectionCount).toBe(1);
  });

  it('a server that answers from another address fails the connect with ERR_ADDRESS_MISMATCH once its SECURE_ACCEPT authenticates, long before connectTimeout', () => {
    const { net, server, client } = setup();
    // The server's datagrams leave from ALT (a host with several addresses, bound to all).
    const rerouted: Wire[] = [];
    net.filter = (w) => w.from !== SERVER || (rerouted.push(w), false);
    const { cid } = dialled(net, client);
    // First a forged SECURE_ACCEPT from ALT too: dropped, the attempt unchanged.
    net.inject(ALT, 4000, client, encodeSecurePacket({ type: 'secure-accept', dcid: cid, scid: 77n, noise: new Uint8Array(96).fill(5) }));
    for (let step = 0; step < 50 && failure(client) === undefined; step++) {
      net.run(net.now + 5);
      for (const w of rerouted.splice(0)) net.inject(ALT, w.fromPort, client, w.data);
      net.flush();
    }
    expect(failure(client)).toBe('ERR_ADDRESS_MISMATCH');
    const f = client.events.find((e) => e.type === 'connect-failed');
    expect(f?.type === 'connect-failed' && f.error.message).toContain(`answered from ${ALT}:4000`);
    expect(net.now).toBeLessThan(100);
    expect(client.core.stats().dropped['handshake-failed']).toBe(1);
    expect(client.core.pendingConnectCount).toBe(0);
    // The connection the server now holds is ended by one sealed RESET to the dialled address,
    // not left to the server's idle timeout.
    expect(accepted(server)).toHaveLength(1);
    const last = net.log.filter((w) => w.from === CLIENT).at(-1)!;
    expect(last.to).toBe(SERVER);
    expect(typeOf(last)).toBe(SecurePacketType.Protected);
    net.run(net.now + 50);
    expect(server.core.connectionCount).toBe(0);
    expect(server.core.stats().dropped.decrypt).toBe(0);
  });

  it('a verifyPeer that rejects the key of an answer from elsewhere leaves the attempt running', () => {
    const asked: string[] = [];
    const { net, client } = setup({ client: { verifyPeer: (_key, address, port) => (asked.push(`${address}:${port}`), false) } });
    const rerouted: Wire[] = [];
    net.filter = (w) => w.from !== SERVER || (rerouted.push(w), false);
    dialled(net, client);
    for (let step = 0; step < 50; step++) {
      net.run(net.now + 5);
      for (const w of rerouted.splice(0)) net.inject(ALT, w.fromPort, client, w.data);
      net.flush();
    }
    expect(failure(client)).toBeUndefined();
    expect(client.core.pendingConnectCount).toBe(1);
    // Asked about the address dialled (the key claims to be that server's), once per SECURE_ACCEPT.
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(new Set([`${SERVER}:4000`]));
    expect(client.core.stats().dropped['peer-rejected']).toBe(asked.length);
  });
});
