import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnectionCore } from '../../src/core/connection.js';
import { BASE_PLPMTU } from '../../src/core/path-mtu.js';
import { NewReno } from '../../src/core/congestion/new-reno.js';
import { ENDPOINT_DEFAULTS } from '../../src/options.js';

/**
 * The defaults table of docs/protocol.md §21 (and the numbers derived from it elsewhere in the
 * document) must match the code's defaults: change one and this test names the other.
 */

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## 21. Limits and defaults'), doc.indexOf('## Appendix A'));

/** Cells of the table row whose first cell is `name`. */
function row(name: string): string[] {
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1] === name) return cells.slice(2, -1);
  }
  throw new Error(`no row '${name}' in §21`);
}

/** "1,200 B" → 1200, "4 MiB" → 4194304, "30 s" → 30000 (ms), "5 ms" → 5, "2" → 2. */
function quantity(text: string): number {
  const m = /^([\d,]+(?:\.\d+)?)\s*(B|MiB|ms|s)?\b/.exec(text.trim());
  if (!m) throw new Error(`not a quantity: ${text}`);
  const n = Number(m[1]!.replace(/,/g, ''));
  switch (m[2]) {
    case 'MiB':
      return n * 1024 * 1024;
    case 's':
      return n * 1000;
    default:
      return n;
  }
}

/** "a / b" cells hold two quantities. */
function pair(text: string): [number, number] {
  const [a, b] = text.split('/');
  return [quantity(a!), quantity(b!)];
}

describe('docs/protocol.md §21 defaults', () => {
  const d = ENDPOINT_DEFAULTS;

  it.each([
    ['maxDatagramSize', d.maxDatagramSize],
    ['receiveWindow', d.receiveWindow],
    ['maxMessageSize', d.maxMessageSize],
    ['idleTimeout', d.idleTimeout],
    ['keepAliveInterval', d.keepAliveInterval],
    ['initialRtt', d.initialRtt],
    ['maxAckDelay', d.maxAckDelay],
    ['ackEveryPackets', d.ackEveryPackets],
    ['connectTimeout', d.connectTimeout],
    ['maxPendingConnects', d.maxPendingConnects],
    ['Retired CID lifetime', d.retiredCidLifetime],
  ] as const)('%s = %s', (name, value) => {
    expect(quantity(row(name)[0]!)).toBe(value);
  });

  it('pairs', () => {
    expect(pair(row('minPto / maxPto')[0]!)).toEqual([d.minPto, d.maxPto]);
    expect(pair(row('Cookie lifetime / secret rotation')[0]!)).toEqual([d.cookieLifetime, d.cookieRotation]);
    expect(pair(row('maxConnections / per address')[0]!)).toEqual([d.maxConnections, d.maxConnectionsPerAddress]);
  });

  it('stateless reset rate', () => {
    expect(row('Stateless reset rate')[0]).toBe(`≤ 1 per ${d.statelessResetInterval} ms per address`);
  });

  it('congestion controller', () => {
    const names: Record<string, string> = { bbr: 'BBR v1', newreno: 'NewReno', ledbat: 'LEDBAT', none: 'none' };
    expect(row('Congestion control')[0]!.startsWith(names[String(d.congestion)]!)).toBe(true);
    expect(row('Congestion control')[0]!.includes('paced')).toBe(d.pacing);
  });

  it('derived numbers quoted in the text', () => {
    const initialWindow = ConnectionCore.windowFragments(d.receiveWindow, d.maxDatagramSize);
    expect(row('receiveWindow')[1]).toContain(`initialWindow = ${initialWindow.toLocaleString('en-US')} fragments`);
    expect(doc).toContain(`${initialWindow.toLocaleString('en-US')} fragments for 4 MiB at 1,452 bytes`);
    // Congestion windows start at the size path-MTU discovery starts at (§2.5).
    const cwnd = new NewReno(BASE_PLPMTU).window;
    expect(doc).toContain(`(${cwnd.toLocaleString('en-US')} at 1,200)`);
    // ... and are recalculated when it moves (RFC 9002 §7.2).
    const moved = new NewReno(BASE_PLPMTU);
    moved.onMaxDatagramSizeChanged(d.maxDatagramSize);
    expect(doc).toContain(`${moved.window.toLocaleString('en-US')} at ${d.maxDatagramSize.toLocaleString('en-US')})`);
  });
});
