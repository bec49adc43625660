import { describe, expect, it } from 'vitest';
import {
  parseDuration,
  parseHostPort,
  parseImpairArgs,
  parseProbability,
  parseRate,
  parseSize,
} from '../../src/testing/impair-args.js';

describe('impair CLI arguments', () => {
  it('parses the units people type', () => {
    expect(parseRate('10mbit')).toBe(1_250_000);
    expect(parseRate('512kbit')).toBe(64_000);
    expect(parseRate('2mbps')).toBe(2_000_000);
    expect(parseRate('1000')).toBe(1000);
    expect(parseSize('64kb')).toBe(65536);
    expect(parseSize('1mb')).toBe(1048576);
    expect(parseSize('1500')).toBe(1500);
    expect(parseDuration('10')).toBe(10);
    expect(parseDuration('10ms')).toBe(10);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseProbability('0.05')).toBe(0.05);
    expect(parseProbability('5%')).toBe(0.05);
    expect(parseHostPort('127.0.0.1:9000')).toEqual({ address: '127.0.0.1', port: 9000 });
    expect(parseHostPort('[::1]:9000')).toEqual({ address: '::1', port: 9000 });
  });

  it('rejects nonsense with a coded RangeError', () => {
    for (const bad of [() => parseRate('fast'), () => parseRate('10furlongs'), () => parseSize('-1'), () => parseDuration('soon'),
      () => parseProbability('1.5'), () => parseProbability(''), () => parseHostPort('localhost'), () => parseHostPort('h:70000')]) {
      expect(bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });

  it('builds both directions from the shared flags, with per-direction overrides', () => {
    const { options, help, quiet } = parseImpairArgs([
      '--listen', '127.0.0.1:9000', '--target', '127.0.0.1:7777',
      '--loss', '0.05', '--delay', '10', '--jitter', '2', '--keep-order', '--dup', '0.01',
      '--reorder', '0.01', '--corrupt', '0.001', '--rate', '10mbit', '--queue', '64kb',
      '--burst', '0.01,0.3', '--blackhole', '5000:2000', '--seed', '1',
      '--down-loss', '0.2', '--up-burst', '0.1,0.5,0.8', '--quiet', '--up-mtu', '1280',
    ]);
    expect(help).toBe(false);
    expect(quiet).toBe(true);
    expect(options.listen).toEqual({ address: '127.0.0.1', port: 9000 });
    expect(options.target).toEqual({ address: '127.0.0.1', port: 7777 });
    expect(options.seed).toBe(1);
    const shared = {
      delay: 10, jitter: 2, preserveOrder: true, duplicate: 0.01, reorder: 0.01, corrupt: 0.001,
      rate: 1_250_000, queue: 65536, blackhole: { up: 5000, down: 2000 },
    };
    expect(options.up).toEqual({ ...shared, loss: 0.05, burst: { enter: 0.1, exit: 0.5, loss: 0.8 }, mtu: 1280 });
    expect(options.down).toEqual({ ...shared, loss: 0.2, burst: { enter: 0.01, exit: 0.3 } });
  });

  it('needs a target, knows --help, refuses unknown flags and a queue without a rate', () => {
    expect(parseImpairArgs(['--help']).help).toBe(true);
    expect(() => parseImpairArgs([])).toThrow(/--target/);
    expect(() => parseImpairArgs(['--target', '1.2.3.4:5', '--lose', '0.1'])).toThrow(RangeError);
    expect(() => parseImpairArgs(['--target', '1.2.3.4:5', '--queue', '10kb'])).toThrow(/needs a rate/);
    expect(() => parseImpairArgs(['--target', '1.2.3.4:5', '--mtu', '1.5k'])).toThrow(/datagram size/);
    expect(() => parseImpairArgs(['--target', '1.2.3.4:5', '--seed', 'x'])).toThrow(/--seed/);
    expect(() => parseImpairArgs(['--target', '1.2.3.4:5', '--up-loss', '2'])).toThrow(/--up-loss/);
    expect(parseImpairArgs(['--target', '1.2.3.4:5']).options.listen).toEqual({ address: '127.0.0.1', port: 0 });
  });
});
