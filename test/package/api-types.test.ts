// Issue 15, points 1, 3 and 7, at the type level: a consumer program
// (test/package/fixtures/api-consumer.mts) is type-checked with tsc against the declarations the
// package ships. The declarations are emitted here from the sources with `stripInternal`, as
// tsup does for dist/ (tsup.config.ts), and `reliable-dgram` / `reliable-dgram/wire` resolve to
// them through `paths`. The fixture's `@ts-expect-error` lines pin what must NOT type-check:
// internals (`record`, `handleCoreEvent`, ...), codec names in the main entry, typos.
//
// The run-time list of exports is pinned here too: adding or removing a public name is a
// deliberate change to this list.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as library from '../../src/index.js';
import * as wire from '../../src/wire/public.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args: string[], timeout = 120_000) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(process.execPath, [tsc, ...args], { cwd: repoRoot, timeout, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: stdout + stderr });
    });
  });
}

describe('public exports', () => {
  it('the main entry exports exactly the API', () => {
    expect(Object.keys(library).sort()).toEqual([
      'AbortError',
      'Connection',
      'ENDPOINT_DEFAULTS',
      'Endpoint',
      'InvalidArgTypeError',
      'InvalidArgValueError',
      'ReliableDgramError',
      'UnknownOptionError',
      'createEndpoint',
      'createStream',
      'generateKeyPair',
      'realClock',
    ]);
  });

  it('reliable-dgram/wire exports the codec, not its low-level helpers', () => {
    const names = Object.keys(wire).sort();
    expect(names).toEqual(expect.arrayContaining(['decodePacket', 'encodePacket', 'packetSize', 'checksum', 'PROTOCOL_VERSION', 'PacketType', 'FrameType']));
    for (const internal of ['Reader', 'writeU16', 'writeU32', 'writeFrame', 'readFrames', 'seal', 'writeDataHeader', 'writeVarint']) {
      expect(names).not.toContain(internal);
    }
  });
});

describe('a consumer type-checks against the shipped declarations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reliable-dgram-api-types-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('declarations emit with stripInternal; the consumer fixture type-checks; internals do not', async () => {
    const decl = join(dir, 'decl');
    const emitConfig = join(dir, 'tsconfig.emit.json');
    writeFileSync(
      emitConfig,
      JSON.stringify({
        extends: join(repoRoot, 'tsconfig.json'),
        compilerOptions: {
          noEmit: false,
          declaration: true,
          emitDeclarationOnly: true,
          stripInternal: true,
          rootDir: join(repoRoot, 'src'),
          outDir: decl,
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
        },
        files: [join(repoRoot, 'src', 'index.ts'), join(repoRoot, 'src', 'wire', 'public.ts')],
        include: [],
      }),
    );
    const emitted = await run(['-p', emitConfig]);
    expect(emitted.output).toBe('');
    expect(emitted.code).toBe(0);

    const consumerConfig = join(dir, 'tsconfig.consumer.json');
    writeFileSync(
      consumerConfig,
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'esnext.disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
          baseUrl: dir,
          paths: {
            'reliable-dgram': [join(decl, 'index.d.ts')],
            'reliable-dgram/wire': [join(decl, 'wire', 'public.d.ts')],
          },
        },
        files: [join(repoRoot, 'test', 'package', 'fixtures', 'api-consumer.mts')],
      }),
    );
    const checked = await run(['-p', consumerConfig]);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });
});
