/**
 * One side of one benchmark run, in its own process. Spawned by bench/run.ts as
 *   node bench/.build/child-<pid>/child.mjs '<json ChildSpec>'
 * (this file bundled by esbuild, bench/lib/child-build.ts), or with `--children tsx` as
 *   node --import tsx bench/child.ts '<json ChildSpec>'
 * It plays one role of one contender and reports 'ready' (with its port) and then 'result' as
 * prefixed JSON lines on stdout. Roles that serve (ping server, idle many-clients) stay alive
 * until the parent kills them.
 */
import { answerStatusRequests, emitToParent, type ChildSpec } from './lib/child-protocol.js';
import { loadContender } from './contenders/index.js';
import { gcBetween, gcSettled, startGcLog } from './lib/measure.js';

// Leave through process.exit when the parent stops us, so --cpu-prof can write its profile.
process.on('SIGTERM', () => process.exit(0));

/** What SIGUSR2 reports (a parent that timed out waiting asks before it kills us). */
let status = (): Record<string, unknown> => ({ phase: 'starting' });
// The parent asks only once it has read the 'listening' line this sends (child-protocol.ts).
answerStatusRequests(() => status());

startGcLog();

/** Whether this process runs under tsx or as plain node (the bundle): in its status. */
const loader = process.execArgv.some((a, i, all) => a === '--import=tsx' || (a === '--import' && all[i + 1] === 'tsx')) ? 'tsx' : 'none';

/** Bulk roles: the GCs of this process during the transfer (first write or byte to the last). */
async function withGc(result: unknown): Promise<unknown> {
  if (result === null || typeof result !== 'object') return result;
  const r = result as { startAt?: number; firstAt?: number; doneAt?: number; lastAt?: number };
  const from = r.startAt ?? r.firstAt;
  const to = r.doneAt ?? r.lastAt;
  if (from === undefined || to === undefined) return result;
  await gcSettled();
  return { ...r, gc: gcBetween(from, to) };
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: child.ts <json spec>');
  const spec = JSON.parse(raw) as ChildSpec;
  const loaded = await loadContender(spec.contender);
  if (!loaded.ok) {
    emitToParent({ type: 'skip', reason: loaded.reason });
    process.exit(0);
  }
  const contender = loaded.contender;
  status = () => ({ phase: 'running', contender: spec.contender, role: spec.role, loader, ...(contender.status?.() ?? {}) });
  const ready = (info: { port: number }): void => emitToParent({ type: 'ready', port: info.port });
  const o = spec.options as never;
  let result: unknown;
  switch (spec.role) {
    case 'bulkReceiver':
      result = await withGc(await contender.bulkReceiver?.(o, ready));
      break;
    case 'bulkSender':
      result = await withGc(await contender.bulkSender?.(o));
      break;
    case 'pingServer':
      await contender.pingServer?.(o, ready);
      return; // serves until killed
    case 'pingClient':
      result = await contender.pingClient?.(o);
      break;
    case 'manyServer':
      result = await contender.manyServer?.(o, ready);
      break;
    case 'manyClients':
      result = await contender.manyClients?.(o);
      emitToParent({ type: 'result', result });
      return; // keeps its connections open (idle) until killed
  }
  if (result === undefined) {
    emitToParent({ type: 'skip', reason: `${spec.contender} has no ${spec.role} role` });
    process.exit(0);
  }
  emitToParent({ type: 'result', result });
  // Senders and clients are done. Receivers and servers stay up (their peer may still be waiting
  // for a final acknowledgement) until the parent kills them at the end of the run.
  if (spec.role === 'bulkSender' || spec.role === 'pingClient') process.exit(0);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  emitToParent({ type: 'error', message: `${message}\nits status: ${JSON.stringify(status())}` });
  process.exit(1);
});
