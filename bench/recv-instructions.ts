/**
 * The bulk receiver's instructions per datagram through the whole stack (node:dgram, the Node
 * shell, the engine), counted rather than timed: the receiver runs under valgrind, the sender
 * beside it at full speed, so the receiver's socket batches are full as in the real benchmark.
 *
 *   npx esbuild bench/recv-instructions.ts --bundle --platform=node --format=esm --outfile=/tmp/ri.mjs
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.N \
 *     node --single-threaded --perf-basic-prof /tmp/ri.mjs receiver /tmp/port <MB> &
 *   node /tmp/ri.mjs sender "$(cat /tmp/port)" <MB>
 *
 * Two sizes (e.g. 10 and 30 MB): (count2 − count1) ÷ (datagrams2 − datagrams1), the receiver's
 * datagram count printed at its exit; `--perf-basic-prof`'s map names the JIT code valgrind
 * shows as addresses. Not timed, not part of `npm run bench`; the batches, and so the ACK count,
 * depend on timing, so a repeat differs by ~1 %, not 10⁻⁵ as bench/recv-predict.ts's does.
 * The sender prints its datagram count too: bench/send-instructions.ts runs the pair the other
 * way round (the sender measured, the receiver lingering `lingerMs` after its last byte).
 */
import { copyFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createEndpoint } from '../src/index.js';

const [role, arg, mbArg] = process.argv.slice(2);
const bytes = Number(mbArg) * 1e6;
const MESSAGE = 64 * 1024;
const lingerMs = Number(process.argv[5] ?? 0);

if (role === 'receiver') {
  const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
  server.on('error', () => undefined);
  server.on('connection', (conn) => {
    conn.on('error', () => undefined);
    let received = 0;
    conn.on('message', (msg: Buffer) => {
      received += msg.length;
      if (received >= bytes) {
        const s = conn.stats();
        console.log(JSON.stringify({ received, packetsReceived: s.packetsReceived, packetsSent: s.packetsSent }));
        const keepMap = process.env.SEND_INSTRUCTIONS_MAP;
        if (keepMap) copyPerfMap(keepMap);
        // With the sender measured (bench/send-instructions.ts) the receiver stays a while, so
        // the sender's last ACKs arrive and its flush ends by itself, not by the idle timeout.
        if (lingerMs === 0) setImmediate(() => process.exit(0));
        else setTimeout(() => process.exit(0), lingerMs);
      }
    });
  });
  writeFileSync(arg!, String(server.address().port));
} else if (role === 'sender') {
  const client = await createEndpoint({ host: '127.0.0.1', port: 0 });
  client.on('error', () => undefined);
  const conn = await client.connect(Number(arg), '127.0.0.1');
  conn.on('error', () => undefined);
  const chunk = Buffer.alloc(MESSAGE, 0x61);
  let written = 0;
  while (written < bytes + MESSAGE) {
    written += MESSAGE;
    if (!conn.send(chunk)) await new Promise<void>((resolve) => conn.once('drain', resolve));
  }
  // Done when acknowledged (the receiver under valgrind may be far behind). The receiver exits
  // once it has `bytes`, so the last message's ACK may never come: the flush then ends with the
  // idle timeout's error, which only means the run is over.
  await conn.flush().catch(() => undefined);
  const s = conn.stats();
  console.log(JSON.stringify({ written, packetsSent: s.packetsSent, packetsReceived: s.packetsReceived }));
  const keepMap = process.env.SEND_INSTRUCTIONS_MAP;
  if (keepMap) copyPerfMap(keepMap);
  process.exit(0);
} else {
  throw new Error('usage: receiver <portfile> <MB> [lingerMs] | sender <port> <MB>');
}

/**
 * `--perf-basic-prof`'s map (/tmp/perf-PID.map) copied to `dest` through the descriptor V8
 * holds open (line-buffered, so complete): a cleanup of /tmp by another process cannot lose it.
 */
function copyPerfMap(dest: string): void {
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/\/perf-\d+\.map/.test(target)) {
      copyFileSync(`/proc/self/fd/${fd}`, dest);
      return;
    }
  }
}
