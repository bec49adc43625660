// The `sweepBuffersOnMainThread` endpoint option (src/node/array-buffer-sweeping.ts): off by
// default; the first endpoint that asks has V8, once per process, free dead ArrayBuffers (every
// received datagram's Buffer) on the main thread. node:v8 is mocked: the flag is process-wide.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const setFlags = vi.hoisted(() => vi.fn<(flags: string) => void>());
vi.mock('node:v8', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:v8')>();
  return { ...actual, default: { ...actual, setFlagsFromString: setFlags }, setFlagsFromString: setFlags };
});

import type { Endpoint } from '../../src/index.js';
import { createEndpoint } from '../../src/index.js';
import {
  MAIN_THREAD_SWEEPING_FLAG,
  resetArrayBufferSweepingForTests,
  sweepArrayBuffersOnMainThread,
} from '../../src/node/array-buffer-sweeping.js';
import { destroyAll } from './helpers.js';

describe('sweepBuffersOnMainThread: ArrayBuffers swept on the main thread', () => {
  const endpoints: Endpoint[] = [];
  beforeEach(() => {
    resetArrayBufferSweepingForTests();
    setFlags.mockClear();
  });
  afterEach(() => destroyAll(endpoints));

  it('the default leaves the flags alone', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0 }));
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, sweepBuffersOnMainThread: false }));
    expect(setFlags).not.toHaveBeenCalled();
  });

  it('the first endpoint that asks sets the flag, once for the process', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, sweepBuffersOnMainThread: true }));
    expect(setFlags.mock.calls).toEqual([[MAIN_THREAD_SWEEPING_FLAG]]);
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, sweepBuffersOnMainThread: true }));
    expect(setFlags).toHaveBeenCalledTimes(1);
    expect(MAIN_THREAD_SWEEPING_FLAG).toBe('--no-concurrent-array-buffer-sweeping');
  });

  it('a non-boolean sweepBuffersOnMainThread is a TypeError (ERR_INVALID_ARG_TYPE), and sets nothing', () => {
    let error: unknown;
    try {
      void createEndpoint({ host: '127.0.0.1', port: 0, sweepBuffersOnMainThread: 'yes' as unknown as boolean });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(setFlags).not.toHaveBeenCalled();
  });

  it('a runtime that refuses the flag keeps its default, and the endpoint still opens', () => {
    expect(sweepArrayBuffersOnMainThread(() => {
      throw new Error('flags are frozen');
    })).toBe(false);
    expect(sweepArrayBuffersOnMainThread(setFlags)).toBe(false);
    expect(setFlags).not.toHaveBeenCalled();
  });
});
