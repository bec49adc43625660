/**
 * Diagnostic (issue 11, the bulk receiver's Mark-Compact loop): a bulk receiver that imports the
 * library from `RD_ENTRY` (src/index.ts under `node --import tsx`, or the tsup build dist/index.js
 * with or without tsx in the process) and prints, from its first message to its last, CPU ms/MB
 * whole and second half and the GC events by kind (scavenges, the rest: Mark-Compacts and
 * incremental marking), plus the new and old space every 10 MB. The sender is
 * bench/recv-instructions.ts's:
 *
 *   RD_ENTRY=$PWD/src/index.ts node --import tsx bench/gc-probe-receiver.mjs /tmp/port 100 &
 *   node --import tsx bench/recv-instructions.ts sender "$(cat /tmp/port)" 100
 *
 * Add `--trace-gc` (or `--trace-gc-nvp`, `--trace-incremental-marking`) to the receiver's node.
 * Not part of `npm run bench`.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
const { createEndpoint } = await import(process.env.RD_ENTRY);
const [portFile, mbArg] = process.argv.slice(2);
const bytes = Number(mbArg) * 1e6;
const server = await createEndpoint({ host: '127.0.0.1', port: 0 });
server.on('connection', (conn) => {
  let received = 0; let next = 10e6; let c0 = null; let half = null; const gcs = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push(e.detail.kind); }).observe({ entryTypes: ['gc'] });
  conn.on('message', (msg) => {
    if (c0 === null) c0 = process.cpuUsage();
    received += msg.length;
    if (half === null && received >= bytes / 2) half = process.cpuUsage();
    if (received >= next) {
      next += 10e6;
      const s = v8.getHeapSpaceStatistics().filter((x) => /^(new|old)_space/.test(x.space_name)).map((x) => `${x.space_name.replace('_space','')}:${(x.space_used_size/1e6).toFixed(1)}/${(x.space_size/1e6).toFixed(1)}`).join(' ');
      console.log(`@${(received/1e6).toFixed(0)}MB ${s}`);
    }
    if (received >= bytes) { const c = process.cpuUsage(c0); const h = process.cpuUsage(half); console.log(`RESULT cpuMsPerMB ${((c.user+c.system)/1e3/(bytes/1e6)).toFixed(2)} secondHalf ${((h.user+h.system)/1e3/(bytes/2e6)).toFixed(2)} scav ${gcs.filter((k)=>k===1).length} major ${gcs.filter((k)=>k!==1).length}`); setImmediate(() => process.exit(0)); }
  });
});
writeFileSync(portFile, String(server.address().port));
