/**
 * A stream of `--size` MiB (default 1024: 1 GiB) through createStream() + pipeline() over real
 * loopback UDP, sender and receiver in two processes (issue #12): the SHA-256 at both ends and
 * each process's peak RSS. Not part of the default suite (it takes a while):
 *
 *   node --import tsx bench/stream-file.ts [--size MiB]
 *
 * The data is generated (a counter-seeded pattern), not read from disk, so the run measures
 * the library, not the file system; memory must stay bounded whatever the size.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEndpoint, createStream, type Connection } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const size = Number(flag('size', '1024')) * 1024 * 1024;
const CHUNK = 64 * 1024;

function* pattern(total: number): Generator<Buffer> {
  const block = Buffer.alloc(CHUNK);
  for (let sent = 0, n = 0; sent < total; sent += CHUNK, n++) {
    block.writeUInt32BE(n, 0);
    block.fill(n & 0xff, 4);
    yield sent + CHUNK <= total ? Buffer.from(block) : Buffer.from(block.subarray(0, total - sent));
  }
}

const mb = (b: number): string => (b / 1048576).toFixed(1);

if (args.includes('--receiver')) {
  const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  server.on('connection', (conn: Connection) => {
    const hash = createHash('sha256');
    let bytes = 0;
    void pipeline(
      createStream(conn, { channel: 1 }),
      new Writable({
        write(c: Buffer, _e, cb) {
          hash.update(c);
          bytes += c.length;
          cb();
        },
      }),
    ).then(async () => {
      process.stdout.write(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), maxRssMiB: Number(mb(process.resourceUsage().maxRSS * 1024)) })}\n`);
      await conn.close().catch(() => {});
      await server.close();
    });
  });
} else {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--receiver'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  const nextLine = (): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => {
        const line = lines.shift();
        if (line !== undefined) resolve(line);
        else child.stdout.once('data', check);
      };
      check();
    });
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
  });
  const { port } = JSON.parse(await nextLine()) as { port: number };
  const client = await createEndpoint();
  const conn = await client.connect(port, '127.0.0.1');
  const hash = createHash('sha256');
  const start = performance.now();
  const source = Readable.from(
    (function* () {
      for (const c of pattern(size)) {
        hash.update(c);
        yield c;
      }
    })(),
  );
  await pipeline(source, createStream(conn, { channel: 1 }));
  const seconds = (performance.now() - start) / 1000;
  const receiver = JSON.parse(await nextLine()) as { bytes: number; sha256: string; maxRssMiB: number };
  const sender = { sha256: hash.digest('hex'), maxRssMiB: Number(mb(process.resourceUsage().maxRSS * 1024)) };
  await conn.close().catch(() => {});
  await client.close();
  const result = {
    sizeMiB: size / 1048576,
    seconds: Number(seconds.toFixed(2)),
    mbPerSecond: Number((size / 1e6 / seconds).toFixed(1)),
    shaEqual: receiver.sha256 === sender.sha256 && receiver.bytes === size,
    senderMaxRssMiB: sender.maxRssMiB,
    receiverMaxRssMiB: receiver.maxRssMiB,
  };
  console.log(JSON.stringify(result));
  child.kill();
}
