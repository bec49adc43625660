/**
 * Instructions per ping-pong round trip, per side, counted rather than timed: the benchmark's
 * 64-byte ping-pong over two processes on 127.0.0.1 (a server echoing, a client sending the next
 * message when the reply arrives), on the public API only, so the same file runs against any
 * older checkout. Meant to be bundled (no tsx loader thread), run with V8 single-threaded (its
 * compile jobs run on the main thread at fixed points) and counted by valgrind:
 *
 *   npx esbuild bench/trip-instructions.ts --bundle --platform=node --format=esm --outfile=/tmp/ti.mjs
 *   bench/trip-instructions.sh /tmp/ti.mjs 12000 24000     # prints both sides' counts per trip
 *
 * `node /tmp/ti.mjs server <portfile> <trips>` binds, writes its port to <portfile> and echoes
 * <trips> messages, then exits; `node /tmp/ti.mjs client <port> <trips>` runs <trips> round trips
 * and exits. Each process's count at two trip numbers, subtracted and divided by the difference,
 * is what one steady trip costs that side (start-up and most compiles cancel out).
 * Diagnostic only, not part of `npm run bench`.
 */
import { writeFileSync } from 'node:fs';
import { createEndpoint } from '../src/index.js';

const [role, arg, tripsArg] = process.argv.slice(2);
const trips = Number(tripsArg);
if (!Number.isInteger(trips) || trips < 1) throw new Error('usage: server <portfile> <trips> | client <port> <trips>');

if (role === 'server') {
  const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
  server.on('error', () => undefined);
  let echoed = 0;
  server.on('connection', (conn) => {
    conn.on('error', () => undefined);
    conn.on('message', (msg) => {
      conn.send(msg);
      // The last reply has been handed to the socket by the end of this turn's flush.
      if (++echoed === trips) setImmediate(() => process.exit(0));
    });
  });
  const address = server.address();
  if (address === null) throw new Error('not bound');
  writeFileSync(arg!, String(address.port));
} else if (role === 'client') {
  const client = await createEndpoint({ host: '127.0.0.1', port: 0 });
  client.on('error', () => undefined);
  const conn = await client.connect(Number(arg), '127.0.0.1');
  conn.on('error', () => undefined);
  const payload = Buffer.alloc(64, 0x70);
  let trip = 0;
  conn.on('message', () => {
    if (++trip === trips) process.exit(0);
    conn.send(payload);
  });
  conn.send(payload);
} else {
  throw new Error(`unknown role ${role}`);
}
