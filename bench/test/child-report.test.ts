import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { BenchChild, benchChildScript, getChildRuntime, setChildRuntime, SkipError } from '../lib/spawn.js';
import { BENCH_DIR } from '../lib/paths.js';

/**
 * How a benchmark child's reports reach the parent (bench/lib/child-protocol.ts): these spawn
 * real processes (about a second each for tsx), unlike the rest of bench/test.
 *
 * The stop 25 "stalled" bulk run: under `--trace-deopt-verbose` the receiver's result line was
 * written to stdout right after half a V8 trace line, so the parent never saw a line starting
 * with the prefix and waited forever; and a report that does not fit in a non-blocking stdout
 * pipe is dropped by the `process.exit()` that follows it.
 */
const children: BenchChild[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.killAndWait()));
});

function child(spec: ConstructorParameters<typeof BenchChild>[0], o: ConstructorParameters<typeof BenchChild>[1]): BenchChild {
  const c = new BenchChild(spec, o);
  children.push(c);
  return c;
}

describe('benchmark child reports', () => {
  it('arrive whatever the child prints on stdout: half a trace line before each, a full pipe before exit', async () => {
    const c = child(
      { contender: 'reliable-dgram', role: 'bulkSender', options: {} },
      { timeoutMs: 30_000, label: 'noisy child', script: path.join(BENCH_DIR, 'test/fixtures/noisy-child.ts') },
    );
    expect(await c.ready).toEqual({ port: 4242 });
    expect(await c.result).toEqual({ bytes: 100 });
  });

  it('a child that never reports is asked for its status, which the timeout error carries', async () => {
    // A bulk receiver with no sender: it waits for bytes that never come.
    const c = child({ contender: 'reliable-dgram', role: 'bulkReceiver', options: { host: '127.0.0.1', bytes: 1000 } }, { timeoutMs: 4000, label: 'lonely receiver' });
    expect((await c.ready).port).toBeGreaterThan(0);
    const err = await c.result.then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^lonely receiver: timed out after 4000 ms; its status: /);
    const status = JSON.parse(err!.message.slice(err!.message.indexOf('{'))) as Record<string, unknown>;
    expect(status).toMatchObject({ phase: 'running', contender: 'reliable-dgram', role: 'bulkReceiver', bytes: 0, expected: 1000, connection: null });
  });

  it('a child that times out before it answers SIGUSR2 is not signalled (the signal would end it) and times out as such', async () => {
    // Before: the parent signalled at its timeout, the child died of it ("exited (SIGUSR2)").
    const c = child({ contender: 'reliable-dgram', role: 'bulkReceiver', options: {} }, { timeoutMs: 300, label: 'slow starter', script: path.join(BENCH_DIR, 'test/fixtures/slow-start-child.ts') });
    const err = await c.result.then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toBe('slow starter: timed out after 300 ms; its status: not asked (still starting: not yet answering SIGUSR2)');
  });

  it('bench/child.ts runs as plain node from its esbuild bundle, every contender alike, unless asked for tsx', async () => {
    if (!process.env.BENCH_CHILDREN) expect(getChildRuntime()).toBe('bundle');
    setChildRuntime('bundle');
    expect(benchChildScript()).toMatchObject({ tsx: false, script: expect.stringMatching(/\/bench\/\.build\/child-\d+\/child\.mjs$/) });
    const c = child({ contender: 'reliable-dgram', role: 'bulkReceiver', options: { host: '127.0.0.1', bytes: 1000 } }, { timeoutMs: 30_000, label: 'bundled receiver' });
    await c.ready;
    expect(await c.status()).toMatchObject({ role: 'bulkReceiver', loader: 'none' });
    // The bundle loads each contender lazily, as under tsx: an unknown one is a skip, not a crash.
    const unknown = child({ contender: 'no-such', role: 'bulkReceiver', options: {} } as never, { timeoutMs: 30_000, label: 'unknown' });
    await expect(unknown.result).rejects.toBeInstanceOf(SkipError);
  });

  it('--children tsx runs bench/child.ts under tsx, as before', async () => {
    setChildRuntime('tsx');
    try {
      expect(benchChildScript()).toEqual({ script: path.join(BENCH_DIR, 'child.ts'), tsx: true });
      const c = child({ contender: 'reliable-dgram', role: 'bulkReceiver', options: { host: '127.0.0.1', bytes: 1000 } }, { timeoutMs: 30_000, label: 'tsx receiver' });
      await c.ready;
      expect(await c.status()).toMatchObject({ role: 'bulkReceiver', loader: 'tsx' });
    } finally {
      setChildRuntime('bundle');
    }
  });

  it('status requests that overlap each get the answer (one slot, overwritten, left the first to its grace period)', async () => {
    const c = child({ contender: 'reliable-dgram', role: 'bulkReceiver', options: { host: '127.0.0.1', bytes: 1000 } }, { timeoutMs: 30_000, label: 'asked twice' });
    await c.ready;
    const [a, b] = await Promise.all([c.status(), c.status()]);
    // Before, the second call took the one slot: the first got null when its grace ran out.
    expect(a).toMatchObject({ role: 'bulkReceiver', bytes: 0 });
    expect(b).toMatchObject({ role: 'bulkReceiver', bytes: 0 });
    expect(await c.status()).toMatchObject({ role: 'bulkReceiver' });
  });
});
