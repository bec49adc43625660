import { describe, expect, it } from 'vitest';
import { AddressCounts } from '../../src/core/address-counts.js';

/** The addresses AddressCounts files a shared string for. */
function sharedOf(a: AddressCounts): string[] {
  return [...(a as unknown as { shared: Map<string, string> }).shared.keys()];
}

describe('AddressCounts', () => {
  it('counts connections per address and files a shared string only while two or more share it', () => {
    const a = new AddressCounts();
    expect(a.keep('10.0.0.1')).toBe('10.0.0.1');
    a.add('10.0.0.1');
    expect(sharedOf(a)).toEqual([]);
    a.add(a.keep('10.0.0.2'));
    expect(sharedOf(a)).toEqual([]);
    for (let i = 0; i < 3; i++) a.add(a.keep('10.0.0.1'));
    expect(a.count('10.0.0.1')).toBe(4);
    expect(a.count('10.0.0.2')).toBe(1);
    expect(a.count('10.0.0.3')).toBe(0);
    expect(sharedOf(a)).toEqual(['10.0.0.1']);
    a.remove('10.0.0.1');
    a.remove('10.0.0.1');
    expect(sharedOf(a)).toEqual(['10.0.0.1']);
    a.remove('10.0.0.1');
    expect(a.count('10.0.0.1')).toBe(1);
    expect(sharedOf(a)).toEqual([]);
    a.remove('10.0.0.1');
    a.remove('10.0.0.2');
    expect([a.count('10.0.0.1'), a.count('10.0.0.2')]).toEqual([0, 0]);
  });
});
