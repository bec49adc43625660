/**
 * What encryption adds to one round trip, without the scheduler noise of the two-process
 * ping-pong workload: server and client endpoints in this one process on 127.0.0.1, 64-byte
 * echoes one at a time, plaintext and encrypted alternately (docs/performance.md "Encryption").
 *
 *   node --import tsx bench/encrypted-pingpong.ts [--trips 3000] [--rounds 3]
 */
import { createEndpoint, generateKeyPair } from '../src/index.js';
import { createNodeSuite } from '../src/crypto/node-suite.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const TRIPS = arg('trips', 3000);
const ROUNDS = arg('rounds', 3);

async function run(secure: boolean): Promise<{ p50: number; p99: number }> {
  const keyPair = generateKeyPair();
  const server = await createEndpoint({ host: '127.0.0.1', port: 0, ...(secure ? { keyPair } : {}) });
  server.on('connection', (c) => c.on('message', (m) => c.send(m)));
  const client = await createEndpoint({ host: '127.0.0.1', port: 0 });
  const conn = await client.connect(server.address().port, '127.0.0.1', secure ? { serverKey: keyPair.publicKey } : {});
  if (conn.encrypted !== secure) throw new Error('unexpected encryption state');
  const payload = Buffer.alloc(64, 1);
  const rtts: number[] = [];
  await new Promise<void>((resolve) => {
    let start = process.hrtime.bigint();
    conn.on('message', () => {
      rtts.push(Number(process.hrtime.bigint() - start) / 1000);
      if (rtts.length === TRIPS) return resolve();
      start = process.hrtime.bigint();
      conn.send(payload);
    });
    conn.send(payload);
  });
  client.destroy();
  server.destroy();
  rtts.sort((a, b) => a - b);
  return { p50: rtts[Math.floor(TRIPS / 2)]!, p99: rtts[Math.floor(TRIPS * 0.99)]! };
}

console.log(`AEAD backend: ${createNodeSuite().aeadBackend}; ${TRIPS} trips × ${ROUNDS} rounds, µs`);
console.log('| round | plaintext p50 | encrypted p50 | plaintext p99 | encrypted p99 |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (let round = 1; round <= ROUNDS; round++) {
  const plain = await run(false);
  const sealed = await run(true);
  console.log(`| ${round} | ${plain.p50.toFixed(1)} | ${sealed.p50.toFixed(1)} | ${plain.p99.toFixed(1)} | ${sealed.p99.toFixed(1)} |`);
}
