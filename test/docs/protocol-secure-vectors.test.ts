import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeVectors } from './secure-vectors.js';
import { messageOverhead } from '../../src/core/secure/noise.js';
import { ACCEPT_PAYLOAD_SIZE, encodeSecurePacket } from '../../src/wire/secure.js';
import { DEFAULT_PROTECTION_CONFIG } from '../../src/core/secure/packet-protection.js';
import { REPLAY_WINDOW } from '../../src/core/secure/replay-window.js';
import { ENDPOINT_DEFAULTS } from '../../src/options.js';

/**
 * docs/protocol.md Appendix C must be what the reference code computes from the documented fixed
 * keys: every `<!-- vector: NAME -->` block, and the CRCs quoted inline.
 */
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const vectors = computeVectors();
/** The document with every run of whitespace made one space (prose wraps anywhere). */
const flat = doc.replace(/\s+/g, ' ');

function blocks(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of markdown.matchAll(/<!-- vector: ([a-z0-9-]+) -->\n```hex\n([\s\S]*?)\n```/g)) {
    if (out.has(m[1]!)) throw new Error(`vector ${m[1]} twice`);
    out.set(m[1]!, m[2]!.replace(/\s+/g, ''));
  }
  return out;
}

describe('docs/protocol.md encryption test vectors', () => {
  const documented = blocks(doc);

  it('lists every computed vector (the CRCs inline), and nothing else', () => {
    const expected = Object.keys(vectors).filter((k) => !k.endsWith('-crc')).sort();
    expect([...documented.keys()].sort()).toEqual(expected);
  });

  it.each(Object.keys(vectors).filter((k) => !k.endsWith('-crc')))('%s matches the reference code', (name) => {
    expect(documented.get(name)).toBe(vectors[name]);
  });

  it('quotes the CRC of each SECURE_INITIAL', () => {
    for (const p of ['nk', 'ik']) expect(flat).toContain(`CRC-32 \`${vectors[`${p}-secure-initial-crc`]}\``);
  });

  it('the sizes quoted add up: SECURE_ACCEPT of NK/IK 114 bytes, of NX/IX 162 (+6 with maxMessageSize), REFUSE 31', () => {
    expect(vectors['nk-secure-accept']!.length / 2).toBe(114 + 6);
    expect(vectors['ik-secure-accept']!.length / 2).toBe(114 + 6);
    const [, nx2] = messageOverhead('NX');
    expect(2 + 8 + 8 + 2 + nx2 + ACCEPT_PAYLOAD_SIZE + 4).toBe(162);
    expect(encodeSecurePacket({ type: 'refuse', dcid: 1n, token: new Uint8Array(16), reason: 1 }).length).toBe(31);
    expect(flat).toContain('for NK and IK the datagram is 114 bytes, for NX and IX 162 bytes; the reference\'s maxMessageSize adds 6');
    expect(flat).toContain('31 bytes, smaller than its 1,200-byte trigger');
  });

  it("the encryption rows of §21 are the code's defaults", () => {
    expect(ENDPOINT_DEFAULTS.keyUpdateInterval).toBe(DEFAULT_PROTECTION_CONFIG.keyUpdateInterval);
    expect(flat).toContain(`| keyUpdateInterval | ${DEFAULT_PROTECTION_CONFIG.keyUpdateInterval / 1000} s |`);
    expect(DEFAULT_PROTECTION_CONFIG.keyUpdatePackets).toBe(2 ** 23);
    expect(flat).toContain('| Key update after | 2^23 packets under one key |');
    expect(flat).toContain(`| Previous receive key kept | ${DEFAULT_PROTECTION_CONFIG.keyRetain / 1000} s after the first packet under the new key |`);
    expect(flat).toContain(`| Replay window | ${REPLAY_WINDOW.toLocaleString('en-US')} packet numbers below the largest authenticated |`);
  });
});
