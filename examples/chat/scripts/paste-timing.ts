/**
 * How long 20 pasted lines take through a lossy, slow path: a real server, reliable-dgram's
 * ImpairProxy (20 % loss and 50 ms each way, seeded) and a client process fed the 20 lines at
 * once; prints the time from the paste to the 20th "stored" line. `npx tsx scripts/paste-timing.ts`
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImpairProxy } from 'reliable-dgram/testing';
import { startClient, startServer } from '../test/support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'chat-paste-'));
const { proc: server, port } = await startServer(join(dir, 'chat.db'));
const results: string[] = [];
for (const [label, up, down] of [
  ['direct', null, null],
  ['20 % loss, 50 ms each way', { loss: 0.2, delay: 50 }, { loss: 0.2, delay: 50 }],
] as const) {
  let clientPort = port;
  let proxy: ImpairProxy | null = null;
  if (up && down) {
    proxy = await ImpairProxy.start({ target: { address: '127.0.0.1', port }, up, down, seed: 17, log: null });
    clientPort = proxy.address().port;
  }
  const user = label === 'direct' ? 'pasta' : 'lossy';
  const client = await startClient(user, clientPort);
  await client.command(`/register ${user} ${user}-secret`, /^(logged in as|registered)/, 30_000);
  await client.command(`/register ${user}2 ${user}-secret`, /^(logged in as|registered)/, 30_000);
  await client.command(`/login ${user} ${user}-secret`, /^(logged in as|registered)/, 30_000);
  await client.command(`/group g${user} ${user}2`, /^created/, 30_000);
  await client.command(`/open g${user}`, /plain lines now go to/, 30_000);
  const from = client.lines.length;
  const t0 = performance.now();
  client.child.stdin.write(Array.from({ length: 20 }, (_, i) => `pasted line ${i + 1}\n`).join(''));
  for (;;) {
    if (client.lines.slice(from).filter((l) => l.startsWith('stored #')).length >= 20) break;
    await client.waitFor(/^stored #/, client.lines.length, 60_000);
  }
  results.push(`${label}: 20 pasted lines stored in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  client.write('/quit');
  await client.exited;
  await proxy?.close();
}
server.kill('SIGTERM');
await server.exited;
console.log(results.join('\n'));
