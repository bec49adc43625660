import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { createEndpoint } from '../src/index.js';
const [portFile, mbArg] = process.argv.slice(2);
const bytes = Number(mbArg) * 1e6;
const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
server.on('connection', (conn) => {
  let received = 0; let next = 10e6;
  conn.on('message', (msg: Buffer) => {
    received += msg.length;
    if (received >= next) {
      next += 10e6;
      const s = v8.getHeapSpaceStatistics().filter((x) => /^(new|old)_space/.test(x.space_name)).map((x) => `${x.space_name.replace('_space','')}:${(x.space_used_size/1e6).toFixed(1)}/${(x.space_size/1e6).toFixed(1)}`).join(' ');
      console.log(`@${(received/1e6).toFixed(0)}MB ${s}`);
    }
    if (received >= bytes) setImmediate(() => process.exit(0));
  });
});
writeFileSync(portFile!, String(server.address().port));
