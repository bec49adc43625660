// The `tuneV8` endpoint option (src/node/array-buffer-sweeping.ts): the first endpoint asks V8,
// once per process, to free dead ArrayBuffers (every received datagram's Buffer) on the main
// thread; `tuneV8: false` leaves V8's flags alone. node:v8 is mocked: the flag is process-wide.
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

describe('tuneV8: ArrayBuffers swept on the main thread', () => {
  const endpoints: Endpoint[] = [];
  beforeEach(() => {
    resetArrayBufferSweepingForTests();
    setFlags.mockClear();
  });
  afterEach(() => destroyAll(endpoints));

  it('the first endpoint sets the flag, once for the process', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0 }));
    expect(setFlags.mock.calls).toEqual([['--no-concurrent-array-buffer-sweeping']]);
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0 }));
    expect(setFlags).toHaveBeenCalledTimes(1);
  });

  it('tuneV8: false leaves the flags alone; a later endpoint with the default still sets it', async () => {
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0, tuneV8: false }));
    expect(setFlags).not.toHaveBeenCalled();
    endpoints.push(await createEndpoint({ host: '127.0.0.1', port: 0 }));
    expect(setFlags.mock.calls).toEqual([[MAIN_THREAD_SWEEPING_FLAG]]);
  });

  it('a non-boolean tuneV8 is a TypeError (ERR_INVALID_ARG_TYPE), and sets nothing', () => {
    let error: unknown;
    try {
      void createEndpoint({ host: '127.0.0.1', port: 0, tuneV8: 'yes' as unknown as boolean });
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
